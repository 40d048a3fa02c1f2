/**
 * The failure paths of the profile store (changeProfiles, readItems, executeWrites) and of profile
 * erasure (eraseUserProfile, eraseLinks) over the in-process DynamoDB fake: a statement throttled,
 * refused or denied on its own inside a BatchExecuteStatement, a whole call refused, races lost
 * until the attempts or the time run out, a fresh read that fails, keys or deletions left
 * unprocessed, a profile deleted by someone else between its read and its write. DynamoDB Local answers none of these (it never throttles, never leaves keys
 * unprocessed, and a conflict there cannot be repeated on demand), so the fake forces them; the
 * integration tests (tests/integration/profiles.test.ts) cover the same code on real storage.
 */
import { ConfigurationError, RefusedItemError, TransientError } from '../../../lib/shared/errors';
import { DeadlineError, type Clock } from '../../../lib/shared/retry';
import { profileWireItem } from '../../../lib/tables/profiles';
import { anonymousUserKey, versionOf, type ProfileKey } from '../../../lib/tables/profiles';
import { emptyProfile, type Profile } from '../../../lib/worker/profiles/profile';
import { eraseLinks, eraseUserProfile } from '../../../lib/worker/profiles/erase';
import { changeProfiles, mergeRequest, readItems, type ProfileStore } from '../../../lib/worker/profiles/store';
import { marshallItem } from '../../../lib/tables/dynamo-wire';
import { byOperation, dynamoError, fakeDynamoDb, type Answer, type WireRequest } from '../../support/fake-dynamodb';
import { noWaitClock, steppedClock } from '../../support/clock';
import { recordingLog } from '../../support/worker-run';

const TABLE = 'profiles';
const FAR = Date.now() + 60_000;
const V1 = versionOf('2026-01-01T00:00:00.000Z', 'm1');

function profile(id: string, rev: number, traits: Record<string, unknown> = {}): Profile {
  const key: ProfileKey = { kind: 'user', sourceId: 'src', id };
  const p = emptyProfile(key);
  p.rev = rev;
  for (const [name, value] of Object.entries(traits)) p.traits.set(name, { value, version: V1 });
  return p;
}

/** A delta that sets trait `plan` on the profile of `id`. */
function planDelta(id: string): Profile {
  return profile(id, 0, { plan: 'pro' });
}

/** BatchGetItem's answer holding `profiles`. */
const found = (...profiles: Profile[]): Answer => ({ body: { Responses: { [TABLE]: profiles.map(profileWireItem) } } });

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

describe('changeProfiles when a statement fails on its own', () => {
  it('retries a throttled statement after reading the profile again, strongly consistent, and writes it on the new revision', async () => {
    // Prepare
    const stored = profile('u-1', 4);
    const { store, log, requests, operations } = profileStore(
      inTurn({ BatchExecuteStatement: [statements('ThrottlingError'), statements(undefined)], BatchGetItem: [found(stored)] }),
    );

    // Act
    const [result] = await changeProfiles(store, [mergeRequest(planDelta('u-1'), stored)], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'written', conflicts: 0 });
    expect(result?.status === 'written' && result.after.rev).toBe(5);
    expect(operations()).toEqual(['BatchExecuteStatement', 'BatchGetItem', 'BatchExecuteStatement']);
    expect(requests[1]?.body).toMatchObject({ RequestItems: { [TABLE]: { ConsistentRead: true } } });
    expect(log.lines).toContainEqual({ level: 'warn', message: 'profile write failed; retrying', extra: { error: 'ThrottlingException' } });
  });

  it.each([
    ['ValidationError', RefusedItemError, 'ValidationException'],
    ['AccessDenied', ConfigurationError, 'AccessDenied'],
  ])('fails a statement answered %s without retrying it, and writes the other profiles of the call', async (code, kind, name) => {
    // Prepare
    const { store, operations } = profileStore(inTurn({ BatchExecuteStatement: [statements(code, undefined)] }));

    // Act
    const results = await changeProfiles(
      store,
      [mergeRequest(planDelta('u-1'), undefined), mergeRequest(planDelta('u-2'), undefined)],
      FAR,
    );

    // Assess
    expect(results[0]?.status).toBe('failed');
    const error = results[0]?.status === 'failed' ? results[0].error : undefined;
    expect(error).toBeInstanceOf(kind);
    expect(error?.code).toBe(name);
    expect(results[1]?.status).toBe('written');
    expect(operations()).toEqual(['BatchExecuteStatement']);
  });

  it('fails every write of a call DynamoDB refuses as a whole (a missing table) as a configuration error, without retrying', async () => {
    // Prepare
    const { store, operations } = profileStore(inTurn({ BatchExecuteStatement: [dynamoError('ResourceNotFoundException')] }));

    // Act
    const results = await changeProfiles(
      store,
      [mergeRequest(planDelta('u-1'), undefined), mergeRequest(planDelta('u-2'), undefined)],
      FAR,
    );

    // Assess
    expect(results.map((r) => r.status)).toEqual(['failed', 'failed']);
    for (const r of results)
      expect(r.status === 'failed' && r.error).toMatchObject({ kind: 'configuration', code: 'ResourceNotFoundException' });
    expect(operations()).toEqual(['BatchExecuteStatement']);
  });
});

