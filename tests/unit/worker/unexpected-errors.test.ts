/**
 * Bugs in a worker phase are reported as bugs (issue 20): a TypeError is counted as
 * `UnexpectedErrors` and logged once with its stack, never as a configuration error (whose runbook
 * says "check IAM"); its messages are retried like any failure. The TypeError is thrown by a client
 * stand-in in place of the SDK call (a mock: neither DynamoDB Local nor any emulator can make our
 * code throw a TypeError). The worker's own out-of-time is a `DeadlineError`.
 */
import { BatchExecuteStatementCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Meter, MetricName } from '../../../lib/shared/metrics';
import { DeadlineError } from '../../../lib/shared/retry';
import { createWorker } from '../../../lib/worker/process-batch';
import { eraseLinks } from '../../../lib/worker/profiles/erase';
import { anonymousUserKey } from '../../../lib/tables/profiles';
import { marshallItem } from '../../../lib/tables/dynamo-wire';
import { fakeDynamoDb, type Answer, type WireRequest } from '../../support/fake-dynamodb';
import { noWaitClock, steppedClock } from '../../support/clock';
import { sqsEvent, sqsRecord } from '../../support/events';
import { recordsMessage } from '../../support/records';
import { HASH_KEY, recordingLog, TABLES } from '../../support/worker-run';

function recordingMeter(): Meter & { counts: Array<[MetricName, number, readonly string[] | undefined]> } {
  const counts: Array<[MetricName, number, readonly string[] | undefined]> = [];
  return { counts, count: (name, value, dimension) => void counts.push([name, value, dimension]), latency() {}, flush() {} };
}

const identify = {
  kind: 'event' as const,
  sourceId: 'src',
  receivedAt: '2026-03-01T12:00:00.000Z',
  requestId: 'req',
  event: { type: 'identify' as const, userId: 'u1', messageId: 'm-1', timestamp: '2026-03-01T11:00:00.000Z', traits: { plan: 'pro' } },
};

/** The worker over the fake DynamoDB, with a writer whose `send` throws `bug` for the commands `breaks` picks. */
function workerWithBug(bug: Error, breaks: (command: unknown) => boolean) {
  const fake = fakeDynamoDb();
  const writer = {
    send: (command: unknown) => (breaks(command) ? Promise.reject(bug) : fake.writer.send(command as never)),
  } as unknown as DynamoDBClient;
  const log = recordingLog();
  const meter = recordingMeter();
  const process = createWorker({
    documents: fake.documents,
    writer,
    config: { tables: TABLES, rejectedRetentionDays: 30, writeConcurrency: 4, erasureHashKey: HASH_KEY },
    log,
    meter,
    clock: noWaitClock,
  });
  return { process, log, meter };
}

describe('a TypeError in a worker phase', () => {
  it.each([
    ['the writes', (command: unknown) => !(command instanceof BatchExecuteStatementCommand)],
    ['the profile phase', (command: unknown) => command instanceof BatchExecuteStatementCommand],
  ])('in %s is counted as unexpected, logged with its stack, and never as a configuration error', async (_phase, breaks) => {
    // Prepare
    const bug = new TypeError("Cannot read properties of undefined (reading 'pk')");
    const { process, log, meter } = workerWithBug(bug, breaks);
    const message = sqsRecord(recordsMessage([identify]));

    // Act
    const result = await process(sqsEvent(message));

    // Assess
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    expect(meter.counts.filter(([name]) => name === 'DependencyErrors')).toEqual([]);
    expect(meter.counts).toContainEqual(['UnexpectedErrors', 1, undefined]);
    const reported = log.lines.filter((line) => line.level === 'error');
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({
      message: 'unexpected error: a bug, not a permission or configuration problem',
      extra: { where: 'worker batch', error: { name: 'TypeError' } },
    });
    const { stack } = (reported[0]?.extra as { error: { stack: string[] } }).error;
    expect(stack[0]).toMatch(/^at .*unexpected-errors\.test\.ts/);
    expect(JSON.stringify(log.lines)).not.toMatch(/permissions|IAM/i);
  });
});

describe("the worker's own out-of-time", () => {
  it('is a DeadlineError, naming the work that ran out of time', async () => {
    // Prepare: deletions DynamoDB leaves unprocessed until the time is up.
    const link = anonymousUserKey('src', 'a-1', 'u-1');
    const fake = fakeDynamoDb((request: WireRequest): Answer => {
      if (request.operation === 'BatchGetItem') return { body: { Responses: { profiles: [marshallItem(link)] } } };
      return { body: { UnprocessedItems: { profiles: [{ DeleteRequest: { Key: marshallItem(link) } }] } } };
    });
    const store = { writer: fake.writer, table: 'profiles', clock: steppedClock(0), log: recordingLog() };

    // Act
    const erasing = eraseLinks(store, 'src', 'u-1', { anonymousIds: ['a-1'] }, 200);

    // Assess
    await expect(erasing).rejects.toBeInstanceOf(DeadlineError);
    await expect(erasing).rejects.toThrow('profile erasure ran out of time');
  });
});
