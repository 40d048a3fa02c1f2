/**
 * Profiles (issue 13) through the real worker on DynamoDB Local: the same events in any order, with
 * redeliveries, give byte-identical profiles; traits cleared with null; alias chains; groups and
 * their members; erasure of a linked user; no profile write for activity (derived from the events).
 * Batches are handed to the worker as the SQS trigger hands them (queue messages in the ingest
 * function's format), so each test chooses what is processed when.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchExecuteStatementCommand,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { random } from '../../bench/fixtures';
import { userHash } from '../../lib/tables/erasures';
import { CORE_LIMIT_BYTES, CORE_SK, emptyProfile, itemBytes, keyText, type ProfileKey } from '../../lib/tables/profiles';
import { marshallItem } from '../../lib/tables/dynamo-wire';
import { canonicalJson } from '../../lib/shared/canonical-json';
import { createWorker, type WorkerDeps } from '../../lib/worker/process-batch';
import { anonymousView, createProfileReader, traitsView, userView, usersOf, type ProfileReader } from '../../cli/profile/read';
import { segmentEvent, sqsEvent, sqsRecord } from '../support/events';
import { eventMessage } from '../support/records';
import { shuffled } from '../support/random';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let reader: ProfileReader;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
  reader = createProfileReader(stack.workerDeps.writer, stack.config.tables);
});

afterAll(async () => {
  await stack.stop();
});

const T0 = Date.parse('2025-05-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

function worker(overrides: Partial<WorkerDeps> = {}) {
  return createWorker({ ...stack.workerDeps, ...overrides });
}

/** Sends `events` of `sourceId` through the worker, `perMessage` events a message and `perBatch` messages a batch. */
async function deliver(sourceId: string, events: Record<string, unknown>[], perMessage = 10, perBatch = 5, deps: Partial<WorkerDeps> = {}) {
  const messages: SQSRecord[] = [];
  for (let i = 0; i < events.length; i += perMessage) messages.push(sqsRecord(eventMessage(sourceId, events.slice(i, i + perMessage))));
  const run = worker(deps);
  const failed: SQSRecord[] = [];
  for (let i = 0; i < messages.length; i += perBatch) {
    const batch = messages.slice(i, i + perBatch);
    const { batchItemFailures } = await run(sqsEvent(...batch));
    const ids = new Set(batchItemFailures.map((f) => f.itemIdentifier));
    failed.push(...batch.filter((m) => ids.has(m.messageId)));
  }
  return failed;
}

async function profileOf(sourceId: string, kind: ProfileKey['kind'], id: string) {
  const key: ProfileKey = { kind, sourceId, id };
  return (await reader.get([key])).get(keyText(key));
}

/** An anonymous id's own profile as `segment-ingest profile --anonymous ID --own` prints it, or undefined. */
async function anonymousProfile(sourceId: string, anonymousId: string) {
  const key: ProfileKey = { kind: 'anon', sourceId, id: anonymousId };
  const [stored, users, activity] = await Promise.all([
    profileOf(sourceId, 'anon', anonymousId),
    usersOf(reader, sourceId, anonymousId),
    reader.activity(key),
  ]);
  return stored || users.userIds.length > 0 || activity ? anonymousView(reader, key, stored, users.userIds, { activity }) : undefined;
}

/** A user's profile as `segment-ingest profile` prints it (a user seen only in events has no identity item), or undefined. */
async function userProfile(sourceId: string, userId: string) {
  const key: ProfileKey = { kind: 'user', sourceId, id: userId };
  const [stored, activity] = await Promise.all([profileOf(sourceId, 'user', userId), reader.activity(key)]);
  return stored || activity ? userView(reader, stored ?? emptyProfile(key), { activity }) : undefined;
}

/**
 * 200 identify, alias and group events of 6 users, 10 anonymous ids and 3 groups, with clashing
 * traits (many share a timestamp, so messageIds break the ties), nulls and nested values.
 */
/** Every item of a profile's partition (document form), strongly consistent. */
async function partition(pk: string): Promise<Array<Record<string, unknown>>> {
  const { Items = [] } = await stack.clients.documents.send(
    new QueryCommand({
      TableName: stack.config.tables.profiles,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ConsistentRead: true,
    }),
  );
  return Items;
}

function history(): Record<string, unknown>[] {
  const rand = random(13);
  const pick = <T>(values: readonly T[]) => values[Math.floor(rand() * values.length)] as T;
  const users = ['u-1', 'u-2', 'u-3', 'u-4', 'u-5', 'u-6'];
  const anons = Array.from({ length: 10 }, (_, i) => `a-${i}`);
  const values = ['free', 'pro', null, 42, { street: 'Main St', no: 1 }, ['x', 'y'], true];
  return Array.from({ length: 200 }, (_, i) => {
    const type = pick(['identify', 'identify', 'identify', 'group', 'alias'] as const);
    const userId = rand() < 0.8 ? pick(users) : undefined;
    const base = {
      messageId: `m-${String(i).padStart(3, '0')}`,
      timestamp: at(Math.floor(rand() * 40)),
      anonymousId: rand() < 0.6 || userId === undefined ? pick(anons) : undefined,
      userId,
    };
    if (type === 'identify') return segmentEvent('identify', { ...base, traits: { plan: pick(values), [`t${i % 7}`]: pick(values) } });
    if (type === 'group') return segmentEvent('group', { ...base, groupId: pick(['g-1', 'g-2', 'g-3']), traits: { tier: pick(values) } });
    return segmentEvent('alias', { ...base, userId: userId ?? pick(users), previousId: pick([...users, ...anons]) });
  });
}

