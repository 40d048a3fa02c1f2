/**
 * docs/spec.md section 6: a `delete` erases everything stored for the user in that source, in every
 * event table; events of that user still in the queue with earlier timestamps do not bring data
 * back; an audit record says when and how much, without the data.
 */
import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { EVENT_TYPES } from '../../lib/spec/event-types';
import { legacyUserHash, userHash } from '../../lib/tables/erasures';
import { readEventItem } from '../../lib/tables/events';
import { segmentEvent } from '../support/events';
import { deliver } from '../support/senders';
import { startTestStack, type TestStack } from '../support/stack';
import { messageWith, processMessages, receiveAll, receiveSome } from '../support/worker';
import { hold, observe, throwError, withFault, type Fault } from '../support/faults';

const EARLIER = '2026-01-01T00:00:00.000Z';

/** Every event of `userId`'s partition in every event table, read back from the item layout. */
async function itemsOf(stack: TestStack, userId: string, sourceId = stack.sourceId): Promise<Record<string, unknown>[]> {
  const pages = await Promise.all(
    EVENT_TYPES.map(async (type) => {
      const { Items = [] } = await stack.clients.documents.send(
        new QueryCommand({
          TableName: stack.config.tables[type],
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `${sourceId}#${userId}` },
          ConsistentRead: true,
        }),
      );
      return Items.map((item) => readEventItem(item, type).event);
    }),
  );
  return pages.flat();
}

/** One event of each of the six types for `userId`, timed at `timestamp` (plus a second each). */
function historyOf(userId: string, timestamp = EARLIER): Record<string, unknown>[] {
  return EVENT_TYPES.map((type, i) => segmentEvent(type, { userId, timestamp: new Date(Date.parse(timestamp) + i * 1000).toISOString() }));
}

async function auditOf(stack: TestStack, userId: string): Promise<Record<string, unknown>[]> {
  const { Items = [] } = await stack.clients.documents.send(
    new QueryCommand({
      TableName: stack.config.tables.erasures,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `audit#${stack.sourceId}` },
      ConsistentRead: true,
    }),
  );
  return Items.filter((item) => item.userHash === userHash(userId, stack.config.erasureHashKey ?? ''));
}

/**
 * The stack's batch writer, moving the worker's clock `jumpMs` ahead after each batch write, so a
 * run stops at its deadline after one write. DynamoDB Local cannot be made slow; every request
 * still goes to it.
 */
function slowWriter(stack: TestStack, jumpMs: number) {
  let skew = 0;
  const jump = observe(() => (skew += jumpMs), { on: 'BatchWriteItem' });
  const clock = { now: () => Date.now() + skew, sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) };
  return { ...clientsWith(stack, jump), clock };
}

/** The worker's two clients (document client and batch writer) of `stack` with `faults` forced on both. */
function clientsWith(stack: TestStack, ...faults: Fault[]) {
  return { documents: withFault(stack.clients.documents, ...faults), writer: withFault(stack.workerDeps.writer, ...faults) };
}