describe('changeProfiles when races are lost', () => {
  it('gives a profile that loses every race up after eight attempts, as a transient failure that counts its conflicts', async () => {
    // Prepare: someone else writes the profile between each read and each write.
    const stored = profile('u-1', 1);
    const { store, operations } = profileStore(
      inTurn({ BatchExecuteStatement: [statements('ConditionalCheckFailed')], BatchGetItem: [found(stored)] }),
    );

    // Act
    const [result] = await changeProfiles(store, [mergeRequest(planDelta('u-1'), stored)], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'failed', conflicts: 8 });
    expect(result?.status === 'failed' && result.error).toBeInstanceOf(TransientError);
    expect(operations().filter((o) => o === 'BatchExecuteStatement')).toHaveLength(8);
  });

  it('starts no other round once the time budget is spent, and fails the profile as transient (its messages are retried)', async () => {
    // Prepare: the write takes the whole budget (the clock moves while DynamoDB answers), and loses its race.
    const clock = steppedClock(1_000);
    const deadline = clock.now() + 5_000;
    const { store, operations } = profileStore(
      byOperation({
        BatchExecuteStatement: () => {
          clock.advance(5_000);
          return statements('ConditionalCheckFailed');
        },
      }),
      clock,
    );

    // Act
    const [result] = await changeProfiles(store, [mergeRequest(planDelta('u-1'), undefined)], deadline);

    // Assess
    expect(result).toMatchObject({ status: 'failed', conflicts: 1, error: { kind: 'transient', code: 'DeadlineError' } });
    expect(operations()).toEqual(['BatchExecuteStatement']);
  });

  it('tries again when the fresh read fails transiently, and writes on the revision a later read finds', async () => {
    // Prepare
    const stored = profile('u-1', 1);
    const newer = profile('u-1', 2, { seats: 3 });
    const { store, operations } = profileStore(
      inTurn({
        BatchExecuteStatement: [statements('ConditionalCheckFailed'), statements(undefined)],
        BatchGetItem: [dynamoError('InternalServerError'), found(newer)],
      }),
    );

    // Act
    const [result] = await changeProfiles(store, [mergeRequest(planDelta('u-1'), stored)], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'written', conflicts: 1 });
    const after = result?.status === 'written' ? result.after : undefined;
    expect(after?.rev).toBe(3);
    expect([...(after?.traits.keys() ?? [])].sort()).toEqual(['plan', 'seats']);
    expect(operations()).toEqual(['BatchExecuteStatement', 'BatchGetItem', 'BatchGetItem', 'BatchExecuteStatement']);
  });

  it('stops at once when the fresh read is denied, failing the profile with that configuration error', async () => {
    // Prepare
    const { store, operations } = profileStore(
      inTurn({ BatchExecuteStatement: [statements('ConditionalCheckFailed')], BatchGetItem: [dynamoError('AccessDeniedException')] }),
    );

    // Act
    const [result] = await changeProfiles(store, [mergeRequest(planDelta('u-1'), undefined)], FAR);

    // Assess
    expect(result).toMatchObject({ status: 'failed', conflicts: 1, error: { kind: 'configuration', code: 'AccessDeniedException' } });
    expect(operations()).toEqual(['BatchExecuteStatement', 'BatchGetItem']);
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

describe('eraseUserProfile when its writes fail or race', () => {
  it("counts no profile when someone else deleted the user's profile between its read and its deletion, and does not fail", async () => {
    // Prepare: the read finds the profile, the delete on that revision loses, the fresh read finds nothing.
    const own = profile('u-1', 3, { plan: 'pro' });
    const { store, operations } = profileStore(
      inTurn({ BatchGetItem: [found(own), found()], BatchExecuteStatement: [statements('ConditionalCheckFailed')] }),
    );

    // Act
    const erased = await eraseUserProfile(store, 'src', 'u-1', {}, FAR);

    // Assess
    expect(erased).toEqual({ profiles: 0, links: 0, memberships: 0 });
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement', 'BatchGetItem']);
  });

  it("throws the error when DynamoDB refuses to delete the user's profile, so the delete message is retried", async () => {
    // Prepare
    const { store } = profileStore(
      inTurn({ BatchGetItem: [found(profile('u-1', 1, { plan: 'pro' }))], BatchExecuteStatement: [statements('AccessDenied')] }),
    );

    // Act
    const erasing = eraseUserProfile(store, 'src', 'u-1', {}, FAR);

    // Assess
    await expect(erasing).rejects.toMatchObject({ kind: 'configuration', code: 'AccessDenied' });
  });
});

describe('eraseLinks', () => {
  it("leaves alone the user's own id among the hints and a profile that does not name the user, writing nothing", async () => {
    // Prepare: "old" was aliased to someone else, not to u-1.
    const old = profile('old', 2);
    old.links.set('aliasedTo', new Map([['u-2', V1]]));
    const { store, requests, operations } = profileStore(inTurn({ BatchGetItem: [found(old)] }));

    // Act
    const erased = await eraseLinks(store, 'src', 'u-1', { aliases: ['u-1', 'old'] }, FAR);

    // Assess
    expect(erased).toEqual({ profiles: 0, links: 0, memberships: 0 });
    expect(operations()).toEqual(['BatchGetItem']);
    expect(requests[0]?.text).not.toContain('#user#u-1"');
  });

  it('counts no link when the linked profile was deleted before its write, and writes nothing more', async () => {
    // Prepare: "old" names u-1 when read, loses its write, and is gone when read again.
    const old = profile('old', 2);
    old.links.set('aliasedTo', new Map([['u-1', V1]]));
    const { store, operations } = profileStore(
      inTurn({ BatchGetItem: [found(old), found()], BatchExecuteStatement: [statements('ConditionalCheckFailed')] }),
    );

    // Act
    const erased = await eraseLinks(store, 'src', 'u-1', { aliases: ['old'] }, FAR);

    // Assess
    expect(erased.links).toBe(0);
    expect(operations()).toEqual(['BatchGetItem', 'BatchExecuteStatement', 'BatchGetItem']);
  });

  it('throws when the removal of a link is refused, so the erasure is retried rather than reported done', async () => {
    // Prepare
    const old = profile('old', 2, { plan: 'pro' });
    old.links.set('aliasedTo', new Map([['u-1', V1]]));
    const { store } = profileStore(inTurn({ BatchGetItem: [found(old)], BatchExecuteStatement: [statements('ValidationError')] }));

    // Act
    const erasing = eraseLinks(store, 'src', 'u-1', { aliases: ['old'] }, FAR);

    // Assess
    await expect(erasing).rejects.toBeInstanceOf(RefusedItemError);
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