/** Every profile the history can touch in `sourceId`, as printed, sourceId left out: one text to compare. */
async function snapshot(sourceId: string): Promise<string> {
  const views: Record<string, unknown> = {};
  for (const id of ['u-1', 'u-2', 'u-3', 'u-4', 'u-5', 'u-6', ...Array.from({ length: 10 }, (_, i) => `a-${i}`)]) {
    const user = await profileOf(sourceId, 'user', id);
    const anon = await anonymousProfile(sourceId, id);
    views[`user ${id}`] = user && { ...(await userView(reader, user)), sourceId: undefined };
    views[`anon ${id}`] = anon && { ...anon, sourceId: undefined };
  }
  for (const id of ['g-1', 'g-2', 'g-3']) {
    views[`group ${id}`] = traitsView(await profileOf(sourceId, 'group', id));
    views[`members ${id}`] = await reader.members(sourceId, id);
  }
  return canonicalJson(views);
}

/** The profiles (pk) a batch of conditional fact writes writes: the first parameter of an INSERT, the third from last of an UPDATE. */
function profileWrites(command: BatchExecuteStatementCommand): string[] {
  return (command.input.Statements ?? []).map(({ Statement = '', Parameters = [] }) =>
    String((Statement.startsWith('INSERT') ? Parameters[0] : Parameters[Parameters.length - 3])?.S),
  );
}

describe('convergent merging', () => {
  const events = history();

  it('gives byte-identical profiles for the same events in three random orders', async () => {
    // Act: each order into a source of its own, in messages and batches of different sizes.
    await deliver('order-1', shuffled(events, 1), 7, 3);
    await deliver('order-2', shuffled(events, 2), 1, 10);
    await deliver('order-3', shuffled(events, 3), 25, 2);

    // Assess
    const first = await snapshot('order-1');
    expect(await snapshot('order-2')).toBe(first);
    expect(await snapshot('order-3')).toBe(first);
    expect(first).toContain('"traits":{');
    expect(first).toContain('"aliases":["');
    expect(JSON.parse(first)['members g-1']).not.toEqual([]);
  });

  it('gives the same profiles, counts included, when failed messages are redelivered', async () => {
    // Prepare: the writer refuses the event writes of every third message on its first delivery
    // (throttling, until the batch's time is up), as DynamoDB can; SQS redelivers those messages.
    const real = stack.workerDeps.writer;
    let throttling = true;
    let n = 0;
    const throttled = shuffled(events, 4)
      .filter(() => n++ % 15 === 0)
      // An event item holds its messageId at the end of its sort key (`<time>#<messageId>`).
      .map((e) => `#${String(e.messageId)}"`);
    const writer = {
      send: (command: unknown) => {
        const text = command instanceof BatchWriteItemCommand ? JSON.stringify(command.input.RequestItems) : '';
        if (throttling && throttled.some((id) => text.includes(id)))
          return Promise.reject(new ProvisionedThroughputExceededException({ message: 'forced by the test', $metadata: {} }));
        return (real.send as (c: unknown) => Promise<unknown>).call(real, command);
      },
    } as unknown as DynamoDBClient;
    // Time moves on with every backoff, so the retries give up quickly.
    let skew = 0;
    const clock = { now: () => Date.now() + skew, sleep: async (ms: number) => void (skew += ms) };

    // Act: the first delivery, then the redelivery of what failed.
    const failed = await deliver('redelivered', shuffled(events, 4), 5, 4, { writer, clock });
    throttling = false;
    const again = worker();
    for (let i = 0; i < failed.length; i += 10) expect((await again(sqsEvent(...failed.slice(i, i + 10)))).batchItemFailures).toEqual([]);

    // Assess
    expect(failed.length).toBeGreaterThan(5);
    expect(await snapshot('redelivered')).toBe(await snapshot('order-1'));
  });

  it('gives the same profiles when four invocations write the same profiles at once', async () => {
    // Prepare: four batches of the history, each held at its first profile write until all four
    // have read their profiles, so three of every four writes of a shared profile conflict.
    const real = stack.workerDeps.writer;
    let arrived = 0;
    let open: () => void = () => {};
    const allRead = new Promise<void>((resolve) => (open = resolve));
    const heldWriter = () => {
      let first = true;
      return {
        send: async (command: unknown) => {
          if (command instanceof BatchExecuteStatementCommand && first) {
            first = false;
            if (++arrived === 4) open();
            await Promise.race([allRead, new Promise((resolve) => setTimeout(resolve, 5000))]);
          }
          return (real.send as (c: unknown) => Promise<unknown>).call(real, command);
        },
      } as unknown as DynamoDBClient;
    };
    const ordered = shuffled(events, 7);
    const quarters = [0, 1, 2, 3].map((q) => ordered.slice(q * 50, (q + 1) * 50));

    // Act
    const results = await Promise.all(
      quarters.map((quarter) =>
        worker({ writer: heldWriter() })(
          sqsEvent(...[0, 1, 2, 3, 4].map((m) => sqsRecord(eventMessage('concurrent', quarter.slice(m * 10, m * 10 + 10))))),
        ),
      ),
    );

    // Assess
    expect(results.map((r) => r.batchItemFailures)).toEqual([[], [], [], []]);
    expect(results.reduce((sum, r) => sum + (r.stats.profiles?.conflicts ?? 0), 0)).toBeGreaterThan(10);
    expect(await snapshot('concurrent')).toBe(await snapshot('order-1'));
  });

  it('gives the same profiles, counts included, when the sender delivers events twice (one stored item per event)', async () => {
    // Act: every event once, then a fifth of them again in new messages (Segment's retries, a replay).
    const duplicates = shuffled(events, 5).slice(0, 40);
    await deliver('duplicated', shuffled(events, 6), 10, 5);
    await deliver('duplicated', duplicates, 10, 5);

    // Assess: counts are derived from the stored events, and a duplicate is the same item (issue 22).
    expect(duplicates.some((e) => e.userId === 'u-1' && e.type === 'identify')).toBe(true);
    expect(await snapshot('duplicated')).toBe(await snapshot('order-1'));
    const counted = async (source: string) => ((await userProfile(source, 'u-1'))?.counts as Record<string, number> | undefined)?.identify;
    expect(await counted('duplicated')).toBe(events.filter((e) => e.userId === 'u-1' && e.type === 'identify').length);
  });
});