describe('section 6: erasure through the running pipeline', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack.stop();
  });

  it('erases the user from every event table, and nobody else', async () => {
    // Prepare: the user's history in all six tables, a neighbour, an anonymous visitor, and the same userId in another source
    await stack.admin.createSource('src-other');
    const { key: otherKey } = await stack.admin.createKey('src-other');
    await deliver(stack, '/v1/batch', [
      ...historyOf('erase-me'),
      ...historyOf('keep-me'),
      segmentEvent('page', { userId: undefined, anonymousId: 'erase-me' }),
    ]);
    await stack.send('/v1/batch', { batch: historyOf('erase-me') }, { auth: otherKey });
    await stack.drain();
    expect(await itemsOf(stack, 'erase-me')).toHaveLength(6);

    // Act
    const response = await deliver(stack, '/segment', [
      segmentEvent('delete', { userId: 'erase-me', timestamp: new Date().toISOString() }),
    ]);
    await stack.drain();

    // Assess
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ success: true, accepted: 1, rejected: 0 });
    expect(await itemsOf(stack, 'erase-me')).toEqual([]);
    expect(await itemsOf(stack, 'keep-me')).toHaveLength(6);
    expect(await itemsOf(stack, 'anon:erase-me')).toHaveLength(1);
    expect(await itemsOf(stack, 'erase-me', 'src-other')).toHaveLength(6);
  });

  it('keeps an audit record of when and how much, without the userId or any event data', async () => {
    await deliver(stack, '/v1/batch', historyOf('audited', EARLIER));
    await stack.drain();
    const del = segmentEvent('delete', { userId: 'audited', timestamp: new Date().toISOString() });

    await deliver(stack, '/segment', [del]);
    await stack.drain();

    const [audit, ...more] = await auditOf(stack, 'audited');
    expect(more).toEqual([]);
    expect(audit).toMatchObject({
      sourceId: stack.sourceId,
      userHash: userHash('audited', stack.config.erasureHashKey ?? ''),
      messageId: del.messageId,
      requestedAt: del.timestamp,
      erasedItems: 6,
      runs: 1,
      ...Object.fromEntries(EVENT_TYPES.map((type) => [`erased_${type}`, 1])),
    });
    expect(Date.parse(String(audit?.completedAt))).not.toBeNaN();
    expect(Date.parse(String(audit?.cutoff))).toBeGreaterThanOrEqual(Date.parse(String(del.timestamp)));
    const { Items = [] } = await stack.clients.documents.send(new ScanCommand({ TableName: stack.config.tables.erasures }));
    expect(JSON.stringify(Items)).not.toContain('audited');
  });

  it('keeps events of the user timed after the erasure', async () => {
    await deliver(stack, '/v1/batch', historyOf('comes-back'));
    await stack.drain();
    await deliver(stack, '/segment', [segmentEvent('delete', { userId: 'comes-back', timestamp: new Date().toISOString() })]);
    await stack.drain();

    const later = segmentEvent('track', { userId: 'comes-back', timestamp: new Date(Date.now() + 60_000).toISOString() });
    await deliver(stack, '/v1/{type}', [later]);
    await stack.drain();

    expect((await itemsOf(stack, 'comes-back')).map((i) => i.messageId)).toEqual([later.messageId]);
  });

  it('takes the receive time as the cut-off of a delete dated in the future (issue 19; issue 10 allowed 5 minutes past it)', async () => {
    // Prepare: history, then a delete dated an hour ahead. (One dated 2099 is clamped to its
    // receive time at ingest already, as every timestamp more than a day ahead is.)
    await deliver(stack, '/v1/batch', historyOf('future-dated'));
    await stack.drain();
    const before = Date.now();
    const ahead = new Date(before + 3600_000).toISOString();
    await deliver(stack, '/segment', [segmentEvent('delete', { userId: 'future-dated', timestamp: ahead })]);
    await stack.drain();

    // Act: the user comes back ten minutes later.
    const later = segmentEvent('track', { userId: 'future-dated', timestamp: new Date(Date.now() + 10 * 60_000).toISOString() });
    await deliver(stack, '/segment', [later]);
    await stack.drain();

    // Assess: the history is erased, the new event is kept, and the source's watermark is not in the future.
    expect((await itemsOf(stack, 'future-dated')).map((i) => i.messageId)).toEqual([later.messageId]);
    const { Items = [] } = await stack.clients.documents.send(
      new QueryCommand({
        TableName: stack.config.tables.erasures,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `source#${stack.sourceId}` },
        ConsistentRead: true,
      }),
    );
    const watermark = Date.parse(String(Items[0]?.cutoff));
    expect(watermark).toBeGreaterThanOrEqual(before);
    expect(watermark).toBeLessThanOrEqual(Date.now());
  });

  it('drops a later replay of the erased history', async () => {
    const history = historyOf('replayed');
    await deliver(stack, '/v1/batch', history);
    await stack.drain();
    await deliver(stack, '/segment', [segmentEvent('delete', { userId: 'replayed', timestamp: new Date().toISOString() })]);
    await stack.drain();

    const replay = await deliver(stack, '/v1/import', history);
    await stack.drain();

    expect(replay.status).toBe(200);
    expect(await itemsOf(stack, 'replayed')).toEqual([]);
  });

  it('accepts a delete through the signed webhook too', async () => {
    await deliver(stack, '/v1/batch', historyOf('hooked'));
    await stack.drain();

    const response = await deliver(stack, '/webhook (array)', [
      segmentEvent('delete', { userId: 'hooked', timestamp: new Date().toISOString() }),
    ]);
    await stack.drain();

    expect(response.status).toBe(200);
    expect(await itemsOf(stack, 'hooked')).toEqual([]);
  });

  it('erases a numeric userId as its decimal string', async () => {
    await deliver(stack, '/v1/batch', historyOf('4711'));
    await stack.drain();

    await deliver(stack, '/segment', [segmentEvent('delete', { userId: 4711, timestamp: new Date().toISOString() })]);
    await stack.drain();

    expect(await itemsOf(stack, '4711')).toEqual([]);
  });
});

