/**
 * Profiles at their limits, through the real worker on DynamoDB Local (issue 22): every fact item
 * the profiles write, from events with the longest names, ids and values the ingest accepts, under
 * DynamoDB's limits; a profile grown to hundreds of KB whose small events and one-trait identifies
 * cost at most 2 write units each (metered as DynamoDB bills them, bench/profile-meter.ts);
 * activity that costs no profile write (derived from the events); a hot user's thousand events in
 * one batch and across ten batches at once; a profile write DynamoDB refuses, which is retried,
 * not dropped.
 */
import { DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { BatchExecuteStatementCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import type { MetricName } from '../../lib/shared/metrics';
import { MAX_ID_BYTES } from '../../lib/spec/normalize';
import { marshallItem } from '../../lib/tables/dynamo-wire';
import { createWorker, type WorkerDeps } from '../../lib/worker/process-batch';
import {
  CAPS,
  CORE_LIMIT_BYTES,
  CORE_SK,
  ITEM_LIMIT_BYTES,
  itemBytes,
  partitionPages,
  SORT_KEY_LIMIT_BYTES,
  type ProfileKey,
  type ProfileStore,
} from '../../lib/tables/profiles';
import type { FakeAws } from '../../bench/fake-aws';
import { ProfileRouter } from '../../bench/profile-meter';
import { createProfileReader, userView, type ProfileReader } from '../../cli/profile/read';
import { segmentEvent, sqsEvent, sqsRecord } from '../support/events';
import { eventMessage } from '../support/records';
import { startTestStack, type TestStack } from '../support/stack';
import { silentLog } from '../../lib/shared/log';
import { systemClock } from '../../lib/shared/retry';

let stack: TestStack;
let reader: ProfileReader;
let store: ProfileStore;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
  reader = createProfileReader(stack.workerDeps.writer, stack.config.tables);
  store = { writer: stack.workerDeps.writer, table: stack.config.tables.profiles, clock: systemClock, log: silentLog };
});

afterAll(async () => {
  await stack.stop();
});

const T0 = Date.parse('2025-05-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

/** The writer of the stack, seeing every command first (DynamoDB Local counts no requests). */
function watchingWriter(watch: (command: unknown) => void): DynamoDBClient {
  const real = stack.workerDeps.writer;
  return {
    send: (command: unknown) => {
      watch(command);
      return (real.send as (c: unknown) => Promise<unknown>).call(real, command);
    },
  } as unknown as DynamoDBClient;
}

function messagesOf(sourceId: string, events: Record<string, unknown>[], perMessage: number): SQSRecord[] {
  const messages: SQSRecord[] = [];
  for (let i = 0; i < events.length; i += perMessage) messages.push(sqsRecord(eventMessage(sourceId, events.slice(i, i + perMessage))));
  return messages;
}

/** Runs `events` through one worker, `perMessage` events a message and `perBatch` messages a batch; returns the failed messages' ids. */
async function deliver(
  sourceId: string,
  events: Record<string, unknown>[],
  deps: Partial<WorkerDeps> = {},
  perMessage = 10,
  perBatch = 10,
) {
  const run = createWorker({ ...stack.workerDeps, ...deps });
  const messages = messagesOf(sourceId, events, perMessage);
  const failed: string[] = [];
  for (let i = 0; i < messages.length; i += perBatch) {
    const { batchItemFailures } = await run(sqsEvent(...messages.slice(i, i + perBatch)));
    failed.push(...batchItemFailures.map((f) => f.itemIdentifier));
  }
  return failed;
}

/** Every item of a profile's partition, as stored (JSON). */
async function partitionItems(key: ProfileKey): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for await (const page of partitionPages(store, key, Date.now() + 10_000)) items.push(...page);
  return items;
}