describe('traits', () => {
  it('keeps a trait set to null as null, whichever of the two events arrives first', async () => {
    const set = segmentEvent('identify', { userId: 'clears', timestamp: at(1), traits: { plan: 'pro', email: 'c@example.com' } });
    const clear = segmentEvent('identify', { userId: 'clears', timestamp: at(2), traits: { plan: null } });

    await deliver('null-1', [set, clear]);
    await deliver('null-2', [clear]);
    await deliver('null-2', [set]);

    for (const source of ['null-1', 'null-2']) {
      expect((await userProfile(source, 'clears'))?.traits).toEqual({ email: 'c@example.com', plan: null });
    }
  });

  it('replaces a nested trait object whole, and keeps odd names and values as data', async () => {
    const proto = JSON.parse('{"__proto__": "kept", "constructor": 1, "address": {"city": "Berlin", "zip": "10115"}}') as Record<
      string,
      unknown
    >;
    await deliver('nested', [
      segmentEvent('identify', { userId: 'nested', timestamp: at(1), traits: proto }),
      segmentEvent('identify', {
        userId: 'nested',
        timestamp: at(2),
        traits: { address: { city: 'Paris' }, big: 2 ** 60, long: 'x'.repeat(2000) },
      }),
    ]);

    const traits = (await userProfile('nested', 'nested'))?.traits as Record<string, unknown>;
    expect(Object.keys(traits)).toEqual(['__proto__', 'address', 'big', 'constructor', 'long']);
    expect(Object.getOwnPropertyDescriptor(traits, '__proto__')?.value).toBe('kept');
    expect(traits.address).toEqual({ city: 'Paris' });
    expect(traits.big).toBe(2 ** 60);
    expect(traits.long).toMatchObject({ bytes: 2002 });
  });
});

describe('links', () => {
  it('links every anonymous id seen with a userId, both ways, and keeps an anonymous-only profile of its own', async () => {
    await deliver('links', [
      segmentEvent('identify', { userId: undefined, anonymousId: 'visitor', timestamp: at(1), traits: { referrer: 'ad' } }),
      segmentEvent('track', { userId: 'signed-up', anonymousId: 'visitor', timestamp: at(2) }),
      segmentEvent('page', { userId: 'signed-up', anonymousId: 'phone', timestamp: at(3) }),
    ]);

    expect(await userProfile('links', 'signed-up')).toMatchObject({ userId: 'signed-up', anonymousIds: ['phone', 'visitor'], traits: {} });
    expect(await anonymousProfile('links', 'visitor')).toMatchObject({
      anonymousId: 'visitor',
      userId: 'signed-up',
      traits: { referrer: 'ad' },
      counts: { identify: 1 },
    });
  });

  it('follows an alias chain both ways: each previous id says where it went', async () => {
    await deliver('chain', [
      segmentEvent('alias', { userId: 'second', previousId: 'first', timestamp: at(1) }),
      segmentEvent('alias', { userId: 'third', previousId: 'second', timestamp: at(2) }),
    ]);

    expect(await userProfile('chain', 'first')).toMatchObject({ aliasedTo: 'second', aliases: [] });
    expect(await userProfile('chain', 'second')).toMatchObject({ aliasedTo: 'third', aliases: ['first'] });
    const third = await userProfile('chain', 'third');
    expect(third).toMatchObject({ aliases: ['second'] });
    expect(third).not.toHaveProperty('aliasedTo');
  });
});

