/**
 * Issue 10, 9 and 10: the ingest function reads keys and sources from DynamoDB (cached). When
 * DynamoDB cannot be reached, a request whose key is not cached gets a 503 with Retry-After, in
 * time, never a 500: nothing was accepted and the sender's retry is safe. The outage is staged by
 * a TCP proxy in front of DynamoDB Local (the shared emulator must keep running for the others).
 */
import { segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

let proxy: TcpProxy;
let stack: TestStack;

beforeAll(async () => {
  proxy = await startTcpProxy(process.env.TEST_DYNAMODB_ENDPOINT ?? '');
  stack = await startTestStack({ dynamodbEndpoint: proxy.endpoint, startWorker: false, env: { LOOKUP_TIMEOUT_MS: '300' } });
});

afterAll(async () => {
  await proxy.restore();
  await stack.stop();
  await proxy.stop();
});

describe('DynamoDB outage during a key lookup', () => {
  it('answers 503 with Retry-After when DynamoDB refuses connections', async () => {
    await proxy.refuse();
    try {
      const response = await stack.send('/v1/track', segmentEvent('track'));

      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(response.body).toEqual({ message: 'DynamoDB did not answer in time or refused the request; nothing was accepted, retry it' });
    } finally {
      await proxy.restore();
    }
  });

  it('answers 503 within the lookup timeout when DynamoDB accepts connections and never answers', async () => {
    proxy.hang();
    try {
      const started = Date.now();
      const response = await stack.send('/v1/track', segmentEvent('track'));

      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      // The lookup timeout is 300 ms; far under Segment's 5 s, with room for a noisy machine.
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await proxy.restore();
    }
  });

  it('accepts again once DynamoDB is back', async () => {
    const response = await stack.send('/v1/track', segmentEvent('track'));

    expect(response.status).toBe(200);
  });
});