/** Every item of the profiles table whose partition is of `sourceId`, in wire form. */
async function sourceItems(sourceId: string): Promise<Array<Record<string, AttributeValue>>> {
  const items: Array<Record<string, AttributeValue>> = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await stack.workerDeps.writer.send(
      new ScanCommand({
        TableName: stack.config.tables.profiles,
        FilterExpression: 'begins_with(pk, :source)',
        ExpressionAttributeValues: { ':source': { S: `${sourceId}#` } },
        ExclusiveStartKey: start,
        ConsistentRead: true,
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

describe('the largest facts', () => {
  it('keeps every item under DynamoDB’s limits with the longest names, ids and values, and prints the most recent of each kind', async () => {
    // Prepare: ids of 1,024 bytes, messageIds of 100 four-byte characters, trait names of 128 bytes
    // and values that are largest as DynamoDB counts them (a list of one-digit numbers), beyond the print caps.
    const longId = (prefix: string, i: number) => `${prefix}${i}-`.padEnd(MAX_ID_BYTES, 'x');
    // 100 characters (code points, as the Spec's schema counts them), nearly all of four bytes.
    const messageId = (i: number) => `${i}-` + '😀'.repeat(100 - `${i}-`.length);
    const userId = longId('u', 0);
    const events: Record<string, unknown>[] = [];
    for (let i = 0; i < CAPS.traits + 5; i++) {
      const name = `t${i}-`.padEnd(CAPS.traitNameBytes, 'n');
      events.push(segmentEvent('identify', { userId, messageId: messageId(i), timestamp: at(i), traits: { [name]: Array(340).fill(1) } }));
    }
    for (let i = 0; i < CAPS.links.anonymousIds + 5; i++)
      events.push(segmentEvent('track', { userId, anonymousId: longId('a', i), messageId: messageId(1000 + i), timestamp: at(i) }));
    for (let i = 0; i < CAPS.links.aliases + 5; i++)
      events.push(segmentEvent('alias', { userId, previousId: longId('p', i), messageId: messageId(2000 + i), timestamp: at(i) }));
    for (let i = 0; i < CAPS.links.aliasedTo + 5; i++)
      events.push(segmentEvent('alias', { userId: longId('n', i), previousId: userId, messageId: messageId(3000 + i), timestamp: at(i) }));
    for (let i = 0; i < CAPS.links.groups + 5; i++) {
      const traits = { [`g${i}-`.padEnd(CAPS.traitNameBytes, 'n')]: Array(340).fill(1) };
      events.push(segmentEvent('group', { userId, groupId: longId('g', i), messageId: messageId(4000 + i), timestamp: at(i), traits }));
    }
    expect(Buffer.byteLength(messageId(1))).toBe(2 + 98 * 4);

    // Act
    const failed = await deliver('largest', events);

    // Assess: every item of the source (facts of the user, of the ids aliased to and from them, of the
    // groups; members and anonymous-user items) is stored, within DynamoDB's limits.
    expect(failed).toEqual([]);
    const items = await sourceItems('largest');
    const extra = 5 * 5;
    const facts = CAPS.traits + CAPS.links.anonymousIds + CAPS.links.aliases + CAPS.links.aliasedTo + CAPS.links.groups + extra;
    // The user's facts, the other ends of the aliases, the groups' traits, members and anonymous-user items.
    const expected =
      facts + (CAPS.links.aliases + 5) + (CAPS.links.aliasedTo + 5) + 2 * (CAPS.links.groups + 5) + (CAPS.links.anonymousIds + 5);
    const cores = items.filter((item) => item.sk?.S === CORE_SK);
    expect(items.length - cores.length).toBe(expected);
    // A core item per profile partition (the user, the ids aliased to and from them, the groups):
    // none of these facts fits in 1 KB with a 1 KB id, so each core only says its profile spilled.
    expect(cores).toHaveLength(1 + (CAPS.links.aliases + 5) + (CAPS.links.aliasedTo + 5) + (CAPS.links.groups + 5));
    for (const core of cores) expect(core).toMatchObject({ f: { M: {} }, s: { BOOL: true } });
    for (const item of items) {
      expect(Buffer.byteLength(item.sk?.S ?? '')).toBeLessThanOrEqual(SORT_KEY_LIMIT_BYTES);
      expect(itemBytes(item)).toBeLessThan(ITEM_LIMIT_BYTES);
    }
    // A few KB at most (a member item holds two 1 KB ids in its keys and again as attributes), not hundreds.
    expect(Math.max(...items.map(itemBytes))).toBeLessThan(5 * 1024);
    const key: ProfileKey = { kind: 'user', sourceId: 'largest', id: userId };
    const profile = (await reader.get([key])).get(JSON.stringify(['user', 'largest', userId]));
    expect(profile?.traits.size).toBe(CAPS.traits);
    for (const kind of ['anonymousIds', 'aliases', 'aliasedTo', 'groups'] as const)
      expect(profile?.links.get(kind)?.size).toBe(CAPS.links[kind]);
    expect(profile?.omitted).toEqual({ trait: 5, anonymousIds: 5, aliases: 5, aliasedTo: 5, groups: 5 });
    // The most recent are printed: the five left out of each kind are the oldest (t0- .. t4-).
    expect([...(profile?.traits.keys() ?? [])].some((name) => name.startsWith('t4-'))).toBe(false);
    expect([...(profile?.traits.keys() ?? [])].some((name) => name.startsWith('t5-'))).toBe(true);
  }, 180_000);
});

describe('erasure of a profile larger than a Query page', () => {
  it('deletes every item of a partition over 1 MB, page after page, and its links', async () => {
    // Prepare: 1,100 traits of 1 KB (a Query page holds at most 1 MB) and an anonymous id.
    const traits = (i: number) => Object.fromEntries(Array.from({ length: 20 }, (_, j) => [`t${i}-${j}`, 'v'.repeat(1000)]));
    const events = Array.from({ length: 55 }, (_, i) =>
      segmentEvent('identify', { userId: 'wide', anonymousId: 'wide-anon', timestamp: at(i), traits: traits(i) }),
    );
    expect(await deliver('wide', events, {}, 5, 10)).toEqual([]);
    const key: ProfileKey = { kind: 'user', sourceId: 'wide', id: 'wide' };
    const before = await partitionItems(key);
    expect(before.filter((item) => item.sk !== CORE_SK)).toHaveLength(1101);
    expect(before.find((item) => item.sk === CORE_SK)).toMatchObject({ s: true });
    expect(before.reduce((sum, item) => sum + itemBytes(marshallItem(item)), 0)).toBeGreaterThan(1024 * 1024);

    // Act
    expect(await deliver('wide', [segmentEvent('delete', { userId: 'wide', timestamp: new Date().toISOString() })])).toEqual([]);

    // Assess
    expect(await partitionItems(key)).toEqual([]);
    expect(await reader.anonymousUsers('wide', 'wide-anon')).toEqual([]);
  }, 120_000);
});

describe('a large profile, metered', () => {
  /** A writer of the stack whose profile requests are billed as DynamoDB bills them (bench/profile-meter.ts); the rest pass through. */
  function meteredWriter(): { writer: DynamoDBClient; router: ProfileRouter } {
    const endpoint = process.env.TEST_DYNAMODB_ENDPOINT ?? '';
    const passThrough = stack.workerDeps.writer.config.requestHandler as unknown as FakeAws;
    const router = new ProfileRouter(passThrough, endpoint, new Map([[stack.config.tables.profiles, ['pk', 'sk']]]));
    const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    const writer = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials, requestHandler: router as never, maxAttempts: 1 });
    return { writer, router };
  }

  it('costs a small event at most 2 write units, and a one-trait identify what the trait costs, however large the profile', async () => {
    // Prepare: the profile, grown within the limits: 100 identifies with one 1 KB trait
    // each, 50 tracks with 1 KB anonymous ids.
    const userId = 'grown';
    const grow: Record<string, unknown>[] = [];
    for (let i = 0; i < 100; i++)
      grow.push(segmentEvent('identify', { userId, timestamp: at(i), traits: { [`t${i}`]: 'v'.repeat(1000) } }));
    for (let i = 0; i < 50; i++)
      grow.push(segmentEvent('track', { userId, anonymousId: `a${i}-`.padEnd(1000, 'a'), timestamp: at(100 + i) }));
    expect(await deliver('metered', grow)).toEqual([]);
    const key: ProfileKey = { kind: 'user', sourceId: 'metered', id: userId };
    const stored = await partitionItems(key);
    const profileBytes = stored.reduce((sum, item) => sum + itemBytes(marshallItem(item)), 0);
    // 150 fact items of 1 KB (none fits the core, which says spilled) and the core.
    expect(stored.filter((item) => item.sk !== CORE_SK)).toHaveLength(150);
    expect(stored.find((item) => item.sk === CORE_SK)).toMatchObject({ s: true });
    expect(profileBytes).toBeGreaterThan(150 * 1024);
    const { writer, router } = meteredWriter();
    router.takeMeter();

    // Act: 5 small tracks (about 150 bytes) in separate batches, each on a later day with a new
    // anonymous id (first sight: a fact and an anonymous-user item, the most a small event writes);
    // then an identify that changes one 1 KB trait.
    const small: Array<{ writeUnits: number; readUnits: number }> = [];
    for (let i = 0; i < 5; i++) {
      const event = segmentEvent('track', { userId, anonymousId: `s-${i}`, timestamp: at(86_400 * (i + 1)), event: 'Viewed' });
      expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThan(1024);
      expect(await deliver('metered', [event], { writer })).toEqual([]);
      small.push(router.takeMeter());
    }
    const identify = segmentEvent('identify', { userId, timestamp: at(86_400 * 10), traits: { t5: 'w'.repeat(1000) } });
    expect(await deliver('metered', [identify], { writer })).toEqual([]);
    const changed = router.takeMeter();
    writer.destroy();

    // Assess
    for (const { writeUnits } of small) {
      expect(writeUnits).toBeGreaterThan(0);
      expect(writeUnits).toBeLessThanOrEqual(2);
    }
    expect(changed.writeUnits).toBeGreaterThan(0);
    expect(changed.writeUnits).toBeLessThanOrEqual(2);
    // The reads are bounded by the batch too: the facts it touches, by key.
    for (const { readUnits } of [...small, changed]) expect(readUnits).toBeLessThanOrEqual(2);
    const view = await userView(reader, (await reader.get([key])).get(JSON.stringify(['user', 'metered', userId]))!);
    expect((view.traits as Record<string, unknown>).t5).toBe('w'.repeat(1000));
  }, 120_000);

  it('costs the one event that first spills a profile at most 3 write units, and a small profile’s events their core and link', async () => {
    // Prepare: a small profile whose core holds its traits, about 700 bytes, not spilled.
    const userId = 'spills';
    const key: ProfileKey = { kind: 'user', sourceId: 'metered', id: userId };
    const traits = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`trait${i}`, 'x'.repeat(40)]));
    expect(await deliver('metered', [segmentEvent('identify', { userId, timestamp: at(0), traits })])).toEqual([]);
    const coreOf = async () => (await partitionItems(key)).find((item) => item.sk === CORE_SK);
    const before = await coreOf();
    expect(before).toBeDefined();
    expect(before?.s).toBeFalsy();
    const coreBytes = itemBytes(marshallItem(before!));
    expect(coreBytes).toBeGreaterThan(500);
    expect(coreBytes).toBeLessThan(CORE_LIMIT_BYTES - 200);
    const { writer, router } = meteredWriter();
    router.takeMeter();

    // Act: a small track with a short new anonymous id (fits the core), then one whose anonymous id
    // does not fit what is left of the core (the first spill), then another such (spilled already).
    const track = (anonymousId: string, day: number) =>
      segmentEvent('track', { userId, anonymousId, timestamp: at(86_400 * day), event: 'Viewed' });
    const fitting = track('short-anon', 1);
    const spilling = track('s'.repeat(CORE_LIMIT_BYTES - coreBytes), 2);
    const after = track('t'.repeat(CORE_LIMIT_BYTES - coreBytes), 3);
    const costs: number[] = [];
    for (const event of [fitting, spilling, after]) {
      expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThan(1024);
      expect(await deliver('metered', [event], { writer })).toEqual([]);
      costs.push(router.takeMeter().writeUnits);
    }
    writer.destroy();

    // Assess: the fitting link is the core and its anonymous-user item; the spill adds the core's
    // mark once; after it, a fact item and its link item.
    expect(costs[0]).toBe(2);
    expect(costs[1]).toBeGreaterThan(2);
    expect(costs[1]).toBeLessThanOrEqual(3);
    expect(costs[2]).toBeLessThanOrEqual(2);
    expect(await coreOf()).toMatchObject({ s: true });
    const view = await userView(reader, (await reader.get([key])).get(JSON.stringify(['user', 'metered', userId]))!);
    expect(view.anonymousIds).toEqual(expect.arrayContaining(['short-anon', spilling.anonymousId, after.anonymousId]));
    expect(view.traits).toEqual(traits);
  }, 60_000);
});