describe('groups', () => {
  it('adds groups to their members and merges group traits the convergent way', async () => {
    await deliver('groups', [
      segmentEvent('group', { userId: 'ann', groupId: 'acme', timestamp: at(2), traits: { name: 'Acme', plan: 'pro' } }),
      segmentEvent('group', { userId: 'bob', groupId: 'acme', timestamp: at(1), traits: { plan: 'free', employees: 12 } }),
      segmentEvent('group', { userId: 'ann', groupId: 'initech', timestamp: at(3), traits: {} }),
      segmentEvent('group', { userId: undefined, anonymousId: 'guest', groupId: 'acme', timestamp: at(4), traits: { seats: 5 } }),
    ]);

    expect((await userProfile('groups', 'ann'))?.groups).toEqual([
      { groupId: 'acme', traits: { employees: 12, name: 'Acme', plan: 'pro', seats: 5 } },
      { groupId: 'initech', traits: {} },
    ]);
    expect(await reader.members('groups', 'acme')).toEqual(['ann', 'bob']);
    expect(await reader.members('groups', 'initech')).toEqual(['ann']);
  });
});

describe('erasure', () => {
  /** The erasures table's audit records of `userId`. */
  async function auditOf(sourceId: string, userId: string) {
    const { Items = [] } = await stack.clients.documents.send(
      new QueryCommand({
        TableName: stack.config.tables.erasures,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `audit#${sourceId}` },
        ConsistentRead: true,
      }),
    );
    return Items.filter((item) => item.userHash === userHash(userId, stack.config.erasureHashKey ?? ''));
  }

  it("removes a linked user's profile, their links in other profiles and their memberships, and counts them", async () => {
    // Prepare: a user with an anonymous id (which has a trait of its own), an id aliased to them,
    // an id they were aliased to, and a group.
    await deliver('erase', [
      segmentEvent('identify', { userId: undefined, anonymousId: 'laptop', timestamp: at(1), traits: { theme: 'dark' } }),
      segmentEvent('identify', { userId: 'leaving', anonymousId: 'laptop', timestamp: at(2), traits: { email: 'l@example.com' } }),
      segmentEvent('alias', { userId: 'leaving', previousId: 'old-login', timestamp: at(3) }),
      segmentEvent('alias', { userId: 'new-login', previousId: 'leaving', timestamp: at(4) }),
      segmentEvent('group', { userId: 'leaving', groupId: 'team', timestamp: at(5), traits: { name: 'Team' } }),
      segmentEvent('group', { userId: 'staying', groupId: 'team', timestamp: at(6) }),
    ]);
    expect(await userProfile('erase', 'old-login')).toMatchObject({ aliasedTo: 'leaving' });

    // Act
    await deliver('erase', [segmentEvent('delete', { userId: 'leaving', timestamp: new Date().toISOString() })]);

    // Assess
    expect(await profileOf('erase', 'user', 'leaving')).toBeUndefined();
    expect(await anonymousProfile('erase', 'laptop')).toMatchObject({ userIds: [], traits: { theme: 'dark' } });
    expect(await reader.anonymousUsers('erase', 'laptop')).toEqual([]);
    expect(await profileOf('erase', 'user', 'old-login')).toBeUndefined(); // it held nothing but the link
    expect(await userProfile('erase', 'new-login')).toMatchObject({ aliases: [] });
    expect(await reader.members('erase', 'team')).toEqual(['staying']);
    const [audit] = await auditOf('erase', 'leaving');
    expect(audit).toMatchObject({ erased_profiles: 1, erased_profile_links: 3, erased_memberships: 1 });
  });

  it('removes both links of an id aliased both to and from the erased user, and counts both', async () => {
    await deliver('mutual', [
      segmentEvent('alias', { userId: 'twin', previousId: 'leaving', timestamp: at(1) }),
      segmentEvent('alias', { userId: 'leaving', previousId: 'twin', timestamp: at(2) }),
    ]);
    expect(await userProfile('mutual', 'twin')).toMatchObject({ aliases: ['leaving'], aliasedTo: 'leaving' });

    await deliver('mutual', [segmentEvent('delete', { userId: 'leaving', timestamp: new Date().toISOString() })]);

    const twin = await userProfile('mutual', 'twin');
    expect(twin).toMatchObject({ aliases: [] });
    expect(twin).not.toHaveProperty('aliasedTo');
    expect((await auditOf('mutual', 'leaving'))[0]).toMatchObject({ erased_profiles: 1, erased_profile_links: 2 });
  });

  it("does not let a tombstoned user's late events bring a profile back; later ones start a new one", async () => {
    await deliver('late', [segmentEvent('identify', { userId: 'gone', timestamp: at(1), traits: { plan: 'pro' } })]);
    await deliver('late', [segmentEvent('delete', { userId: 'gone', timestamp: new Date().toISOString() })]);

    await deliver('late', [
      segmentEvent('identify', { userId: 'gone', anonymousId: 'still-here', timestamp: at(2), traits: { plan: 'free' } }),
      segmentEvent('group', { userId: 'gone', groupId: 'club', timestamp: at(3) }),
      segmentEvent('alias', { userId: 'someone', previousId: 'gone', timestamp: at(4) }),
    ]);
    expect(await profileOf('late', 'user', 'gone')).toBeUndefined();
    expect(await anonymousProfile('late', 'still-here')).toBeUndefined();
    expect(await reader.members('late', 'club')).toEqual([]);
    // The alias names the erased user as its previousId: it links nobody to them.
    expect((await userProfile('late', 'someone'))?.aliases ?? []).toEqual([]);

    const later = new Date(Date.now() + 10 * 60_000).toISOString();
    await deliver('late', [segmentEvent('identify', { userId: 'gone', timestamp: later, traits: { plan: 'back' } })]);
    expect((await userProfile('late', 'gone'))?.traits).toEqual({ plan: 'back' });
  });

  it('erases again a profile written by a batch that raced the erasure', async () => {
    // Prepare: a batch whose profile write is held until the erasure of its user has run, as when
    // two worker invocations interleave (DynamoDB Local cannot be paused; the writer is wrapped).
    await deliver('race', [segmentEvent('identify', { userId: 'racer', timestamp: at(1) })]);
    const real = stack.workerDeps.writer;
    let erase: Promise<unknown> | undefined;
    const writer = {
      send: async (command: unknown) => {
        if (command instanceof BatchExecuteStatementCommand && !erase && profileWrites(command).includes('race#user#racer')) {
          erase = deliver('race', [segmentEvent('delete', { userId: 'racer', timestamp: new Date().toISOString() })]);
          await erase;
        }
        return (real.send as (c: unknown) => Promise<unknown>).call(real, command);
      },
    } as unknown as DynamoDBClient;

    // Act
    const failed = await deliver('race', [segmentEvent('identify', { userId: 'racer', anonymousId: 'r-anon', timestamp: at(2) })], 10, 5, {
      writer,
    });

    // Assess
    expect(erase).toBeDefined();
    expect(failed).toEqual([]);
    expect(await profileOf('race', 'user', 'racer')).toBeUndefined();
    expect(await anonymousProfile('race', 'r-anon')).toBeUndefined();
  });

  it('reads, updates and erases a stage holding profile items of earlier versions (one item per profile)', async () => {
    // Prepare: the items an earlier version wrote, raw: a profile-wide item of the user (traits,
    // an anonymous id, an alias, a group) and its activity item, the previous id's item naming the
    // user, and the key-only anonymous-user and member items.
    const v1 = `${at(1)}#m-1`;
    const legacy = (id: string, rest: Record<string, unknown>) => ({
      pk: `legacy#user#${id}`,
      sk: 'profile',
      kind: 'user',
      sourceId: 'legacy',
      userId: id,
      rev: 3,
      ...rest,
    });
    const raw = [
      legacy('old-user', {
        traits: { plan: 'old', email: 'e@example.com' },
        traitVersions: { plan: 0, email: 0 },
        versions: [v1],
        anonymousIds: { 'la-1': at(1).slice(0, 10) },
        aliases: { prev: v1 },
        groups: { lg: v1 },
      }),
      { pk: 'legacy#user#old-user', sk: 'activity', firstSeen: at(1), lastSeen: at(1), identifyCount: 1 },
      legacy('prev', { traits: { keep: 1 }, traitVersions: { keep: 0 }, versions: [v1], aliasedTo: { 'old-user': v1 } }),
      { pk: 'legacy#anon-users#la-1', sk: 'old-user', kind: 'anon-user', sourceId: 'legacy', anonymousId: 'la-1', userId: 'old-user' },
      { pk: 'legacy#members#lg', sk: 'old-user', kind: 'member', sourceId: 'legacy', groupId: 'lg', userId: 'old-user' },
    ];
    for (const item of raw) await stack.clients.documents.send(new PutCommand({ TableName: stack.config.tables.profiles, Item: item }));

    // Act 1: read as it is; then events newer and older than what the legacy item holds.
    const before = await profileOf('legacy', 'user', 'old-user');
    await deliver('legacy', [
      segmentEvent('identify', { userId: 'old-user', timestamp: at(2), traits: { plan: 'new' } }),
      segmentEvent('identify', { userId: 'old-user', timestamp: at(0), traits: { email: 'older@example.com' } }),
      segmentEvent('track', { userId: 'old-user', anonymousId: 'la-2', timestamp: at(3) }),
    ]);
    const after = await userProfile('legacy', 'old-user');

    // Assess 1: the legacy item's facts read, and merged with the new facts by the same order.
    expect(before && traitsView(before)).toEqual({ email: 'e@example.com', plan: 'old' });
    expect(after).toMatchObject({
      traits: { email: 'e@example.com', plan: 'new' },
      anonymousIds: ['la-1', 'la-2'],
      aliases: ['prev'],
      groups: [{ groupId: 'lg', traits: {} }],
    });
    expect(await userProfile('legacy', 'prev')).toMatchObject({ aliasedTo: 'old-user', traits: { keep: 1 } });

    // Act 2
    await deliver('legacy', [segmentEvent('delete', { userId: 'old-user', timestamp: new Date().toISOString() })]);

    // Assess 2: the user's partition is empty (legacy items included); the previous id keeps its
    // trait as a fact, without the link; the key-only items are gone; everything counted once.
    expect(await partition('legacy#user#old-user')).toEqual([]);
    const prev = await userProfile('legacy', 'prev');
    expect(prev).toMatchObject({ traits: { keep: 1 } });
    expect(prev).not.toHaveProperty('aliasedTo');
    // The converted legacy item's facts are small: they live in the profile's core item.
    const prevItems = await partition('legacy#user#prev');
    expect(prevItems.map((item) => item.sk)).toEqual(['core']);
    expect(Object.keys(prevItems[0]?.f as object)).toEqual(['t#keep']);
    expect(await reader.anonymousUsers('legacy', 'la-1')).toEqual([]);
    expect(await reader.anonymousUsers('legacy', 'la-2')).toEqual([]);
    expect(await reader.members('legacy', 'lg')).toEqual([]);
    const [audit] = await auditOf('legacy', 'old-user');
    expect(audit).toMatchObject({ erased_profiles: 1, erased_profile_links: 3, erased_memberships: 1 });
  });
});

