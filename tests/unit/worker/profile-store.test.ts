/**
 * The failure paths of the profile store (writeProfiles, readItems, executeWrites) and of profile
 * erasure (eraseUserProfile, eraseLinks) over the in-process DynamoDB fake: a statement throttled,
 * refused or denied on its own inside a BatchExecuteStatement, a whole call refused, races lost
 * until the attempts or the time run out, a fresh read that fails, keys or deletions left
 * unprocessed. DynamoDB Local answers none of these (it never throttles, never leaves keys
 * unprocessed, and a conflict there cannot be repeated on demand), so the fake forces them; the
 * integration tests (tests/integration/profiles.test.ts) cover the same code on real storage.
 */
import { ConfigurationError, RefusedItemError, TransientError } from '../../../lib/shared/errors';
import { DeadlineError, type Clock } from '../../../lib/shared/retry';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { anonymousUserKey, CORE_LIMIT_BYTES, factItem, traitOrder, versionOf, type ProfileKey } from '../../../lib/tables/profiles';
import { emptyProfile, type Profile } from '../../../lib/worker/profiles/profile';
import { eraseLinks, eraseUserProfile } from '../../../lib/worker/profiles/erase';
import { readItems, writeProfiles, type ProfileStore } from '../../../lib/worker/profiles/store';
import { marshallItem } from '../../../lib/tables/dynamo-wire';
import { byOperation, dynamoError, fakeDynamoDb, type Answer, type WireRequest } from '../../support/fake-dynamodb';
import { noWaitClock, steppedClock } from '../../support/clock';
import { recordingLog } from '../../support/worker-run';

const TABLE = 'profiles';
const FAR = Date.now() + 60_000;
const V1 = versionOf('2026-01-01T00:00:00.000Z', 'm1');
const V2 = versionOf('2026-01-02T00:00:00.000Z', 'm2');
const key = (id: string): ProfileKey => ({ kind: 'user', sourceId: 'src', id });

/** A delta that sets trait `plan` on the profile of `id`, at `version`. */
function planDelta(id: string, version = V2, value: unknown = 'pro'): Profile {
  const p = emptyProfile(key(id));
  p.traits.set('plan', { value, order: traitOrder(version, value) });
  return p;
}

/** BatchGetItem's answer holding the `plan` fact of `id` at `version` (its `o` and keys, as the worker reads them). */
const storedPlan = (id: string, version: string): Answer => ({
  body: {
    Responses: { [TABLE]: [marshallItem(factItem(key(id), { kind: 'trait', name: 'plan', o: traitOrder(version, 'old'), value: 'old' }))] },
  },
});
const nothing: Answer = { body: { Responses: { [TABLE]: [] } } };
const V3 = versionOf('2026-01-03T00:00:00.000Z', 'm3');

/** A core's `f` entry for trait `plan` at `version`. */
const planEntry = (version: string) => ({ 't#plan': { o: traitOrder(version, 'old'), v: 'old' } });

/** BatchGetItem's answer holding the core item of `id`. */
const storedCore = (id: string, rev: number, f: Record<string, unknown>, spilled = false): Answer => ({
  body: { Responses: { [TABLE]: [marshallItem({ pk: `src#user#${id}`, sk: 'core', rev, f, ...(spilled ? { s: true } : {}) })] } },
});

/** The statements, and their parameters, of a BatchExecuteStatement request. */
const statementsOf = (request: WireRequest | undefined) =>
  ((request?.body as { Statements?: Array<{ Statement: string }> }).Statements ?? []).map((s) => s.Statement);
const parametersOf = (request: WireRequest | undefined) =>
  ((request?.body as { Statements?: Array<{ Parameters: AttributeValue[] }> }).Statements ?? []).map((s) => s.Parameters);

/** BatchExecuteStatement's answer: one response per statement, an error code or success (undefined). */
const statements = (...codes: Array<string | undefined>): Answer => ({
  body: { Responses: codes.map((Code) => (Code === undefined ? {} : { Error: { Code, Message: `${Code} from the fake` } })) },
});