describe('cost by change', () => {
  it('writes nothing to the profiles for events that change nothing, however large the identity; activity is read from the events', async () => {
    // Prepare: a user with a large identity (100 traits of about 1 KB) and a known anonymous id.
    const traits = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`t${i}`, 'v'.repeat(1000)]));
    await deliver('by-change', [
      segmentEvent('identify', { userId: 'big', anonymousId: 'big-anon', timestamp: at(1), traits }),
      segmentEvent('track', { userId: 'big', anonymousId: 'big-anon', timestamp: at(2) }),
    ]);
    const statements: string[] = [];
    const updates: UpdateItemCommand[] = [];
    const writer = watchingWriter((command) => {
      if (command instanceof BatchExecuteStatementCommand)
        statements.push(...(command.input.Statements ?? []).map((s) => s.Statement ?? ''));
      if (command instanceof UpdateItemCommand && command.input.TableName === stack.config.tables.profiles) updates.push(command);
    });

    // Act: five small track events of the same day, in separate batches.
    for (let i = 0; i < 5; i++) {
      expect(
        await deliver('by-change', [segmentEvent('track', { userId: 'big', anonymousId: 'big-anon', timestamp: at(10 + i) })], { writer }),
      ).toEqual([]);
    }

    // Assess: no fact write and no activity update at all (issue 22: activity is derived at read time).
    expect(statements).toEqual([]);
    expect(updates).toHaveLength(0);
    const key: ProfileKey = { kind: 'user', sourceId: 'by-change', id: 'big' };
    const items = await partitionItems(key);
    expect(items.reduce((sum, item) => sum + itemBytes(marshallItem(item)), 0)).toBeGreaterThan(100_000);
    expect(items.filter((item) => item.sk === 'activity')).toEqual([]);
    const view = await userView(reader, (await reader.get([key])).get(JSON.stringify(['user', 'by-change', 'big']))!);
    expect(view).toMatchObject({ firstSeen: at(1), lastSeen: at(14), counts: { identify: 1, track: 6 } });
  });

  it('writes only the facts an event changes: a trait with a new value, a new anonymous id', async () => {
    // Prepare
    await deliver('changes', [segmentEvent('identify', { userId: 'c', anonymousId: 'c-1', timestamp: at(1), traits: { plan: 'free' } })]);
    const statements: string[] = [];
    const writer = watchingWriter((command) => {
      if (command instanceof BatchExecuteStatementCommand)
        statements.push(...(command.input.Statements ?? []).map((s) => s.Statement ?? ''));
    });

    // Act: the same trait value again (no change), a new value, a new anonymous id.
    await deliver('changes', [segmentEvent('identify', { userId: 'c', timestamp: at(0), traits: { plan: 'older' } })], { writer });
    const unchanged = statements.length;
    await deliver('changes', [segmentEvent('identify', { userId: 'c', timestamp: at(2), traits: { plan: 'pro' } })], { writer });
    await deliver('changes', [segmentEvent('page', { userId: 'c', anonymousId: 'c-2', timestamp: at(3) })], { writer });

    // Assess: one statement each, for the one fact each changes: the small profile's core, on the revision read.
    expect(unchanged).toBe(0);
    expect(statements).toHaveLength(2);
    for (const statement of statements) expect(statement).toMatch(/^UPDATE .* WHERE "pk" = \? AND "sk" = \? AND "rev" = \?$/);
    const items = await partitionItems({ kind: 'user', sourceId: 'changes', id: 'c' });
    expect(items.map((item) => item.sk)).toEqual([CORE_SK]);
    expect(Object.keys(items[0]?.f as object).sort()).toEqual(['a#c-1', 'a#c-2', 't#plan']);
  });
});