describe('the core item', () => {
  it('keeps a small profile in its core item alone: traits and links in one map, not spilled', async () => {
    // Act
    await deliver('core-small', [
      segmentEvent('identify', { userId: 'small', anonymousId: 'phone', timestamp: at(1), traits: { plan: 'pro', seats: 3 } }),
      segmentEvent('group', { userId: 'small', groupId: 'team', timestamp: at(2) }),
    ]);

    // Assess
    const items = await partition('core-small#user#small');
    expect(items.map((item) => item.sk)).toEqual([CORE_SK]);
    expect(Object.keys(items[0]?.f as object).sort()).toEqual(['a#phone', 'g#team', 't#plan', 't#seats']);
    expect(items[0]).not.toHaveProperty('s');
    expect(itemBytes(marshallItem(items[0] as Record<string, unknown>))).toBeLessThanOrEqual(CORE_LIMIT_BYTES);
    expect(await userProfile('core-small', 'small')).toMatchObject({
      traits: { plan: 'pro', seats: 3 },
      anonymousIds: ['phone'],
      groups: [expect.objectContaining({ groupId: 'team' })],
    });
  });

  it('spills a profile grown past the core limit into fact items, marks the core spilled, and reads it back whole', async () => {
    // Prepare: 40 traits of about 100 bytes: about 6 KB, far past the core's 1 KB.
    const traits = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`t${i}`, `${i}`.padEnd(100, 'v')]));

    // Act
    await deliver('core-spill', [
      segmentEvent('identify', { userId: 'grown', anonymousId: 'desk', timestamp: at(1), traits: { plan: 'free' } }),
      segmentEvent('identify', { userId: 'grown', timestamp: at(2), traits }),
    ]);
    await deliver('core-spill', [segmentEvent('identify', { userId: 'grown', timestamp: at(3), traits: { plan: 'pro' } })]);

    // Assess: the core holds what fits, within its limit, the rest are items; the reader merges both.
    const items = await partition('core-spill#user#grown');
    const core = items.find((item) => item.sk === CORE_SK);
    expect(core).toMatchObject({ s: true });
    expect(itemBytes(marshallItem(core as Record<string, unknown>))).toBeLessThanOrEqual(CORE_LIMIT_BYTES);
    const inCore = Object.keys(core?.f as object);
    const inItems = items.filter((item) => item.sk !== CORE_SK).map((item) => String(item.sk));
    expect(inItems.length).toBeGreaterThan(0);
    expect(new Set([...inCore, ...inItems]).size).toBe(42);
    const view = await userProfile('core-spill', 'grown');
    expect(view).toMatchObject({ traits: { ...traits, plan: 'pro' }, anonymousIds: ['desk'] });
  });

  it('converges when a fact lives in the core in one order and in an item in another, and a stale duplicate item changes nothing', async () => {
    // Prepare: `plan` lands in the core when it comes before the large trait, in an item after it.
    // Under the trait value cap (1 KB), over what the core can add to itself.
    const big = 'b'.repeat(1000);
    const e1 = segmentEvent('identify', { userId: 'u', messageId: 'e1', timestamp: at(1), traits: { plan: 'free' } });
    const e2 = segmentEvent('identify', { userId: 'u', messageId: 'e2', timestamp: at(2), traits: { big } });
    const e3 = segmentEvent('identify', { userId: 'u', messageId: 'e3', timestamp: at(3), traits: { plan: 'pro' } });

    // Act: one event a batch, in three orders.
    for (const [source, order] of [
      ['core-order-1', [e1, e2, e3]],
      ['core-order-2', [e2, e3, e1]],
      ['core-order-3', [e3, e1, e2]],
    ] as const) {
      for (const event of order) expect(await deliver(source, [event])).toEqual([]);
    }

    // Assess: `plan` sits in the core in the first order, in an item in the second; the same profile.
    const where = async (source: string) => {
      const items = await partition(`${source}#user#u`);
      const core = items.find((item) => item.sk === CORE_SK);
      return Object.hasOwn((core?.f as object | undefined) ?? {}, 't#plan')
        ? 'core'
        : items.some((item) => item.sk === 't#plan')
          ? 'item'
          : 'none';
    };
    expect(await where('core-order-1')).toBe('core');
    expect(await where('core-order-2')).toBe('item');
    const views = await Promise.all(['core-order-1', 'core-order-2', 'core-order-3'].map((s) => userProfile(s, 'u')));
    for (const view of views) expect(view?.traits).toEqual({ plan: 'pro', big });
    // A stale `plan` item next to the core's newer one (a round cut short) is outweighed by `o`.
    const stale = { pk: 'core-order-1#user#u', sk: 't#plan', o: `${at(0)}#e0#0000000000000000`, v: 'stale' };
    await stack.clients.documents.send(new PutCommand({ TableName: stack.config.tables.profiles, Item: stale }));
    expect((await userProfile('core-order-1', 'u'))?.traits).toEqual({ plan: 'pro', big });
  });

  it("erases a spilled user's core and items, and the other ends the core names", async () => {
    // Prepare: links in the core (an alias both ways, an anonymous id, a group), a large trait in an item.
    await deliver('core-erase', [
      segmentEvent('alias', { userId: 'gone', previousId: 'before', timestamp: at(2) }),
      segmentEvent('alias', { userId: 'after', previousId: 'gone', timestamp: at(3) }),
      segmentEvent('group', { userId: 'gone', groupId: 'club', timestamp: at(4) }),
    ]);
    await deliver('core-erase', [
      segmentEvent('identify', { userId: 'gone', anonymousId: 'tablet', timestamp: at(5), traits: { big: 'g'.repeat(1000) } }),
    ]);
    const items = await partition('core-erase#user#gone');
    const core = items.find((item) => item.sk === CORE_SK);
    expect(core).toMatchObject({ s: true });
    expect(items.map((item) => item.sk)).toContain('t#big');
    expect(Object.keys(core?.f as object).sort()).toEqual(['al#before', 'at#after', 'g#club']);
    expect(Object.keys((await partition('core-erase#user#before'))[0]?.f as object)).toEqual(['at#gone']);

    // Act
    expect(await deliver('core-erase', [segmentEvent('delete', { userId: 'gone', timestamp: new Date().toISOString() })])).toEqual([]);

    // Assess
    expect(await partition('core-erase#user#gone')).toEqual([]);
    expect(await profileOf('core-erase', 'user', 'before')).toBeUndefined();
    expect(await userProfile('core-erase', 'after')).toMatchObject({ aliases: [] });
    expect(await reader.anonymousUsers('core-erase', 'tablet')).toEqual([]);
    expect(await reader.members('core-erase', 'club')).toEqual([]);
  });
});