function profileStore(answer: (request: WireRequest, index: number) => Answer | Promise<Answer>, clock: Clock = noWaitClock) {
  const fake = fakeDynamoDb(answer);
  const log = recordingLog();
  const store: ProfileStore = { writer: fake.writer, table: TABLE, clock, log };
  return { store, log, requests: fake.requests, operations: () => fake.requests.map((r) => r.operation) };
}

/** Answers the n-th call of each operation (from 0) with `answers[operation][n]`, the last one again after that. */
function inTurn(answers: Partial<Record<string, Answer[]>>) {
  const counts: Record<string, number> = {};
  return byOperation(
    Object.fromEntries(
      Object.entries(answers).map(([operation, list = []]) => [
        operation,
        () => {
          const n = (counts[operation] = (counts[operation] ?? -1) + 1);
          return list[Math.min(n, list.length - 1)];
        },
      ]),
    ),
  );
}

describe('writeProfiles', () => {
  it("reads the cores of the profiles a batch touches, eventually consistent, and inserts a core holding a small profile's facts", async () => {
    // Prepare
    const { store, requests, operations } = profileStore(
      inTurn({ BatchGetItem: [nothing], BatchExecuteStatement: [statements(undefined)] }),
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], FAR);

    // Assess: an absent core is a profile not spilled; its fact items are not read.
    expect(result).toMatchObject({ status: 'written', conflicts: 0 });
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement']);
    expect(requests[0]?.body).toMatchObject({
      RequestItems: { [TABLE]: { ConsistentRead: false, Keys: [{ pk: { S: 'src#user#u-1' }, sk: { S: 'core' } }] } },
    });
    expect(statementsOf(requests[1])).toEqual([
      expect.stringMatching(/^INSERT INTO "profiles" VALUE \{'pk': \?, 'sk': \?, 'rev': \?, 'f': \?\}$/),
    ]);
    expect(parametersOf(requests[1])[0]?.[3]).toEqual({ M: { 't#plan': { M: { o: { S: traitOrder(V2, 'pro') }, v: { S: 'pro' } } } } });
  });

  it('updates a core on the revision read, and writes nothing when the core holds the fact at least as recent', async () => {
    // Prepare
    const older = profileStore(
      inTurn({ BatchGetItem: [storedCore('u-1', 3, planEntry(V1))], BatchExecuteStatement: [statements(undefined)] }),
    );
    const newer = profileStore(inTurn({ BatchGetItem: [storedCore('u-1', 3, planEntry(V3))] }));

    // Act
    const [updated] = await writeProfiles(older.store, [planDelta('u-1')], FAR);
    const [kept] = await writeProfiles(newer.store, [planDelta('u-1')], FAR);

    // Assess
    expect(updated?.status).toBe('written');
    expect(statementsOf(older.requests[1])).toEqual([expect.stringMatching(/ WHERE "pk" = \? AND "sk" = \? AND "rev" = \?$/)]);
    expect(parametersOf(older.requests[1])[0]?.slice(-1)).toEqual([{ N: '3' }]);
    expect(parametersOf(older.requests[1])[0]?.[0]).toEqual({ N: '4' });
    expect(kept?.status).toBe('unchanged');
    expect(newer.operations()).toEqual(['BatchGetItem']);
  });

  it("reads a spilled profile's delta facts from their items (`o` only), and updates an older item on the condition that it is still older", async () => {
    // Prepare: the core says spilled and does not hold `plan`; its item holds an older value.
    const { store, requests, operations } = profileStore(
      inTurn({ BatchGetItem: [storedCore('u-1', 1, {}, true), storedPlan('u-1', V1)], BatchExecuteStatement: [statements(undefined)] }),
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], FAR);

    // Assess: one item write; the core is unchanged (spilled already), so not written.
    expect(result).toMatchObject({ status: 'written', conflicts: 0 });
    expect(operations()).toEqual(['BatchGetItem', 'BatchGetItem', 'BatchExecuteStatement']);
    expect(requests[1]?.body).toMatchObject({ RequestItems: { [TABLE]: { Keys: [{ sk: { S: 't#plan' } }] } } });
    expect(requests[1]?.text).toContain('ProjectionExpression');
    expect(statementsOf(requests[2])).toEqual([expect.stringMatching(/ WHERE "pk" = \? AND "sk" = \? AND "o" < \?$/)]);
  });

  it('writes a fact that does not fit the core as an item, then marks the core spilled', async () => {
    // Prepare
    const big = planDelta('u-1', V2, 'x'.repeat(CORE_LIMIT_BYTES));
    const { store, requests, operations } = profileStore(
      inTurn({ BatchGetItem: [nothing], BatchExecuteStatement: [statements(undefined), statements(undefined)] }),
    );

    // Act
    const [result] = await writeProfiles(store, [big], FAR);

    // Assess: the item first, then the core (so a fact never leaves a core before its item holds it).
    expect(result).toMatchObject({ status: 'written' });
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement', 'BatchExecuteStatement']);
    expect(parametersOf(requests[1])[0]?.[1]).toEqual({ S: 't#plan' });
    expect(statementsOf(requests[2])).toEqual([
      expect.stringMatching(/^INSERT INTO "profiles" VALUE \{'pk': \?, 'sk': \?, 'rev': \?, 'f': \?, 's': \?\}$/),
    ]);
    expect(parametersOf(requests[2])[0]?.slice(3)).toEqual([{ M: {} }, { BOOL: true }]);
  });

  it('moves the largest facts out of a core grown past the limit into items, and keeps the others in it', async () => {
    // Prepare: the core holds `plan` (600 bytes) and `note` (small); the delta makes `note` 500 bytes.
    const plan = { o: traitOrder(V1, 'p'.repeat(600)), v: 'p'.repeat(600) };
    const note = (value: string) => ({ o: traitOrder(V1, value), v: value });
    const delta = emptyProfile(key('u-1'));
    delta.traits.set('note', { value: 'n'.repeat(500), order: traitOrder(V2, 'n'.repeat(500)) });
    const { store, requests } = profileStore(
      inTurn({
        BatchGetItem: [storedCore('u-1', 1, { 't#plan': plan, 't#note': note('short') })],
        BatchExecuteStatement: [statements(undefined), statements(undefined)],
      }),
    );

    // Act
    const [result] = await writeProfiles(store, [delta], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'written' });
    expect(statementsOf(requests[1])).toEqual([expect.stringMatching(/^INSERT INTO /)]);
    expect(parametersOf(requests[1])[0]?.slice(1, 3)).toEqual([{ S: 't#plan' }, { S: plan.o }]);
    const core = parametersOf(requests[2])[0] ?? [];
    expect(Object.keys(core[1]?.M ?? {})).toEqual(['t#note']);
    expect(core[2]).toEqual({ BOOL: true });
  });

  it('retries a throttled statement after a pause, reading the core again, and writes it', async () => {
    // Prepare
    const { store, log, operations } = profileStore(
      inTurn({ BatchGetItem: [nothing], BatchExecuteStatement: [statements('ThrottlingError'), statements(undefined)] }),
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'written', conflicts: 0 });
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement', 'BatchGetItem', 'BatchGetItem', 'BatchExecuteStatement']);
    expect(log.lines).toContainEqual({ level: 'warn', message: 'profile write failed; retrying', extra: { error: 'ThrottlingException' } });
  });

  it.each([
    ['ValidationError', RefusedItemError, 'ValidationException'],
    ['AccessDenied', ConfigurationError, 'AccessDenied'],
  ])('fails a statement answered %s without retrying it, and writes the other profiles of the call', async (code, kind, name) => {
    // Prepare
    const { store, operations } = profileStore(inTurn({ BatchGetItem: [nothing], BatchExecuteStatement: [statements(code, undefined)] }));

    // Act
    const results = await writeProfiles(store, [planDelta('u-1'), planDelta('u-2')], FAR);

    // Assess
    expect(results[0]?.status).toBe('failed');
    expect(results[0]?.error).toBeInstanceOf(kind);
    expect(results[0]?.error?.code).toBe(name);
    expect(results[1]?.status).toBe('written');
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement']);
  });

  it('fails every write of a call DynamoDB refuses as a whole (a missing table) as a configuration error, without retrying', async () => {
    // Prepare
    const { store, operations } = profileStore(
      inTurn({ BatchGetItem: [nothing], BatchExecuteStatement: [dynamoError('ResourceNotFoundException')] }),
    );

    // Act
    const results = await writeProfiles(store, [planDelta('u-1'), planDelta('u-2')], FAR);

    // Assess
    expect(results.map((r) => r.status)).toEqual(['failed', 'failed']);
    for (const r of results) expect(r.error).toMatchObject({ kind: 'configuration', code: 'ResourceNotFoundException' });
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement']);
  });

  it('refuses, before any write, a fact DynamoDB would refuse for its size, and counts it as refused', async () => {
    // Prepare: a value no event can give (storableTrait caps them at 1 KB), put in the delta by hand.
    const huge = planDelta('u-1', V2, 'x'.repeat(401 * 1024));
    const { store, operations } = profileStore(inTurn({ BatchGetItem: [nothing], BatchExecuteStatement: [statements(undefined)] }));

    // Act
    const [result] = await writeProfiles(store, [huge], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'failed', error: { kind: 'refused', code: 'ItemTooLarge' } });
    expect(operations()).not.toContain('BatchExecuteStatement');
  });
});