describe('a hot user', () => {
  /** `n` events of one user: tracks and pages, and every tenth an identify that changes trait `step`. */
  function hotEvents(n: number, offset: number): Record<string, unknown>[] {
    return Array.from({ length: n }, (_, i) => {
      const t = offset + i;
      if (i % 10 === 0)
        return segmentEvent('identify', { userId: 'hot', anonymousId: `hot-${t % 7}`, timestamp: at(t), traits: { step: t } });
      return segmentEvent(i % 2 ? 'track' : 'page', { userId: 'hot', anonymousId: `hot-${t % 7}`, timestamp: at(t) });
    });
  }

  it('fails no message for a thousand events of one user in one batch, and writes each fact it changes once', async () => {
    // Prepare
    let statements = 0;
    const writer = watchingWriter((command) => {
      if (command instanceof BatchExecuteStatementCommand) statements += command.input.Statements?.length ?? 0;
    });

    // Act
    const failed = await deliver('hot-1', hotEvents(1000, 0), { writer }, 100, 10);

    // Assess
    expect(failed).toEqual([]);
    // The batch's facts (trait `step` and the seven anonymous ids) fit the profile's core: one write.
    expect(statements).toBe(1);
    const key: ProfileKey = { kind: 'user', sourceId: 'hot-1', id: 'hot' };
    const view = await userView(reader, (await reader.get([key])).get(JSON.stringify(['user', 'hot-1', 'hot']))!);
    expect(view).toMatchObject({
      traits: { step: 990 },
      firstSeen: at(0),
      lastSeen: at(999),
      counts: { identify: 100, track: 500, page: 400 },
    });
  });

  it('fails no message when ten batches of one user are processed at once, and converges', async () => {
    // Prepare: ten batches of 100 events each, all of one user, every batch changing its traits.
    const batches = Array.from({ length: 10 }, (_, b) => messagesOf('hot-10', hotEvents(100, b * 100), 10));

    // Act
    const results = await Promise.all(batches.map((messages) => createWorker(stack.workerDeps)(sqsEvent(...messages))));

    // Assess
    expect(results.map((r) => r.batchItemFailures)).toEqual(Array(10).fill([]));
    const key: ProfileKey = { kind: 'user', sourceId: 'hot-10', id: 'hot' };
    const view = await userView(reader, (await reader.get([key])).get(JSON.stringify(['user', 'hot-10', 'hot']))!);
    expect(view).toMatchObject({
      traits: { step: 990 },
      anonymousIds: expect.arrayContaining(['hot-0', 'hot-6']) as unknown,
      firstSeen: at(0),
      lastSeen: at(999),
      counts: { identify: 100, track: 500, page: 400 },
    });
  });
});

