/**
 * Issue 10, 3: only a refusal of the item itself quarantines an event. A permission, credential,
 * KMS or missing-table error is not the event's fault: the message fails (SQS redelivers it, and
 * after maxReceiveCount it waits in the dead-letter queue), nothing goes to `rejected` (which
 * expires), the failure is counted for the alarm, and once the fault is gone every event is stored.
 */
import { DeleteTableCommand, DynamoDBServiceException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { provisionTables } from '../../local/provision';
import type { MetricName, Meter } from '../../lib/shared/metrics';
import { createWorker } from '../../lib/worker/process-batch';
import { noWaitClock } from '../support/clock';
import { segmentEvent, sqsEvent, sqsRecord } from '../support/events';
import { eventMessage } from '../support/records';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
});

afterAll(async () => {
  await stack.stop();
});

/** A meter that keeps what was counted, by name and dimension. */
function countingMeter(): Meter & { counts: Map<string, number> } {
  const counts = new Map<string, number>();
  return {
    counts,
    count(name: MetricName, value: number, dimension?: readonly [string, string]) {
      const key = dimension ? `${name}:${dimension[1]}` : name;
      counts.set(key, (counts.get(key) ?? 0) + value);
    },
    latency() {},
    flush() {},
  };
}

/**
 * The real batch writer, but every write fails with the error `code` while `active` is true.
 * DynamoDB Local runs without IAM, credentials or KMS, so it cannot produce these errors itself:
 * the wrapper forces them, and every other request goes to DynamoDB Local.
 */
function failingWriter(real: DynamoDBClient, code: string) {
  const state = { active: true, calls: 0 };
  const client = {
    send: async (command: { constructor: { name: string } }) => {
      if (state.active && /^(BatchWriteItem|PutItem)Command$/.test(command.constructor.name)) {
        state.calls++;
        throw new DynamoDBServiceException({
          name: code,
          $fault: 'client',
          message: 'forced by the test',
          $metadata: { httpStatusCode: 400 },
        });
      }
      return (real.send as (c: unknown) => Promise<unknown>).call(real, command);
    },
  } as unknown as DynamoDBClient;
  return { client, state };
}

async function storedFor(userId: string): Promise<number> {
  const tables = ['track', 'identify'] as const;
  const items = await Promise.all(tables.map((table) => stack.scan(table)));
  return items.flat().filter((item) => item.userId === userId).length;
}

async function rejectedFor(userId: string): Promise<Record<string, unknown>[]> {
  return (await stack.scan('rejected')).filter((item) => String(item.raw).includes(userId));
}

describe.each([
  ['AccessDeniedException', 'an IAM policy that lacks dynamodb:BatchWriteItem'],
  ['UnrecognizedClientException', 'wrong credentials'],
  ['ExpiredTokenException', 'expired credentials'],
  ['KMSAccessDeniedException', 'a KMS key the function may not use'],
  ['KMSDisabledException', 'a disabled KMS key'],
])('%s (%s)', (code) => {
  it('fails the messages, quarantines nothing, counts the error, and stores every event once the fault is gone', async () => {
    // Prepare
    const userId = `fault-${code}`;
    const messages: SQSRecord[] = [
      sqsRecord(eventMessage(stack.sourceId, [segmentEvent('track', { userId }), segmentEvent('identify', { userId })])),
      sqsRecord(eventMessage(stack.sourceId, [segmentEvent('track', { userId })])),
    ];
    const { client, state } = failingWriter(stack.workerDeps.writer, code);
    const meter = countingMeter();
    const worker = createWorker({ ...stack.workerDeps, writer: client, meter, clock: noWaitClock });

    // Act
    const during = await worker(sqsEvent(...messages));
    state.active = false;
    const after = await worker(sqsEvent(...messages));

    // Assess
    expect(during.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(messages.map((m) => m.messageId).sort());
    expect(during.stats.quarantined).toBe(0);
    expect(meter.counts.get('DependencyErrors:configuration')).toBeGreaterThan(0);
    expect(meter.counts.get('EventsRejected:refused-by-dynamodb') ?? 0).toBe(0);
    expect(after.batchItemFailures).toEqual([]);
    expect(await rejectedFor(userId)).toEqual([]);
    expect(await storedFor(userId)).toBe(3);
  });
});

describe('a deleted table (DynamoDB Local)', () => {
  it('fails the messages while the table is gone and stores every event once it is back, none in rejected', async () => {
    // Prepare: events of a user queued, then the track table deleted under them.
    const userId = 'table-gone';
    const message = sqsRecord(eventMessage(stack.sourceId, [segmentEvent('track', { userId }), segmentEvent('track', { userId })]));
    const meter = countingMeter();
    const worker = createWorker({ ...stack.workerDeps, meter, clock: noWaitClock });
    const TableName = stack.config.tables.track;
    await stack.clients.dynamodb.send(new DeleteTableCommand({ TableName }));

    // Act
    const during = await worker(sqsEvent(message));
    await provisionTables(stack.clients.dynamodb, stack.config.stage);
    const after = await worker(sqsEvent(message));

    // Assess
    expect(during.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    expect(meter.counts.get('DependencyErrors:configuration')).toBeGreaterThan(0);
    expect(after.batchItemFailures).toEqual([]);
    expect(await storedFor(userId)).toBe(2);
    expect(await rejectedFor(userId)).toEqual([]);
  });
});