describe('cost', () => {
  /** The stack's writer, listing the profiles it writes (DynamoDB Local cannot count requests). */
  function countingWriter() {
    const real = stack.workerDeps.writer;
    const puts: string[] = [];
    const writer = {
      send: (command: unknown) => {
        if (command instanceof BatchExecuteStatementCommand) puts.push(...profileWrites(command));
        return (real.send as (c: unknown) => Promise<unknown>).call(real, command);
      },
    } as unknown as DynamoDBClient;
    return { writer, puts };
  }

  it('makes no profile write for the activity of 1,000 events of one user, and derives it from the events', async () => {
    const events = Array.from({ length: 1000 }, (_, i) => segmentEvent(i % 10 ? 'track' : 'page', { userId: 'busy', timestamp: at(i) }));
    const { writer, puts } = countingWriter();

    const failed = await deliver('busy', events, 100, 10, { writer });

    expect(failed).toEqual([]);
    expect(puts).toEqual([]);
    expect(await userProfile('busy', 'busy')).toMatchObject({ firstSeen: at(0), lastSeen: at(999), counts: { track: 900, page: 100 } });
  });

  it('writes nothing for the activity of a known user, with profileActivity on or off (the worker ignores it)', async () => {
    await deliver('quiet', [segmentEvent('track', { userId: 'quiet', anonymousId: 'q-anon', timestamp: at(1) })]);
    const { writer, puts } = countingWriter();

    for (const profileActivity of [true, false]) {
      const config = { ...stack.workerDeps.config, profileActivity };
      const event = segmentEvent('track', { userId: 'quiet', anonymousId: 'q-anon', timestamp: at(profileActivity ? 2 : 3) });
      await deliver('quiet', [event], 10, 5, { config, writer });
    }

    expect(puts).toEqual([]);
    const profile = await userProfile('quiet', 'quiet');
    expect(profile).toMatchObject({ anonymousIds: ['q-anon'], firstSeen: at(1), lastSeen: at(3), counts: { track: 3 } });
  });
});

