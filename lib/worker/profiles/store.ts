/**
 * Reading and writing profiles: BatchGetItem for the reads (100 keys a call), and one conditional
 * write per profile, on the revision it read (`rev`), 25 a call (statements.ts). A write that
 * loses a race with another invocation is not a failure: the profile is read again, strongly
 * consistent, merged again and written again. Every request goes through the worker's low-level
 * client (lib/shared/clients.ts `createWriteClient`), whose answers keep every attribute name.
 */
import { isAwsError, RefusedItemError, translateAwsError, type DependencyError } from '../../shared/errors';
import { DeadlineError, backoffDelay, type Backoff } from '../../shared/retry';
import {
  ITEM_LIMIT_BYTES,
  itemBytes,
  keyText,
  profileWireItem,
  readProfiles,
  type Profile,
  type ProfileKey,
  type ProfileStore,
} from '../../tables/profiles';
import { copyProfile, emptyProfile, mergeProfiles } from './profile';
import { executeWrites, type ProfileWrite } from './statements';

export { readItems, readProfiles, type ProfileStore } from '../../tables/profiles';

/** Between attempts of one profile's write after a conflict or a transient failure. */
const WRITE_BACKOFF: Backoff = { baseMs: 20, capMs: 500, jitter: 'full' };
const MAX_ATTEMPTS = 8;

export type UpdateResult =
  | { status: 'written' | 'unchanged' | 'deleted'; before: Profile | undefined; after: Profile; conflicts: number }
  | { status: 'failed'; error: DependencyError; conflicts: number };

/** What a change did: nothing, a change to write, or a change that leaves nothing worth keeping. */
export type Change = boolean | 'delete';

export interface UpdateRequest {
  key: ProfileKey;
  /** The stored profile as already read; undefined when it was not stored. */
  known: Profile | undefined;
  /** Changes a fresh copy of the stored profile (`stored`: whether there was one); see `Change`. */
  change: (profile: Profile, stored: boolean) => Change;
}

/**
 * Applies each request's change to its stored profile and writes the results on the revisions they
 * were read at, in batches (statements.ts). The writes that lose a race, or fail transiently, are
 * read again (strongly consistent), changed again and written again, in rounds with a backoff,
 * until the attempts or the deadline run out. Never throws for DynamoDB's answers: one result per
 * request, in order, a failure classified.
 */
export async function changeProfiles(store: ProfileStore, requests: readonly UpdateRequest[], deadline: number): Promise<UpdateResult[]> {
  const results = new Array<UpdateResult | undefined>(requests.length);
  const conflicts = requests.map(() => 0);
  const current = requests.map((r) => r.known);
  const failures = new Map<number, DependencyError>();
  let pending = requests.map((_, i) => i);
  for (let attempt = 0; pending.length > 0 && attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) {
      const delay = backoffDelay(WRITE_BACKOFF, attempt);
      if (store.clock.now() + delay >= deadline) break;
      await store.clock.sleep(delay);
      try {
        const fresh = await readProfiles(
          store,
          pending.map((i) => (requests[i] as UpdateRequest).key),
          true,
          deadline,
        );
        for (const i of pending) current[i] = fresh.get(keyText((requests[i] as UpdateRequest).key));
      } catch (error) {
        // A bug is not a failed read: it leaves for the phase to report as unexpected. Our own
        // out-of-time (readItems' DeadlineError) is a transient failure like the service's.
        if (!isAwsError(error)) throw error;
        const failure = translateAwsError(error, 'DynamoDB');
        pending.forEach((i) => failures.set(i, failure));
        if (failure.kind !== 'transient') break;
        continue;
      }
    }
    pending = await attemptWrites(store, requests, current, pending, { results, conflicts, failures }, deadline);
  }
  for (const i of pending) {
    results[i] = {
      status: 'failed',
      error: failures.get(i) ?? translateAwsError(new DeadlineError(0), 'DynamoDB'),
      conflicts: conflicts[i] ?? 0,
    };
  }
  return results as UpdateResult[];
}

/** One round: changes and writes the pending profiles; returns those to try again. */
async function attemptWrites(
  store: ProfileStore,
  requests: readonly UpdateRequest[],
  current: ReadonlyArray<Profile | undefined>,
  pending: readonly number[],
  into: { results: Array<UpdateResult | undefined>; conflicts: number[]; failures: Map<number, DependencyError> },
  deadline: number,
): Promise<number[]> {
  const writes: ProfileWrite[] = [];
  const written: number[] = [];
  for (const i of pending) {
    const request = requests[i] as UpdateRequest;
    const before = current[i];
    const next = before ? copyProfile(before) : emptyProfile(request.key);
    const changed = request.change(next, before !== undefined);
    if (!changed || (changed === 'delete' && !before)) {
      into.results[i] = { status: 'unchanged', before, after: next, conflicts: into.conflicts[i] ?? 0 };
      continue;
    }
    next.rev = (before?.rev ?? 0) + 1;
    const tooLarge = changed === 'delete' ? undefined : oversize(next);
    if (tooLarge) {
      into.results[i] = { status: 'failed', error: tooLarge, conflicts: into.conflicts[i] ?? 0 };
      continue;
    }
    writes.push({ next, before, action: changed === 'delete' ? 'delete' : 'put' });
    written.push(i);
  }
  const answers = await executeWrites(store, writes, deadline);
  const again: number[] = [];
  answers.forEach((answer, j) => {
    const i = written[j] as number;
    const write = writes[j] as ProfileWrite;
    if (answer.status === 'ok') {
      into.results[i] = {
        status: write.action === 'delete' ? 'deleted' : 'written',
        before: write.before,
        after: write.next,
        conflicts: into.conflicts[i] ?? 0,
      };
    } else if (answer.status === 'conflict') {
      into.conflicts[i] = (into.conflicts[i] ?? 0) + 1;
      into.failures.delete(i);
      again.push(i);
    } else {
      into.failures.set(i, answer.error);
      if (answer.error.kind === 'transient') {
        store.log.warn('profile write failed; retrying', { error: answer.error.code });
        again.push(i);
      } else {
        into.results[i] = { status: 'failed', error: answer.error, conflicts: into.conflicts[i] ?? 0 };
      }
    }
  });
  return again;
}

/**
 * A refusal, before any request, of an identity item DynamoDB would refuse for its size (by
 * DynamoDB's own rules, `itemBytes`). The caps keep every profile under the limit, so this is a bug
 * to look into; the phase counts it (`ProfileWritesRefused`) and fails its messages, never drops it.
 */
function oversize(next: Profile): RefusedItemError | undefined {
  const bytes = itemBytes(profileWireItem(next));
  if (bytes < ITEM_LIMIT_BYTES) return undefined;
  return new RefusedItemError(
    'DynamoDB',
    'ItemTooLarge',
    `the profile item would be ${bytes} bytes; DynamoDB holds at most ${ITEM_LIMIT_BYTES}`,
  );
}

/** A request that merges `delta`; a profile not stored yet is created even when the delta holds nothing (a group without traits). */
export function mergeRequest(delta: Profile, known: Profile | undefined): UpdateRequest {
  return { key: delta.key, known, change: (profile, stored) => mergeProfiles(profile, delta) || !stored };
}