describe('section 6: events still in flight when the delete is processed', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // No worker: each test decides which queue message is processed when.
    stack = await startTestStack({ startWorker: false });
  });
  afterAll(async () => {
    await stack.stop();
  });

  it('does not let older events processed after the delete bring the data back', async () => {
    // Prepare: history stored, then more older events and the delete in the queue
    const stored = historyOf('in-flight');
    await deliver(stack, '/v1/batch', stored);
    await processMessages(stack, await receiveAll(stack, 1));
    const late = historyOf('in-flight', '2026-02-01T00:00:00.000Z');
    await deliver(stack, '/v1/batch', late.slice(0, 3));
    await deliver(stack, '/segment', [
      segmentEvent('delete', { userId: 'in-flight', timestamp: new Date().toISOString(), messageId: 'del-in-flight' }),
    ]);
    await deliver(stack, '/v1/batch', late.slice(3));
    const messages = await receiveAll(stack, 3);

    // Act: the delete first, then the older events, in separate batches (the order that resurrects data without tombstones)
    const erasure = await processMessages(stack, [messageWith(messages, 'del-in-flight')]);
    const rest = messages.filter((m) => !(m.Body ?? '').includes('del-in-flight'));
    const first = await processMessages(stack, [rest[0]!]);
    const second = await processMessages(stack, [rest[1]!]);

    // Assess
    expect(erasure.batchItemFailures).toEqual([]);
    expect(erasure.stats).toMatchObject({ erasures: 1, erasedItems: 6 });
    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect(first.stats.droppedByErasure + second.stats.droppedByErasure).toBe(6);
    expect(await itemsOf(stack, 'in-flight')).toEqual([]);
  });

  it.each([
    ['the delete before the events', true],
    ['the events before the delete', false],
  ])('erases older events that share an SQS batch with the delete (%s)', async (_order, deleteFirst) => {
    const userId = `same-batch-${String(deleteFirst)}`;
    const deleteEvent = segmentEvent('delete', { userId, timestamp: new Date().toISOString(), messageId: `del-${userId}` });
    if (deleteFirst) await deliver(stack, '/segment', [deleteEvent]);
    await deliver(stack, '/v1/batch', historyOf(userId));
    if (!deleteFirst) await deliver(stack, '/segment', [deleteEvent]);
    const messages = await receiveAll(stack, 2);

    const result = await processMessages(stack, messages);

    expect(result.batchItemFailures).toEqual([]);
    expect(result.stats).toMatchObject({ erasures: 1, droppedByErasure: 6, erasedItems: 0 });
    expect(await itemsOf(stack, userId)).toEqual([]);
  });

  it('erases an event whose batch wrote it while the erasure was running in another batch', async () => {
    // Prepare: batch A (old events) is held just before its write until batch B (the delete) has
    // finished: the interleaving where a check-before-write design stores erased data. The hold is
    // forced on the real clients (tests/support/faults.ts): the emulator cannot be made to pause a request.
    await deliver(stack, '/v1/batch', historyOf('raced'));
    await deliver(stack, '/segment', [
      segmentEvent('delete', { userId: 'raced', timestamp: new Date().toISOString(), messageId: 'del-raced' }),
    ]);
    const messages = await receiveAll(stack, 2);
    const gate = hold();

    // Act
    const batchA = processMessages(
      stack,
      messages.filter((m) => !(m.Body ?? '').includes('del-raced')),
      clientsWith(stack, gate),
    );
    await gate.reached;
    const batchB = await processMessages(stack, [messageWith(messages, 'del-raced')]);
    gate.release();
    const resultA = await batchA;

    // Assess
    expect(batchB.batchItemFailures).toEqual([]);
    expect(batchB.stats.erasedItems).toBe(0);
    expect(resultA.batchItemFailures).toEqual([]);
    expect(resultA.stats.droppedByErasure).toBe(6);
    expect(await itemsOf(stack, 'raced')).toEqual([]);
  });

  it('continues an erasure that runs out of time in a new message, without failing the delete', async () => {
    // Prepare: 80 items in one table (four BatchWriteItem calls of 25 at concurrency 1), and a
    // clock that jumps past the deadline after the first call. DynamoDB Local cannot be made
    // slow, so the writer is wrapped to move the worker's clock; every request still goes to it.
    const many = Array.from({ length: 80 }, (_, i) =>
      segmentEvent('track', { userId: 'slow', timestamp: new Date(Date.parse(EARLIER) + i * 1000).toISOString() }),
    );
    await deliver(stack, '/v1/batch', many);
    await processMessages(stack, await receiveAll(stack, 1));
    await deliver(stack, '/segment', [
      segmentEvent('delete', { userId: 'slow', timestamp: new Date().toISOString(), messageId: 'del-slow' }),
    ]);
    const [message] = await receiveAll(stack, 1);
    const slow = slowWriter(stack, 10 * 60_000);

    // Act
    const first = await processMessages(stack, [message!], { ...slow, config: { ...stack.workerDeps.config, writeConcurrency: 1 } });
    const left = (await itemsOf(stack, 'slow')).length;
    const [continuation] = await receiveAll(stack, 1);
    const second = await processMessages(stack, [continuation!]);

    // Assess
    expect(first.batchItemFailures).toEqual([]);
    expect(first.stats).toMatchObject({ erasures: 0, continuedErasures: 1, erasedItems: 25 });
    expect(left).toBe(55);
    expect(continuation?.Body).toContain('"continuation":1');
    expect(continuation?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(second.batchItemFailures).toEqual([]);
    expect(await itemsOf(stack, 'slow')).toEqual([]);
    const [audit] = await auditOf(stack, 'slow');
    expect(audit).toMatchObject({ runs: 2, erasedItems: 80, erased_track: 80 });
    expect(audit?.completedAt).toBeDefined();
  });

  it('erases a user who needs more runs than maxReceiveCount, none dead-lettered', async () => {
    // Prepare: 300 items, 25 deleted a run: twelve runs, where the queue allows five receives.
    const many = Array.from({ length: 300 }, (_, i) =>
      segmentEvent(i % 2 ? 'track' : 'page', { userId: 'heavy', timestamp: new Date(Date.parse(EARLIER) + i * 1000).toISOString() }),
    );
    for (let i = 0; i < many.length; i += 100) await deliver(stack, '/v1/batch', many.slice(i, i + 100));
    await processMessages(stack, await receiveAll(stack, 3));
    await deliver(stack, '/segment', [
      segmentEvent('delete', { userId: 'heavy', timestamp: new Date().toISOString(), messageId: 'del-heavy' }),
    ]);
    let runs = 0;
    const receiveCounts: string[] = [];

    // Act: each run gets a clock that jumps past its deadline after one batch write.
    for (;;) {
      const messages = await receiveSome(stack, 500);
      if (messages.length === 0) break;
      runs++;
      receiveCounts.push(...messages.map((m) => m.Attributes?.ApproximateReceiveCount ?? '?'));
      const slow = slowWriter(stack, 10 * 60_000);
      const result = await processMessages(stack, messages, { ...slow, config: { ...stack.workerDeps.config, writeConcurrency: 1 } });
      expect(result.batchItemFailures).toEqual([]);
      if (runs > 40) throw new Error('the erasure never finished');
    }

    // Assess
    expect(runs).toBeGreaterThan(5);
    expect(new Set(receiveCounts)).toEqual(new Set(['1']));
    expect(await itemsOf(stack, 'heavy')).toEqual([]);
    const [audit] = await auditOf(stack, 'heavy');
    expect(audit).toMatchObject({ runs, erasedItems: 300 });
    expect(audit?.completedAt).toBeDefined();
  });

  it('counts what it erased when one table fails, and finishes on redelivery', async () => {
    // Prepare: Query on the page table fails in the first run, forced on the real client (the
    // emulator cannot be made to fail one table)
    await deliver(stack, '/v1/batch', historyOf('faulty'));
    await processMessages(stack, await receiveAll(stack, 1));
    await deliver(stack, '/segment', [segmentEvent('delete', { userId: 'faulty', timestamp: new Date().toISOString() })]);
    const [message] = await receiveAll(stack, 1);
    const failingPage = throwError('InternalServerError', { on: 'Query', table: stack.config.tables.page });

    // Act
    const first = await processMessages(stack, [message!], { documents: withFault(stack.clients.documents, failingPage) });
    const [auditAfterFirst] = await auditOf(stack, 'faulty');
    const second = await processMessages(stack, [message!]);

    // Assess
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: message!.MessageId }]);
    expect(auditAfterFirst).toMatchObject({ runs: 1, erasedItems: 5, erased_page: 0 });
    expect(auditAfterFirst?.completedAt).toBeUndefined();
    expect(second.batchItemFailures).toEqual([]);
    expect(await itemsOf(stack, 'faulty')).toEqual([]);
    const [audit] = await auditOf(stack, 'faulty');
    expect(audit).toMatchObject({ runs: 2, erasedItems: 6, erased_page: 1 });
    expect(audit?.completedAt).toBeDefined();
  });

  it('is idempotent: a redelivered delete erases nothing more and completes again', async () => {
    await deliver(stack, '/v1/batch', historyOf('twice'));
    await processMessages(stack, await receiveAll(stack, 1));
    await deliver(stack, '/segment', [segmentEvent('delete', { userId: 'twice', timestamp: new Date().toISOString() })]);
    const [message] = await receiveAll(stack, 1);

    const first = await processMessages(stack, [message!]);
    const [auditAfterFirst] = await auditOf(stack, 'twice');
    const second = await processMessages(stack, [message!]);

    expect(first.stats).toMatchObject({ erasures: 1, erasedItems: 6 });
    expect(second.stats).toMatchObject({ erasures: 1, erasedItems: 0 });
    const [audit] = await auditOf(stack, 'twice');
    expect(audit).toMatchObject({ runs: 2, erasedItems: 6, completedAt: auditAfterFirst?.completedAt });
  });
});

