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
import { anonymousUserKey, factItem, traitOrder, versionOf, type ProfileKey } from '../../../lib/tables/profiles';
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
  it('reads only the facts a delta touches, eventually consistent and their `o` only, and inserts the absent ones', async () => {
    // Prepare
    const { store, requests, operations } = profileStore(
      inTurn({ BatchGetItem: [nothing], BatchExecuteStatement: [statements(undefined)] }),
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'written', conflicts: 0 });
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement']);
    expect(requests[0]?.body).toMatchObject({
      RequestItems: { [TABLE]: { ConsistentRead: false, Keys: [{ pk: { S: 'src#user#u-1' }, sk: { S: 't#plan' } }] } },
    });
    expect(requests[0]?.text).toContain('ProjectionExpression');
    expect(requests[1]?.text).toContain('INSERT INTO');
  });

  it('updates an older fact on the condition that it is still older, and writes nothing over a newer one', async () => {
    // Prepare
    const older = profileStore(inTurn({ BatchGetItem: [storedPlan('u-1', V1)], BatchExecuteStatement: [statements(undefined)] }));
    const newer = profileStore(inTurn({ BatchGetItem: [storedPlan('u-1', V2.replace('m2', 'm3'))] }));

    // Act
    const [updated] = await writeProfiles(older.store, [planDelta('u-1')], FAR);
    const [kept] = await writeProfiles(newer.store, [planDelta('u-1')], FAR);

    // Assess
    expect(updated?.status).toBe('written');
    expect(older.requests[1]?.text).toContain('WHERE \\"pk\\" = ? AND \\"sk\\" = ? AND \\"o\\" < ?');
    expect(kept?.status).toBe('unchanged');
    expect(newer.operations()).toEqual(['BatchGetItem']);
  });

  it('retries a throttled statement after a pause, and writes it', async () => {
    // Prepare
    const { store, log, operations } = profileStore(
      inTurn({ BatchGetItem: [nothing], BatchExecuteStatement: [statements('ThrottlingError'), statements(undefined)] }),
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'written', conflicts: 0 });
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement', 'BatchExecuteStatement']);
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
  it('reads a fact again, strongly consistent, after a lost race, and is done when it is now at least ours', async () => {
    // Prepare: absent when read, someone else inserted a newer value meanwhile.
    const { store, requests, operations } = profileStore(
      inTurn({ BatchGetItem: [nothing, storedPlan('u-1', V2.replace('m2', 'm3'))], BatchExecuteStatement: [statements('DuplicateItem')] }),
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'unchanged', conflicts: 1 });
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement', 'BatchGetItem']);
    expect(requests[2]?.body).toMatchObject({ RequestItems: { [TABLE]: { ConsistentRead: true } } });
  });

  it('gives a fact that loses every race up after eight attempts, as a transient failure that counts its conflicts', async () => {
    // Prepare: each fresh read finds an older value, each write finds a newer one that is not ours.
    const { store, operations } = profileStore(
      inTurn({ BatchGetItem: [storedPlan('u-1', V1)], BatchExecuteStatement: [statements('ConditionalCheckFailed')] }),
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'failed', conflicts: 8 });
    expect(result?.error).toBeInstanceOf(TransientError);
    expect(operations().filter((o) => o === 'BatchExecuteStatement')).toHaveLength(8);
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
    const { store, operations } = profileStore(
      inTurn({
        BatchGetItem: [storedPlan('u-1', V1), dynamoError('InternalServerError')],
        BatchExecuteStatement: [statements('ConditionalCheckFailed'), statements(undefined)],
      }),
    );

    // Act
    const [result] = await writeProfiles(store, [planDelta('u-1')], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'written', conflicts: 1 });
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement', 'BatchGetItem', 'BatchExecuteStatement']);
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
    expect(operations()).toEqual(['BatchGetItem']);
    expect(requests[0]?.text).not.toContain('#user#u-1"');
    expect(requests[0]?.text).toContain('at#u-1');
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
