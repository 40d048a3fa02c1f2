/**
 * A whole batch through the worker's phases (lib/worker/process-batch.ts), over the real clients
 * and a DynamoDB in process: failures mapped back to exactly their SQS messages, items DynamoDB
 * refuses quarantined, errors that are not about an item retried, and the stats and metrics of
 * the batch. tests/integration/worker.test.ts runs the worker against DynamoDB Local.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { EventRecord, RejectedRecord } from '../../../lib/message/format';
import type { Meter, MetricName } from '../../../lib/shared/metrics';
import { createWorker } from '../../../lib/worker/process-batch';
import { byOperation, dynamoError, fakeDynamoDb, type Answer, type WireRequest } from '../../support/fake-dynamodb';
import { sqsEvent, sqsRecord } from '../../support/events';
import { noWaitClock, steppedClock } from '../../support/clock';
import { recordsMessage } from '../../support/records';
import { HASH_KEY, recordingLog, TABLES } from '../../support/worker-run';
import type { Clock } from '../../../lib/shared/retry';

afterEach(() => jest.restoreAllMocks());

let counter = 0;
function event(type: EventRecord['event']['type'], userId: string, overrides: Partial<EventRecord['event']> = {}): EventRecord {
  counter++;
  return {
    kind: 'event',
    sourceId: 'src',
    receivedAt: '2026-03-01T12:00:00.000Z',
    requestId: 'req',
    event: { type, userId, messageId: `m-${counter}`, timestamp: `2026-03-01T11:00:00.000Z`, ...overrides },
  };
}

const rejected: RejectedRecord = {
  kind: 'rejected',
  sourceId: 'src',
  receivedAt: '2026-03-01T12:00:00.000Z',
  requestId: 'req',
  route: '/v1/batch',
  index: 0,
  raw: '{}',
  rawBytes: 2,
  truncated: false,
  reasons: ['"type" is required'],
};

function recordingMeter(): Meter & { counts: Array<[MetricName, number, readonly string[] | undefined]> } {
  const counts: Array<[MetricName, number, readonly string[] | undefined]> = [];
  return { counts, count: (name, value, dimension) => void counts.push([name, value, dimension]), latency() {}, flush() {} };
}

type WireItem = { PutRequest?: { Item: Record<string, AttributeValue> } };

/** The plain items of a BatchWriteItem request, by table. */
function batchItems(request: WireRequest): Array<{ table: string; item: Record<string, unknown> }> {
  return Object.entries(request.body.RequestItems as Record<string, WireItem[]>).flatMap(([table, requests]) =>
    requests.map((r) => ({ table, item: unmarshall(r.PutRequest?.Item ?? {}) })),
  );
}

/** The userId of an event item: the partition key is `<sourceId>#<userId>` (lib/tables/events.ts). */
function userOf(item: Record<string, unknown>): string {
  return String(item.pk).split('#')[1] ?? '';
}

/** The messageId of an event item: the sort key is `<timestamp>#<messageId>`. */
function messageIdOf(item: Record<string, unknown>): string {
  const sk = String(item.sk);
  return sk.slice(sk.indexOf('#') + 1);
}

function worker(answer: Parameters<typeof fakeDynamoDb>[0] = () => undefined, clock: Clock = noWaitClock, profiles = true) {
  const fake = fakeDynamoDb(answer);
  const log = recordingLog();
  const meter = recordingMeter();
  const process = createWorker({
    documents: fake.documents,
    writer: fake.writer,
    config: { tables: TABLES, rejectedRetentionDays: 30, writeConcurrency: 4, erasureHashKey: HASH_KEY, profiles },
    log,
    meter,
    clock,
  });
  return { process, fake, log, meter };
}

