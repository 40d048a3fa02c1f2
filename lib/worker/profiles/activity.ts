/**
 * A profile's activity (`firstSeen`, `lastSeen`, counts per event type) in the activity item of
 * its partition (lib/tables/profiles.ts), apart from the identity: a batch's activity of one
 * profile is one UpdateItem of a few dozen bytes (one write unit), whatever the identity holds, and
 * never a reason to rewrite the identity.
 *
 * Counts are `ADD`ed (commutative: concurrent batches never conflict on them). First and last seen
 * move only one way, which DynamoDB cannot say in an update: the update that moves them is
 * conditional on their still being later (earlier) than the batch's, as read. When the condition
 * fails (a concurrent batch moved them meanwhile), the counts are added alone and each time is set
 * by a conditional update of its own, whose failure means a later (earlier) time is stored already:
 * nothing is retried in a loop, so a hot user's concurrent batches cannot run out of attempts here.
 */
import { UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { awsCall } from '../../shared/aws-call';
import { forEachLimited } from '../../shared/concurrency';
import { isAwsError, isConditionalFailure, translateAwsError, type DependencyError } from '../../shared/errors';
import { backoffDelay, DeadlineError, type Backoff } from '../../shared/retry';
import { marshallItem } from '../../tables/dynamo-wire';
import { activityItemKey, countAttribute, remaining, type Activity, type ProfileKey, type ProfileStore } from '../../tables/profiles';

/** Parallel UpdateItem calls of one profile phase. */
const LANES = 32;
const BACKOFF: Backoff = { baseMs: 25, capMs: 500, jitter: 'full' };

export interface ActivityUpdate {
  key: ProfileKey;
  /** What the batch adds. */
  add: Activity;
  /** The stored activity as read (eventually consistent); undefined when none was. */
  known: Activity | undefined;
}

/** What became of each update, in order: written (`calls`: the UpdateItem calls it took), or failed. */
export type ActivityResult = { status: 'written'; calls: number } | { status: 'failed'; error: DependencyError };

export async function writeActivity(store: ProfileStore, updates: readonly ActivityUpdate[], deadline: number): Promise<ActivityResult[]> {
  const results = new Array<ActivityResult>(updates.length);
  await forEachLimited(
    updates.map((update, i) => ({ update, i })),
    LANES,
    async ({ update, i }) => {
      results[i] = await writeOne(store, update, deadline);
    },
  );
  return results;
}

/** One profile's activity; transient failures retried with a backoff until `deadline`. */
async function writeOne(store: ProfileStore, update: ActivityUpdate, deadline: number): Promise<ActivityResult> {
  let calls = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      calls += await apply(store, update, deadline);
      return { status: 'written', calls };
    } catch (error) {
      if (!isAwsError(error) && !(error instanceof DeadlineError)) throw error;
      const failure = translateAwsError(error, 'DynamoDB', 'DynamoDB refused the activity of a profile');
      const delay = backoffDelay(BACKOFF, attempt + 1);
      if (failure.kind !== 'transient' || store.clock.now() + delay >= deadline) return { status: 'failed', error: failure };
      store.log.warn('profile activity not written; retrying', { error: failure.code });
      await store.clock.sleep(delay);
    }
  }
}

/** The update, then the fallback when its condition failed; returns the calls made. Throws what DynamoDB threw but a failed condition. */
async function apply(store: ProfileStore, { key, add, known }: ActivityUpdate, deadline: number): Promise<number> {
  const first = known === undefined || add.firstSeen < known.firstSeen;
  const last = known === undefined || add.lastSeen > known.lastSeen;
  if (await update(store, key, add, { counts: true, first, last }, deadline)) return 1;
  // A concurrent batch moved a time meanwhile: add the counts alone, then each time on its own condition.
  await update(store, key, add, { counts: true, first: false, last: false }, deadline);
  let calls = 2;
  for (const which of ['first', 'last'] as const) {
    if (which === 'first' ? !first : !last) continue;
    await update(store, key, add, { counts: false, first: which === 'first', last: which === 'last' }, deadline);
    calls++;
  }
  return calls;
}

/** One UpdateItem: the counts added and the times set, on the condition that each time set moves the right way; false when it did not hold. */
async function update(
  store: ProfileStore,
  key: ProfileKey,
  add: Activity,
  parts: { counts: boolean; first: boolean; last: boolean },
  deadline: number,
): Promise<boolean> {
  const names: Record<string, string> = {};
  const values: Record<string, AttributeValue> = {};
  const adds: string[] = [];
  if (parts.counts) {
    [...add.counts].forEach(([type, n], i) => {
      names[`#c${i}`] = countAttribute(type);
      values[`:c${i}`] = { N: String(n) };
      adds.push(`#c${i} :c${i}`);
    });
  }
  const sets: string[] = [];
  const conditions: string[] = [];
  if (parts.first) {
    values[':f'] = { S: add.firstSeen };
    sets.push('firstSeen = :f');
    conditions.push('(attribute_not_exists(firstSeen) OR firstSeen > :f)');
  }
  if (parts.last) {
    values[':l'] = { S: add.lastSeen };
    sets.push('lastSeen = :l');
    conditions.push('(attribute_not_exists(lastSeen) OR lastSeen < :l)');
  }
  if (adds.length === 0 && sets.length === 0) return true;
  const expression = [sets.length > 0 ? `SET ${sets.join(', ')}` : '', adds.length > 0 ? `ADD ${adds.join(', ')}` : ''].join(' ').trim();
  const command = new UpdateItemCommand({
    TableName: store.table,
    Key: marshallItem(activityItemKey(key)),
    UpdateExpression: expression,
    ...(conditions.length > 0 ? { ConditionExpression: conditions.join(' AND ') } : {}),
    ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
    ExpressionAttributeValues: values,
  });
  try {
    await awsCall({ service: 'DynamoDB', timeoutMs: remaining(store, deadline) }, () => store.writer.send(command));
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}