describe('the link memory (lib/worker/profiles/seen-links.ts)', () => {
  /** One worker (one Lambda instance, one memory) whose writer counts the profile reads of each batch. */
  function instance() {
    const real = stack.workerDeps.writer;
    const reads = { count: 0 };
    const writer = {
      send: (command: unknown) => {
        const tables = command instanceof BatchGetItemCommand ? Object.keys(command.input.RequestItems ?? {}) : [];
        if (tables.includes(stack.config.tables.profiles)) reads.count++;
        return (real.send as (c: unknown) => Promise<unknown>).call(real, command);
      },
    } as unknown as DynamoDBClient;
    const run = worker({ writer });
    const batch = async (sourceId: string, events: Record<string, unknown>[]) => {
      const before = reads.count;
      const { batchItemFailures } = await run(sqsEvent(...events.map((e) => sqsRecord(eventMessage(sourceId, [e])))));
      expect(batchItemFailures).toEqual([]);
      return { profileReads: reads.count - before };
    };
    return { batch };
  }

  it("reads no profile for a known user's later events with an anonymous id the same worker stored that day", async () => {
    const { batch } = instance();
    await batch('memory', [
      segmentEvent('identify', { userId: 'regular', anonymousId: 'phone', timestamp: at(1), traits: { plan: 'pro' } }),
    ]);

    const same = await batch('memory', [
      segmentEvent('track', { userId: 'regular', anonymousId: 'phone', timestamp: at(2) }),
      segmentEvent('page', { userId: 'regular', anonymousId: 'phone', timestamp: at(3) }),
    ]);
    const otherAnonymousId = await batch('memory', [segmentEvent('track', { userId: 'regular', anonymousId: 'tablet', timestamp: at(4) })]);
    const nextDay = await batch('memory', [segmentEvent('track', { userId: 'regular', anonymousId: 'phone', timestamp: at(86_400) })]);
    const identify = await batch('memory', [segmentEvent('identify', { userId: 'regular', anonymousId: 'phone', timestamp: at(86_401) })]);

    expect(same.profileReads).toBe(0);
    expect(otherAnonymousId.profileReads).toBeGreaterThan(0);
    expect(nextDay.profileReads).toBeGreaterThan(0);
    // Only a link is remembered: an identify (traits) reads its profile as before.
    expect(identify.profileReads).toBeGreaterThan(0);
    const profile = await userProfile('memory', 'regular');
    expect(profile).toMatchObject({ traits: { plan: 'pro' } });
    expect([...((profile?.anonymousIds as string[] | undefined) ?? [])].sort()).toEqual(['phone', 'tablet']);
    const stored = await profileOf('memory', 'user', 'regular');
    expect(stored?.links.get('anonymousIds')?.get('phone')).toBe(at(86_400).slice(0, 10));
    expect(await reader.anonymousUsers('memory', 'tablet')).toEqual(['regular']);
  });

  it('forgets what it remembers of a source once another worker erased a profile there', async () => {
    // Prepare: events after the delete's cut-off (now), so the erasure does not cover them.
    const later = (ms: number) => new Date(Date.now() + 10 * 60_000 + ms).toISOString();
    const first = instance();
    await first.batch('forget', [segmentEvent('identify', { userId: 'returns', anonymousId: 'desk', timestamp: later(0) })]);
    expect(
      (await first.batch('forget', [segmentEvent('track', { userId: 'returns', anonymousId: 'desk', timestamp: later(1) })])).profileReads,
    ).toBe(0);

    // Act: another worker erases the user, then the first gets the user's next event.
    await instance().batch('forget', [segmentEvent('delete', { userId: 'returns', timestamp: new Date().toISOString() })]);
    expect(await profileOf('forget', 'user', 'returns')).toBeUndefined();
    const after = await first.batch('forget', [segmentEvent('track', { userId: 'returns', anonymousId: 'desk', timestamp: later(2) })]);

    // Assess: the link is stored again, both ways.
    expect(after.profileReads).toBeGreaterThan(0);
    expect(await userProfile('forget', 'returns')).toMatchObject({ anonymousIds: ['desk'] });
    expect(await reader.anonymousUsers('forget', 'desk')).toEqual(['returns']);
  });

  it('uses no remembered link in a batch that erases users', async () => {
    const later = (ms: number) => new Date(Date.now() + 10 * 60_000 + ms).toISOString();
    const { batch } = instance();
    await batch('same-batch', [segmentEvent('identify', { userId: 'both', anonymousId: 'tv', timestamp: later(0) })]);
    expect(
      (await batch('same-batch', [segmentEvent('track', { userId: 'both', anonymousId: 'tv', timestamp: later(1) })])).profileReads,
    ).toBe(0);

    await batch('same-batch', [
      segmentEvent('delete', { userId: 'both', timestamp: new Date().toISOString() }),
      segmentEvent('track', { userId: 'both', anonymousId: 'tv', timestamp: later(2) }),
    ]);

    // The batch's erasure ran before its profiles: the later track's link is written again.
    expect(await userProfile('same-batch', 'both')).toMatchObject({ anonymousIds: ['tv'] });
    expect(await reader.anonymousUsers('same-batch', 'tv')).toEqual(['both']);
  });
});