describe('createWorker', () => {
  it('writes every record of the batch, reports no failure, and says what it did', async () => {
    // Prepare
    const { process, fake, log, meter } = worker();
    const first = sqsRecord(recordsMessage([event('track', 'u1'), event('track', 'u2'), rejected]));
    const second = sqsRecord(recordsMessage([event('identify', 'u1', { traits: { plan: 'pro' } })]));

    // Act
    const result = await process(sqsEvent(first, second));

    // Assess
    expect(result.batchItemFailures).toEqual([]);
    expect(result.stats).toEqual({
      messages: 2,
      events: { track: 2, identify: 1 },
      stored: { track: 2, identify: 1 },
      quarantined: 1,
      erasures: 0,
      erasedItems: 0,
      droppedByErasure: 0,
      continuedErasures: 0,
      failedMessages: 0,
      requests: 3,
      retries: 0,
      // u1's identify writes its trait; u2's track changes no profile (activity is derived from the
      // events at read time since issue 22), so it costs no profile write (lib/worker/profiles/).
      profiles: { written: 1, unchanged: 0, conflicts: 0, links: 0, failed: 0 },
    });
    // The events, the erasure watermark check, the trait's fact read and written (no activity update: it
    // is derived at read time since issue 22), and the watermarks checked again.
    expect(fake.requests.map((r) => r.operation)).toEqual([
      'BatchWriteItem',
      'BatchGetItem',
      'BatchGetItem',
      'BatchExecuteStatement',
      'BatchGetItem',
    ]);
    expect(
      batchItems(fake.requests[0]!)
        .map((i) => i.table)
        .sort(),
    ).toEqual([TABLES.identify, TABLES.rejected, TABLES.track, TABLES.track].sort());
    expect(meter.counts).toEqual(
      expect.arrayContaining([
        ['EventsStored', 2, ['type', 'track']],
        ['EventsStored', 1, ['type', 'identify']],
        ['QuarantinedRecords', 1, undefined],
        ['EventsRejected', 0, ['reason', 'refused-by-dynamodb']],
      ]),
    );
    expect(log.lines.find((l) => l.message === 'batch processed')?.extra).toMatchObject({ messages: 2, failedMessageIds: [] });
  });

  it('writes no profile when the stage turns profiles off, and stores the events all the same', async () => {
    // Prepare
    const { process, fake } = worker(undefined, undefined, false);
    const message = sqsRecord(recordsMessage([event('identify', 'u1'), event('track', 'u2')]));

    // Act
    const result = await process(sqsEvent(message));

    // Assess: the events and the erasure watermark check, no profile read or write.
    expect(result.batchItemFailures).toEqual([]);
    expect(result.stats.stored).toEqual({ identify: 1, track: 1 });
    expect(result.stats.profiles).toBeUndefined();
    expect(fake.requests.map((r) => r.operation)).toEqual(['BatchWriteItem', 'BatchGetItem']);
  });

  it('reports only the messages whose items could not be written in time, and counts only what was stored', async () => {
    // Prepare: every item of user "stuck" stays unprocessed
    const stuckItems = (request: WireRequest): Answer => {
      const items = request.body.RequestItems as Record<string, WireItem[]>;
      const unprocessed = Object.fromEntries(
        Object.entries(items).map(([table, requests]) => [
          table,
          requests.filter((r) => userOf(unmarshall(r.PutRequest?.Item ?? {})) === 'stuck'),
        ]),
      );
      return { body: { UnprocessedItems: unprocessed } };
    };
    const { process } = worker(byOperation({ BatchWriteItem: stuckItems }), steppedClock());
    const fine = sqsRecord(recordsMessage([event('track', 'fine'), event('page', 'fine')]));
    const mixed = sqsRecord(recordsMessage([event('track', 'fine-too'), event('screen', 'stuck')]));
    const stuck = sqsRecord(recordsMessage([event('group', 'stuck')]));

    // Act
    const result = await process(sqsEvent(fine, mixed, stuck), 10_000);

    // Assess
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([mixed.messageId, stuck.messageId].sort());
    expect(result.stats.stored).toEqual({ track: 1, page: 1 });
    expect(result.stats.failedMessages).toBe(2);
    expect(result.stats.retries).toBeGreaterThan(0);
  });

  it('fails only the stuck message when its retries use up the budget: the check of what was written still gets time', async () => {
    // Prepare: retry waits at the top of each backoff (no jitter), the erasure check takes 20 ms, and
    // the deadline falls 1 ms after a batch write that a first run (with a long budget) shows is made
    jest.spyOn(Math, 'random').mockReturnValue(0.999);
    const stuckOnly = (writeTimes: number[], clock: Clock) =>
      byOperation({
        BatchWriteItem: (request) => {
          writeTimes.push(clock.now());
          const items = request.body.RequestItems as Record<string, WireItem[]>;
          const stuck = Object.entries(items).map(([table, requests]) => [
            table,
            requests.filter((r) => userOf(unmarshall(r.PutRequest?.Item ?? {})) === 'stuck'),
          ]);
          return { body: { UnprocessedItems: Object.fromEntries(stuck) } };
        },
        BatchGetItem: () => new Promise<Answer>((resolve) => setTimeout(() => resolve(undefined), 20)),
      });
    const batch = () => sqsEvent(sqsRecord(recordsMessage([event('track', 'fine')])), sqsRecord(recordsMessage([event('track', 'stuck')])));
    const probeClock = steppedClock();
    const probeTimes: number[] = [];
    await worker(stuckOnly(probeTimes, probeClock), probeClock).process(batch(), 3_000 + 10_000);
    const lastWrite = probeTimes.find((t) => t > 1_000) ?? Number.NaN;
    const clock = steppedClock();
    const { process } = worker(stuckOnly([], clock), clock);
    const events = batch();

    // Act
    const result = await process(events, 3_000 + lastWrite + 1);

    // Assess
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: events.Records[1]?.messageId }]);
    expect(result.stats.stored).toEqual({ track: 1 });
  });

  it('retries a throttled batch write and reports the retries', async () => {
    const { process, fake, meter } = worker((request, index) =>
      request.operation === 'BatchWriteItem' && index === 0 ? dynamoError('ProvisionedThroughputExceededException') : undefined,
    );

    const result = await process(sqsEvent(sqsRecord(recordsMessage([event('track', 'u1'), event('alias', 'u1')]))));

    expect(result.batchItemFailures).toEqual([]);
    expect(result.stats).toMatchObject({ stored: { track: 1, alias: 1 }, retries: 2 });
    expect(fake.requests.filter((r) => r.operation === 'BatchWriteItem')).toHaveLength(2);
    expect(meter.counts).toContainEqual(['WriteRetries', 2, undefined]);
  });

  it('quarantines an item DynamoDB refuses, stores its neighbours, and fails no message', async () => {
    // Prepare: DynamoDB refuses the batch and then the one item of user "refused"
    const validation = dynamoError('ValidationException');
    const { process, fake, meter } = worker((request) => {
      if (request.operation === 'BatchWriteItem')
        return batchItems(request).some((i) => i.table === TABLES.rejected) ? undefined : validation;
      if (request.operation === 'PutItem')
        return userOf(unmarshall(request.body.Item as Record<string, AttributeValue>)) === 'refused' ? validation : undefined;
      return undefined;
    });
    const refusedEvent = event('identify', 'refused');
    const message = sqsRecord(recordsMessage([refusedEvent, event('identify', 'neighbour')]));

    // Act
    const result = await process(sqsEvent(message));

    // Assess
    expect(result.batchItemFailures).toEqual([]);
    expect(result.stats).toMatchObject({ stored: { identify: 1 }, quarantined: 1 });
    const quarantine = fake.requests
      .filter((r) => r.operation === 'BatchWriteItem')
      .flatMap(batchItems)
      .filter((i) => i.table === TABLES.rejected);
    expect(quarantine).toHaveLength(1);
    expect(quarantine[0]?.item).toMatchObject({
      pk: 'src',
      route: 'worker',
      messageId: refusedEvent.event.messageId,
      reasons: ['DynamoDB refused the item as invalid (ValidationException)'],
    });
    expect(meter.counts).toContainEqual(['EventsRejected', 1, ['reason', 'refused-by-dynamodb']]);
  });

  it('fails the message when its quarantine item is refused too', async () => {
    const { process } = worker((request) =>
      ['BatchWriteItem', 'PutItem'].includes(request.operation) ? dynamoError('ValidationException') : undefined,
    );
    const message = sqsRecord(recordsMessage([event('track', 'u1')]));

    const result = await process(sqsEvent(message));

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    expect(result.stats.stored).toEqual({});
  });

  it.each(['ResourceNotFoundException', 'AccessDeniedException'])(
    'retries the message instead of quarantining its events when DynamoDB answers %s',
    async (code) => {
      // Prepare: the event tables are missing or forbidden; the rejected table works
      const { process, fake } = worker((request) => {
        if (request.operation === 'BatchGetItem') return undefined;
        const tables = request.operation === 'PutItem' ? [request.body.TableName] : batchItems(request).map((i) => i.table);
        return tables.includes(TABLES.rejected) ? undefined : dynamoError(code);
      });
      const message = sqsRecord(recordsMessage([event('track', 'u1'), event('page', 'u1')]));

      // Act
      const result = await process(sqsEvent(message));

      // Assess
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
      expect(result.stats).toMatchObject({ stored: {}, quarantined: 0 });
      expect(
        fake.requests.flatMap((r) => (r.operation === 'BatchWriteItem' ? batchItems(r) : [])).some((i) => i.table === TABLES.rejected),
      ).toBe(false);
    },
  );

  it('erases within the batch: events a delete of the batch covers are not written, and the delete is swept and audited', async () => {
    const { process, fake } = worker();
    const old = event('track', 'gone', { timestamp: '2026-01-01T00:00:00.000Z' });
    const later = event('track', 'gone', { timestamp: '2026-04-01T00:00:00.000Z' });
    const del = event('delete', 'gone', { timestamp: '2026-03-01T12:00:00.000Z' });

    const result = await process(sqsEvent(sqsRecord(recordsMessage([old, later])), sqsRecord(recordsMessage([del]))));

    expect(result.batchItemFailures).toEqual([]);
    expect(result.stats).toMatchObject({ stored: { track: 1 }, droppedByErasure: 1, erasures: 1 });
    const written = fake.requests.filter((r) => r.operation === 'BatchWriteItem').flatMap(batchItems);
    expect(written.map((i) => messageIdOf(i.item))).toEqual([later.event.messageId]);
    // The user's events in the six event tables, and the user's profile partition (lib/worker/profiles/erase.ts).
    expect(fake.requests.filter((r) => r.operation === 'Query')).toHaveLength(7);
    // Tombstone, watermark, the source's count of profile erasures and audit; no activity update of
    // the later event's profile (derived at read time since issue 22).
    const updates = fake.requests.filter((r) => r.operation === 'UpdateItem');
    expect(updates.filter((r) => r.body.TableName === TABLES.erasures)).toHaveLength(4);
    expect(updates.filter((r) => r.body.TableName === TABLES.profiles)).toHaveLength(0);
  });
});