describe('writeProfiles when races are lost', () => {
  it('reads the core again, strongly consistent, after a lost race, and is done when it now holds the fact at least as recent', async () => {
    // Prepare: absent when read; someone else inserted a core with a newer value meanwhile.
    const { store, requests, operations } = profileStore(
      inTurn({ BatchGetItem: [nothing, storedCore('u-1', 1, planEntry(V3))], BatchExecuteStatement: [statements('DuplicateItem')] }),
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'unchanged', conflicts: 1 });
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement', 'BatchGetItem', 'BatchGetItem']);
    expect(requests[2]?.body).toMatchObject({ RequestItems: { [TABLE]: { ConsistentRead: true } } });
    expect(requests[3]?.body).toMatchObject({ RequestItems: { [TABLE]: { ConsistentRead: true, Keys: [{ sk: { S: 't#plan' } }] } } });
  });

  it("reads the delta's items on a retry round even when the core is not marked spilled, and writes no item a cut-short round already holds", async () => {
    // Prepare: a fact too large for the core; its item exists already (an earlier round wrote it,
    // and its core write was cut short, so the core never said spilled).
    const big = planDelta('u-1', V2, 'x'.repeat(CORE_LIMIT_BYTES));
    const { store, requests, operations } = profileStore(
      inTurn({ BatchGetItem: [nothing, nothing, storedPlan('u-1', V3)], BatchExecuteStatement: [statements('DuplicateItem')] }),
    );

    // Act
    const [result] = await writeProfiles(store, [big], FAR);

    // Assess: the second round reads the item, finds it newer, and writes nothing more.
    expect(result).toMatchObject({ status: 'unchanged', conflicts: 1 });
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement', 'BatchGetItem', 'BatchGetItem']);
    expect(requests[3]?.body).toMatchObject({ RequestItems: { [TABLE]: { Keys: [{ sk: { S: 't#plan' } }] } } });
  });

  it("writes on the core's new revision after a lost race, keeping what the other write added", async () => {
    // Prepare: the core moved from rev 1 to rev 2 (another invocation added an anonymous id).
    const other = { 'a#laptop': { o: '2026-01-02' } };
    const { store, requests } = profileStore(
      inTurn({
        BatchGetItem: [storedCore('u-1', 1, {}), storedCore('u-1', 2, other)],
        BatchExecuteStatement: [statements('ConditionalCheckFailed'), statements(undefined)],
      }),
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'written', conflicts: 1 });
    const [rev, f, , , read] = parametersOf(requests[4])[0] ?? [];
    expect(rev).toEqual({ N: '3' });
    expect(Object.keys(f?.M ?? {}).sort()).toEqual(['a#laptop', 't#plan']);
    expect(read).toEqual({ N: '2' });
  });

  it('gives a profile that loses every race up after sixteen rounds, as a transient failure that counts its conflicts', async () => {
    // Prepare: each fresh read finds an older value, each write finds the core moved.
    const { store, operations } = profileStore(
      inTurn({ BatchGetItem: [storedCore('u-1', 1, planEntry(V1))], BatchExecuteStatement: [statements('ConditionalCheckFailed')] }),
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'failed', conflicts: 16 });
    expect(result?.error).toBeInstanceOf(TransientError);
    expect(operations().filter((o) => o === 'BatchExecuteStatement')).toHaveLength(16);
  });

  it('starts no other round once the time budget is spent, and fails the profile as transient (its messages are retried)', async () => {
    // Prepare: the write takes the whole budget (the clock moves while DynamoDB answers), and loses its race.
    const clock = steppedClock(1_000);
    const deadline = clock.now() + 5_000;
    const { store, operations } = profileStore(
      byOperation({
        BatchGetItem: () => nothing,
        BatchExecuteStatement: () => {
          clock.advance(5_000);
          return statements('ConditionalCheckFailed');
        },
      }),
      clock,
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], deadline);

    // Assess
    expect(result).toMatchObject({ status: 'failed', conflicts: 1, error: { kind: 'transient' } });
    expect(operations().filter((o) => o === 'BatchExecuteStatement')).toHaveLength(1);
  });

  it('tries again when the fresh read fails transiently, and writes when a later attempt goes through', async () => {
    // Prepare
    const core = storedCore('u-1', 1, planEntry(V1));
    const { store, operations } = profileStore(
      inTurn({
        BatchGetItem: [core, dynamoError('InternalServerError'), core],
        BatchExecuteStatement: [statements('ConditionalCheckFailed'), statements(undefined)],
      }),
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'written', conflicts: 1 });
    expect(operations()).toEqual([
      'BatchGetItem',
      'BatchExecuteStatement',
      'BatchGetItem',
      'BatchGetItem',
      'BatchGetItem',
      'BatchExecuteStatement',
    ]);
  });

  it('stops at once when the fresh read is denied, failing the profile with that configuration error', async () => {
    // Prepare
    const { store, operations } = profileStore(
      inTurn({
        BatchGetItem: [nothing, dynamoError('AccessDeniedException')],
        BatchExecuteStatement: [statements('ConditionalCheckFailed')],
      }),
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'failed', conflicts: 1, error: { kind: 'configuration', code: 'AccessDeniedException' } });
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement', 'BatchGetItem']);
  });
});

