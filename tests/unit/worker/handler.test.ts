/**
 * The worker Lambda's wiring (lib/worker/handler.ts): a configuration the worker cannot run with
 * fails at cold start, naming what is missing; the handler answers with the batch's partial
 * failures and flushes its metrics on every invocation. DynamoDB is the in-process fake (a denied
 * write is a fault DynamoDB Local cannot produce); tests/integration/worker.test.ts runs the worker
 * against DynamoDB Local.
 */
import type { Context } from 'aws-lambda';
import { ConfigError } from '../../../lib/shared/errors';
import type { Meter } from '../../../lib/shared/metrics';
import { createWorkerHandler, loadWorkerDeps } from '../../../lib/worker/handler';
import { byOperation, dynamoError, fakeDynamoDb } from '../../support/fake-dynamodb';
import { sqsEvent, sqsRecord } from '../../support/events';
import { recordsMessage } from '../../support/records';
import { HASH_KEY, recordingLog, TABLES } from '../../support/worker-run';

function countingMeter(): Meter & { latencies: number[]; flushes: number } {
  const meter = {
    latencies: [] as number[],
    flushes: 0,
    count() {},
    latency: (ms: number) => void meter.latencies.push(ms),
    flush: () => void meter.flushes++,
  };
  return meter;
}

describe('loadWorkerDeps', () => {
  it('refuses at cold start an environment without ERASURE_HASH_KEY and QUEUE_URL, naming both', () => {
    // Prepare
    const env = { STAGE: 'test', AWS_REGION: 'us-east-1' };

    // Act
    const loading = () => loadWorkerDeps(env);

    // Assess
    expect(loading).toThrow(ConfigError);
    expect(loading).toThrow(/ERASURE_HASH_KEY is required by the worker.*QUEUE_URL is required by the worker/);
  });

  it('builds the worker from an environment that has both', () => {
    // Prepare
    const env = {
      STAGE: 'test',
      AWS_REGION: 'us-east-1',
      ERASURE_HASH_KEY: 'a-secret-of-16-chars-or-more',
      QUEUE_URL: 'http://localhost:9324/000000000000/q',
    };

    // Act
    const deps = loadWorkerDeps(env);

    // Assess
    expect(deps.config.erasureHashKey).toBe('a-secret-of-16-chars-or-more');
    expect(deps.requeue).toBeDefined();
    expect(deps.schemas).toBeDefined();
  });
});

describe('createWorkerHandler', () => {
  it('answers with the messages whose writes DynamoDB denied, and records the latency and flushes the metrics', async () => {
    // Prepare
    const denied = () => dynamoError('AccessDeniedException');
    const fake = fakeDynamoDb(byOperation({ BatchWriteItem: denied, PutItem: denied }));
    const meter = countingMeter();
    const handler = createWorkerHandler({
      documents: fake.documents,
      writer: fake.writer,
      config: { tables: TABLES, rejectedRetentionDays: 30, writeConcurrency: 4, erasureHashKey: HASH_KEY },
      log: recordingLog(),
      meter,
    });
    const record = sqsRecord(
      recordsMessage([
        {
          kind: 'event',
          sourceId: 'src',
          receivedAt: '2026-03-01T12:00:00.000Z',
          requestId: 'req',
          event: { type: 'track', event: 'Paid', userId: 'u1', messageId: 'm-1', timestamp: '2026-03-01T11:00:00.000Z' },
        },
      ]),
    );
    const context = { getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

    // Act
    const answer = await handler(sqsEvent(record), context);

    // Assess
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(meter.latencies).toHaveLength(1);
    expect(meter.flushes).toBe(1);
  });
});
