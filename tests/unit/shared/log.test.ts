/**
 * The Powertools logger as lib/shared/log.ts builds it: once a handler adds the invocation's Lambda
 * context, every line carries the Lambda request id and the function's name, without any caller
 * threading them by hand.
 */
import type { Context } from 'aws-lambda';
import { createLogger } from '../../../lib/shared/log';

const context = {
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  functionName: 'segment-ingest-test-worker',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:segment-ingest-test-worker',
  memoryLimitInMB: '512',
  getRemainingTimeInMillis: () => 25_000,
} as unknown as Context;

describe('createLogger', () => {
  it('adds the Lambda request id and function context to every line after addContext', () => {
    // Prepare
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const log = createLogger('segment-ingest-test', 'info');

    // Act
    log.addContext?.(context);
    log.info('batch processed', { messages: 1 });
    spy.mockRestore();

    // Assess
    const line = JSON.parse(written.find((text) => text.includes('batch processed')) ?? '{}') as Record<string, unknown>;
    expect(line).toMatchObject({
      message: 'batch processed',
      messages: 1,
      function_request_id: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
      function_name: 'segment-ingest-test-worker',
    });
  });
});
