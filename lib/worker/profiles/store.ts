/**
 * Reading and writing profiles: BatchGetItem for the reads (100 keys a call), and one conditional
 * PutItem per profile, on the revision it read (`rev`). A write that loses a race with another
 * invocation (ConditionalCheckFailed) is not a failure: the profile is read again, strongly
 * consistent, merged again and written again. Every request goes through the worker's low-level
 * client (lib/shared/clients.ts `createWriteClient`), whose answers keep every attribute name.
 */
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { translateAwsError, type DependencyError } from '../../shared/errors';
import type { Log } from '../../shared/log';
import { DeadlineError, backoffDelay, retryPending, withinDeadline, type Backoff, type Clock } from '../../shared/retry';
import { marshallItem } from '../dynamo-wire';
import { fromAttributeMap, profileFromItem, profileItem } from './codec';
import { keyText, profileItemKey, profilePartitionKey, type ProfileKey } from './layout';
import { copyProfile, emptyProfile, mergeProfiles, type Profile } from './profile';

export interface ProfileStore {
  writer: DynamoDBClient;
  table: string;
  clock: Clock;
  log: Log;
}

const BATCH_GET_KEYS = 100;
const READ_BACKOFF: Backoff = { baseMs: 50, capMs: 1000, jitter: 'full' };
/** Between attempts of one profile's write after a conflict or a transient failure. */
const WRITE_BACKOFF: Backoff = { baseMs: 20, capMs: 500, jitter: 'full' };
const MAX_ATTEMPTS = 8;

function remaining(store: ProfileStore, deadline: number): number {
  return Math.max(1, Math.ceil(deadline - store.clock.now()));
}

/**
 * The items at `keys` of the profiles table, as JSON keyed by `pk`, read in pages of 100;
 * unprocessed keys are retried until `deadline`, then it throws (`DeadlineError`).
 */
export async function readItems(
  store: ProfileStore,
  keys: ReadonlyArray<{ pk: string; sk: string }>,
  consistent: boolean,
  deadline: number,
): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  const readPage = async (pending: ReadonlyArray<Record<string, AttributeValue>>) => {
    const command = new BatchGetItemCommand({ RequestItems: { [store.table]: { Keys: [...pending], ConsistentRead: consistent } } });
    const response = await withinDeadline(store.writer.send(command), remaining(store, deadline));
    for (const wire of response.Responses?.[store.table] ?? []) {
      const item = fromAttributeMap(wire);
      found.set(`${String(item.pk)}\u0000${String(item.sk)}`, item);
    }
    return response.UnprocessedKeys?.[store.table]?.Keys ?? [];
  };
  const unique = [...new Map(keys.map((k) => [`${k.pk}\u0000${k.sk}`, k])).values()];
  for (let i = 0; i < unique.length; i += BATCH_GET_KEYS) {
    const page = unique.slice(i, i + BATCH_GET_KEYS).map((k) => marshallItem(k));
    const { pending } = await retryPending(page, { policy: READ_BACKOFF, deadline, clock: store.clock }, readPage);
    if (pending.length > 0) throw new DeadlineError(remaining(store, deadline));
  }
  return found;
}

/** Stored profiles at `keys`, keyed by `keyText`; absent ones are missing from the map. */
export async function readProfiles(
  store: ProfileStore,
  keys: readonly ProfileKey[],
  consistent: boolean,
  deadline: number,
): Promise<Map<string, Profile>> {
  const items = await readItems(store, keys.map(profileItemKey), consistent, deadline);
  const profiles = new Map<string, Profile>();
  for (const key of keys) {
    const item = items.get(`${profilePartitionKey(key)}\u0000profile`);
    const profile = item && profileFromItem(item);
    if (profile) profiles.set(keyText(key), profile);
  }
  return profiles;
}

/** Puts `profile` if the stored revision is still `expected` (0: not stored); false when it is not. */
export async function putProfile(store: ProfileStore, profile: Profile, expected: number, deadline: number): Promise<boolean> {
  const command = new PutItemCommand({
    TableName: store.table,
    Item: marshallItem(profileItem(profile)),
    ConditionExpression: expected === 0 ? 'attribute_not_exists(pk)' : '#rev = :rev',
    ...(expected === 0
      ? {}
      : { ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': { N: String(expected) } } }),
  });
  try {
    await withinDeadline(store.writer.send(command), remaining(store, deadline));
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/** Deletes the stored profile if its revision is still `expected`; false when it is not. */
export async function deleteProfile(store: ProfileStore, key: ProfileKey, expected: number, deadline: number): Promise<boolean> {
  const command = new DeleteItemCommand({
    TableName: store.table,
    Key: marshallItem(profileItemKey(key)),
    ConditionExpression: '#rev = :rev',
    ExpressionAttributeNames: { '#rev': 'rev' },
    ExpressionAttributeValues: { ':rev': { N: String(expected) } },
  });
  try {
    await withinDeadline(store.writer.send(command), remaining(store, deadline));
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

export type UpdateResult =
  | { status: 'written' | 'unchanged' | 'deleted'; before: Profile | undefined; after: Profile; conflicts: number }
  | { status: 'failed'; error: DependencyError; conflicts: number };

/** What a change did: nothing, a change to write, or a change that leaves nothing worth keeping. */
export type Change = boolean | 'delete';

/**
 * Applies `change` to the stored profile at `key` (`known`: as already read, undefined when it was
 * not stored) and writes the result on the revision it was read at, reading again after a
 * conflict. `change` returns false when it changed nothing, and nothing is written. Never throws
 * for DynamoDB's answers: a failure after the attempts or the deadline is returned, classified.
 */
export async function updateProfile(
  store: ProfileStore,
  key: ProfileKey,
  known: Profile | undefined,
  change: (profile: Profile, stored: boolean) => Change,
  deadline: number,
): Promise<UpdateResult> {
  let current = known;
  let conflicts = 0;
  let failure: DependencyError | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) {
      const delay = backoffDelay(WRITE_BACKOFF, attempt);
      if (store.clock.now() + delay >= deadline) break;
      await store.clock.sleep(delay);
    }
    try {
      if (failure || conflicts > 0) current = (await readProfiles(store, [key], true, deadline)).get(keyText(key));
      const next = current ? copyProfile(current) : emptyProfile(key);
      const changed = change(next, current !== undefined);
      if (!changed) return { status: 'unchanged', before: current, after: next, conflicts };
      const expected = current?.rev ?? 0;
      if (changed === 'delete' && current) {
        if (await deleteProfile(store, key, expected, deadline)) return { status: 'deleted', before: current, after: next, conflicts };
      } else {
        next.rev = expected + 1;
        if (await putProfile(store, next, expected, deadline)) return { status: 'written', before: current, after: next, conflicts };
      }
      conflicts++;
      failure = undefined;
    } catch (error) {
      failure = translateAwsError(error, 'DynamoDB', 'DynamoDB refused the profile');
      if (failure.kind !== 'transient') break;
      store.log.warn('profile write failed; retrying', { error: failure.code, attempt });
    }
  }
  return { status: 'failed', error: failure ?? translateAwsError(new DeadlineError(0), 'DynamoDB'), conflicts };
}

/** `updateProfile` that merges `delta`; a profile not stored yet is created even when the delta holds nothing (a group without traits). */
export function mergeDelta(store: ProfileStore, delta: Profile, known: Profile | undefined, deadline: number): Promise<UpdateResult> {
  return updateProfile(store, delta.key, known, (profile, stored) => mergeProfiles(profile, delta) || !stored, deadline);
}