describe('section 6: the cost of checking for erasures', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ startWorker: false });
  });
  afterAll(async () => {
    await stack.stop();
  });

  /**
   * The real client, recording the keys each BatchGetItem asks for (tombstones and watermarks):
   * the emulator keeps no count of the reads it serves.
   */
  function countingReads() {
    const keys: string[] = [];
    const record = observe(
      (call) => {
        for (const { Keys } of Object.values(call.input.RequestItems as Record<string, { Keys: Array<{ pk: string }> }>)) {
          keys.push(...Keys.map((k) => k.pk));
        }
      },
      { on: 'BatchGetItem' },
    );
    return { client: withFault(stack.clients.documents, record), keys };
  }

  it('reads one watermark per source for live events, and tombstones only for events at or before it', async () => {
    // Prepare: an erasure in the source, then live events of other users and an old one of the erased user.
    await deliver(stack, '/segment', [segmentEvent('delete', { userId: 'gone', timestamp: new Date().toISOString() })]);
    await processMessages(stack, await receiveAll(stack, 1));
    const later = new Date(Date.now() + 60_000).toISOString();
    await deliver(stack, '/v1/batch', [
      segmentEvent('track', { userId: 'live-1', timestamp: later }),
      segmentEvent('identify', { userId: 'live-2', timestamp: later }),
    ]);
    const live = await receiveAll(stack, 1);
    // The kept user's old event is an identify: it changes a profile, so the profile phase (and its
    // check after writing) runs; a track changes none since activity is derived at read time (issue 22).
    await deliver(stack, '/v1/batch', [
      segmentEvent('track', { userId: 'gone', timestamp: EARLIER }),
      segmentEvent('identify', { userId: 'old-but-kept', timestamp: EARLIER }),
    ]);
    const old = await receiveAll(stack, 1);

    // Act
    const liveReads = countingReads();
    const liveResult = await processMessages(stack, live, { documents: liveReads.client });
    const oldReads = countingReads();
    const oldResult = await processMessages(stack, old, { documents: oldReads.client });

    // Assess: live traffic costs one watermark read per check (the events' after their writes, the
    // profiles' after theirs, lib/worker/profiles/phase.ts); history is checked user by user and the
    // erased user stays erased.
    const watermark = `source#${stack.sourceId}`;
    expect(liveResult.batchItemFailures).toEqual([]);
    expect(liveReads.keys).toEqual([watermark, watermark]);
    expect(oldResult.batchItemFailures).toEqual([]);
    // Each user's keyed tombstone, and the unkeyed one of tombstones written before the keyed hash.
    const key = stack.config.erasureHashKey ?? '';
    const tombstones = (users: string[]) =>
      users.flatMap((user) => [`user#${stack.sourceId}#${userHash(user, key)}`, `user#${stack.sourceId}#${legacyUserHash(user)}`]).sort();
    const profileCheck = oldReads.keys.lastIndexOf(watermark);
    expect(oldReads.keys[0]).toBe(watermark);
    expect(oldReads.keys.slice(1, profileCheck).sort()).toEqual(tombstones(['gone', 'old-but-kept']));
    // The profile check: only the user whose event was kept.
    expect(oldReads.keys.slice(profileCheck + 1).sort()).toEqual(tombstones(['old-but-kept']));
    expect(await itemsOf(stack, 'gone')).toEqual([]);
    expect(await itemsOf(stack, 'old-but-kept')).toHaveLength(1);
    expect(await itemsOf(stack, 'live-1')).toHaveLength(1);
  });
});