describe('readItems', () => {
  it('asks again for the keys DynamoDB leaves unprocessed, and throws DeadlineError when they are still unread at the deadline', async () => {
    // Prepare
    const clock = steppedClock(0);
    const key = { pk: 'src#user#u-1', sk: 'profile' };
    const { store, operations } = profileStore(
      byOperation({ BatchGetItem: () => ({ body: { Responses: {}, UnprocessedKeys: { [TABLE]: { Keys: [marshallItem(key)] } } } }) }),
      clock,
    );

    // Act
    const reading = readItems(store, [key], true, 5_000);

    // Assess
    await expect(reading).rejects.toBeInstanceOf(DeadlineError);
    expect(operations().length).toBeGreaterThan(1);
    expect(clock.time).toBeLessThanOrEqual(5_000);
  });
});

describe('eraseUserProfile when its deletes fail', () => {
  it("throws the error when DynamoDB refuses to delete the user's items, so the delete message is retried", async () => {
    // Prepare: the partition holds one trait; its deletion is denied.
    const trait = marshallItem(factItem(key('u-1'), { kind: 'trait', name: 'plan', o: traitOrder(V1, 'pro'), value: 'pro' }));
    const { store, operations } = profileStore(
      inTurn({ Query: [{ body: { Items: [trait] } }], BatchWriteItem: [dynamoError('AccessDeniedException')] }),
    );

    // Act
    const erasing = eraseUserProfile(store, 'src', 'u-1', {}, FAR);

    // Assess
    await expect(erasing).rejects.toMatchObject({ kind: 'configuration', code: 'AccessDeniedException' });
    expect(operations()).toEqual(['Query', 'BatchWriteItem']);
  });

  it('counts no profile and deletes nothing when the partition is empty', async () => {
    // Prepare
    const { store, requests, operations } = profileStore(inTurn({ Query: [{ body: { Items: [] } }] }));

    // Act
    const erased = await eraseUserProfile(store, 'src', 'u-1', {}, FAR);

    // Assess
    expect(erased).toEqual({ profiles: 0, links: 0, memberships: 0 });
    expect(operations()).toEqual(['Query']);
    expect(requests[0]?.body).toMatchObject({ ConsistentRead: true });
  });
});