describe('createWorker when a profile cannot be written', () => {
  /** BatchExecuteStatement answered with `code` for every statement; BatchGetItem of the profiles table by `read`. */
  function profilesFailing(code: string | undefined, read?: () => Answer) {
    return (request: WireRequest): Answer => {
      if (request.operation === 'BatchGetItem' && read && Object.keys(request.body.RequestItems as object).includes(TABLES.profiles))
        return read();
      if (request.operation !== 'BatchExecuteStatement' || code === undefined) return undefined;
      const statements = request.body.Statements as unknown[];
      return { body: { Responses: statements.map(() => ({ Error: { Code: code, Message: `${code} from the fake` } })) } };
    };
  }

  it('keeps the events, retries the message when DynamoDB refuses a profile, logs it as an error and counts ProfileWritesRefused', async () => {
    // Prepare
    const { process, log, meter, fake } = worker(profilesFailing('ValidationError'));
    const message = sqsRecord(recordsMessage([event('identify', 'u1', { traits: { plan: 'pro' } })]));

    // Act
    const result = await process(sqsEvent(message));

    // Assess: never dropped (issue 22): SQS redelivers the message (its event, stored, counts then), and the alarm counts the refusal.
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    expect(fake.requests.flatMap((r) => (r.operation === 'BatchWriteItem' ? batchItems(r) : [])).map((i) => i.table)).toEqual([
      TABLES.identify,
    ]);
    expect(result.stats).toMatchObject({ stored: {}, profiles: { failed: 1, refused: 1, written: 0 } });
    expect(meter.counts).toContainEqual(['ProfileWritesRefused', 1, undefined]);
    expect(log.lines).toContainEqual({
      level: 'error',
      message: 'DynamoDB refused a profile write; its messages will be retried',
      extra: { kind: 'user', error: 'ValidationException', reason: 'DynamoDB refused the profile' },
    });
  });

  it('retries the message when a profile write is denied, and counts the configuration error for the alarm', async () => {
    // Prepare
    const { process, log, meter } = worker(profilesFailing('AccessDenied'));
    const message = sqsRecord(recordsMessage([event('identify', 'u1', { traits: { plan: 'pro' } })]));

    // Act
    const result = await process(sqsEvent(message));

    // Assess
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    expect(meter.counts).toContainEqual(['DependencyErrors', 1, ['kind', 'configuration']]);
    expect(log.lines).toContainEqual({
      level: 'warn',
      message: 'profile not written; its messages will be retried',
      extra: { kind: 'user', error: 'AccessDenied' },
    });
  });

  it('retries the messages of every profile when the profiles cannot be read, and keeps their events stored', async () => {
    // Prepare: the profiles table is throttled; the event tables are not.
    const { process, log, fake } = worker(profilesFailing(undefined, () => dynamoError('ProvisionedThroughputExceededException')));
    const first = sqsRecord(recordsMessage([event('identify', 'u1', { traits: { plan: 'pro' } })]));
    const second = sqsRecord(recordsMessage([event('identify', 'u2', { traits: { plan: 'free' } })]));

    // Act
    const result = await process(sqsEvent(first, second));

    // Assess
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([first.messageId, second.messageId].sort());
    // Written before the profiles, the events stay stored: their redelivery writes the same items again.
    const written = fake.requests.flatMap((r) => (r.operation === 'BatchWriteItem' ? batchItems(r) : []));
    expect(
      written
        .filter((i) => i.table === TABLES.identify)
        .map((i) => userOf(i.item))
        .sort(),
    ).toEqual(['u1', 'u2']);
    expect(log.lines.some((l) => l.level === 'warn' && l.message === 'profile update failed; messages will be retried')).toBe(true);
  });
});