describe('a profile write DynamoDB refuses', () => {
  it('fails the messages, so SQS retries them, counts ProfileWritesRefused, and writes the profile on redelivery', async () => {
    // Prepare: DynamoDB Local refuses no profile the caps allow, so the fake refusal is forced here:
    // the first profile statement is answered as DynamoDB answers an item over 400 KB.
    const real = stack.workerDeps.writer;
    let refuse = true;
    const writer = {
      send: async (command: unknown) => {
        if (refuse && command instanceof BatchExecuteStatementCommand) {
          refuse = false;
          return {
            Responses: (command.input.Statements ?? []).map(() => ({
              Error: { Code: 'ValidationError', Message: 'Item size has exceeded the maximum allowed size' },
            })),
          };
        }
        return (real.send as (c: unknown) => Promise<unknown>).call(real, command);
      },
    } as unknown as DynamoDBClient;
    const counted: Array<[MetricName, number]> = [];
    const meter = { ...stack.workerDeps.meter, count: (name: MetricName, value: number) => void counted.push([name, value]) };
    const message = messagesOf('refused', [segmentEvent('identify', { userId: 'r', timestamp: at(1), traits: { plan: 'pro' } })], 10);

    // Act
    const first = await createWorker({ ...stack.workerDeps, writer, meter })(sqsEvent(...message));
    const again = await createWorker(stack.workerDeps)(sqsEvent(...message));

    // Assess
    expect(first.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(message.map((m) => m.messageId));
    expect(counted).toContainEqual(['ProfileWritesRefused', 1]);
    expect(again.batchItemFailures).toEqual([]);
    const key: ProfileKey = { kind: 'user', sourceId: 'refused', id: 'r' };
    expect((await reader.get([key])).get(JSON.stringify(['user', 'refused', 'r']))?.traits.get('plan')?.value).toBe('pro');
  });
});