describe('eraseLinks', () => {
  it("leaves alone the user's own id among the hints and a profile that does not name the user, writing nothing", async () => {
    // Prepare: "old" holds no alias fact naming u-1 (and no legacy item).
    const { store, requests, operations } = profileStore(inTurn({ BatchGetItem: [nothing] }));

    // Act
    const erased = await eraseLinks(store, 'src', 'u-1', { aliases: ['u-1', 'old'] }, FAR);

    // Assess
    expect(erased).toEqual({ profiles: 0, links: 0, memberships: 0 });
    expect(operations()).toEqual(['BatchGetItem', 'BatchGetItem']);
    expect(requests[0]?.text).not.toContain('#user#u-1"');
    expect(requests[0]?.text).toContain('at#u-1');
    expect(requests[1]?.body).toMatchObject({ RequestItems: { [TABLE]: { Keys: [{ pk: { S: 'src#user#old' }, sk: { S: 'core' } }] } } });
  });

  it("removes an alias link held in the other profile's core, on the core's revision, and counts it", async () => {
    // Prepare: "old" holds the link naming u-1 in its core, next to a trait.
    const f = { 'at#u-1': { o: V1 }, ...planEntry(V1) };
    const { store, requests, operations } = profileStore(
      inTurn({
        BatchGetItem: [nothing, storedCore('old', 4, f)],
        BatchExecuteStatement: [statements(undefined)],
      }),
    );

    // Act
    const erased = await eraseLinks(store, 'src', 'u-1', { aliases: ['old'] }, FAR);

    // Assess
    expect(erased.links).toBe(1);
    expect(operations()).toEqual(['BatchGetItem', 'BatchGetItem', 'BatchExecuteStatement']);
    const [rev, written, , , read] = parametersOf(requests[2])[0] ?? [];
    expect(rev).toEqual({ N: '5' });
    expect(Object.keys(written?.M ?? {})).toEqual(['t#plan']);
    expect(read).toEqual({ N: '4' });
  });

  it('deletes again what BatchWriteItem leaves unprocessed, after a pause, and counts the link once', async () => {
    // Prepare
    const clock = steppedClock(0);
    const link = anonymousUserKey('src', 'a-1', 'u-1');
    const leftOver = { UnprocessedItems: { [TABLE]: [{ DeleteRequest: { Key: marshallItem(link) } }] } };
    const { store, requests } = profileStore(
      inTurn({
        BatchGetItem: [{ body: { Responses: { [TABLE]: [marshallItem(link)] } } }],
        BatchWriteItem: [{ body: leftOver }, { body: { UnprocessedItems: {} } }],
      }),
      clock,
    );

    // Act
    const erased = await eraseLinks(store, 'src', 'u-1', { anonymousIds: ['a-1'] }, 60_000);

    // Assess
    expect(erased.links).toBe(1);
    const deletes = requests.filter((r) => r.operation === 'BatchWriteItem');
    expect(deletes).toHaveLength(2);
    expect(deletes[1]?.body).toEqual(deletes[0]?.body);
    expect(clock.time).toBe(50);
  });

  it('gives up with an error once the time runs out while deletions stay unprocessed', async () => {
    // Prepare
    const clock = steppedClock(0);
    const link = anonymousUserKey('src', 'a-1', 'u-1');
    const { store, operations } = profileStore(
      inTurn({
        BatchGetItem: [{ body: { Responses: { [TABLE]: [marshallItem(link)] } } }],
        BatchWriteItem: [{ body: { UnprocessedItems: { [TABLE]: [{ DeleteRequest: { Key: marshallItem(link) } }] } } }],
      }),
      clock,
    );

    // Act
    const erasing = eraseLinks(store, 'src', 'u-1', { anonymousIds: ['a-1'] }, 200);

    // Assess
    await expect(erasing).rejects.toThrow('profile erasure ran out of time');
    expect(operations().filter((o) => o === 'BatchWriteItem')).toHaveLength(4);
  });
});
