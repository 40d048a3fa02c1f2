/**
 * Writing a batch's profile deltas as facts (lib/tables/profiles.ts): the facts the deltas touch are
 * read by key (BatchGetItem, 100 keys a call, eventually consistent, `o` only), and each fact whose
 * `o` is greater than the stored one is written with a conditional statement, 25 a call
 * (statements.ts): `INSERT` when it was absent, `UPDATE ... WHERE "o" < ?` when older. The reads
 * and writes are bounded by the batch's own content, never by what a profile holds already.
 *
 * A write whose condition fails lost a race with another invocation: the fact is read again,
 * strongly consistent; if it is now at least ours, there is nothing to do, else it is written again,
 * in rounds with a backoff, until the attempts or the deadline run out. Every request goes through
 * the worker's low-level client (lib/shared/clients.ts `createWriteClient`).
 */
import { isAwsError, RefusedItemError, translateAwsError, type DependencyError } from '../../shared/errors';
import { DeadlineError, backoffDelay, type Backoff } from '../../shared/retry';
import { marshallItem, type AttributeMap } from '../../tables/dynamo-wire';
import {
  compareOrders,
  factItem,
  factsOf,
  ITEM_LIMIT_BYTES,
  itemBytes,
  itemId,
  readItems,
  type Fact,
  type LinkKind,
  type Profile,
  type ProfileStore,
} from '../../tables/profiles';
import { executeWrites } from './statements';

export { readItems, type ProfileStore } from '../../tables/profiles';

/** Between rounds of writes after a lost race or a transient failure. */
const WRITE_BACKOFF: Backoff = { baseMs: 20, capMs: 500, jitter: 'full' };
const MAX_ATTEMPTS = 8;

export interface ProfileResult {
  /** `written`: at least one fact written; `unchanged`: every fact was stored already (at least as recent). */
  status: 'written' | 'unchanged' | 'failed';
  error?: DependencyError;
  /** Writes that lost a race and were read again. */
  conflicts: number;
  /** The links (`linkId`) whose fact was absent when first read: their key-only items are written (phase.ts). */
  newLinks: Set<string>;
}

export const linkId = (kind: LinkKind, id: string): string => `${kind}\u0000${id}`;

interface PendingFact {
  profile: number;
  fact: Fact;
  item: AttributeMap;
  key: { pk: string; sk: string };
  /** The stored `o` as last read; undefined when absent. */
  stored: string | undefined;
}

/**
 * Writes each delta's facts that are newer than the stored ones; one result per delta, in order.
 * Throws only when the first read fails (the phase then fails the batch's profile messages) or on
 * a bug; every later failure is classified in the results.
 */
export async function writeProfiles(store: ProfileStore, deltas: readonly Profile[], deadline: number): Promise<ProfileResult[]> {
  const results: ProfileResult[] = deltas.map(() => ({ status: 'unchanged', conflicts: 0, newLinks: new Set() }));
  const round: Round = { store, results, failures: new Map(), deadline };
  const facts = factsToWrite(deltas, round);
  const first = await readItems(
    store,
    facts.filter((f) => live(round, f)).map((f) => f.key),
    false,
    deadline,
    ['o'],
  );
  for (const f of facts) {
    if (!first.has(itemId(f.key)) && f.fact.kind !== 'trait') results[f.profile]?.newLinks.add(linkId(f.fact.kind, f.fact.name));
  }
  let pending = settle(
    facts.filter((f) => live(round, f)),
    first,
  );
  for (let attempt = 0; pending.length > 0 && attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) {
      const delay = backoffDelay(WRITE_BACKOFF, attempt);
      if (store.clock.now() + delay >= deadline) break;
      await store.clock.sleep(delay);
    }
    pending = await writeRound(round, pending);
  }
  for (const f of pending) fail(round, f.profile, round.failures.get(f) ?? translateAwsError(new DeadlineError(0), 'DynamoDB'));
  return results;
}

interface Round {
  store: ProfileStore;
  results: ProfileResult[];
  /** The last transient failure of each fact still to write. */
  failures: Map<PendingFact, DependencyError>;
  deadline: number;
}

/** Whether a fact's profile has not failed (its other facts are not written once one failed). */
const live = (round: Round, f: PendingFact) => round.results[f.profile]?.status !== 'failed';

function fail(round: Round, p: number, error: DependencyError): void {
  const result = round.results[p] as ProfileResult;
  if (result.status === 'failed') return;
  result.status = 'failed';
  result.error = error;
}

/** The deltas' facts as items; a fact too large for DynamoDB fails its profile here, before any request. */
function factsToWrite(deltas: readonly Profile[], round: Round): PendingFact[] {
  const facts: PendingFact[] = [];
  deltas.forEach((delta, p) => {
    for (const fact of factsOf(delta)) {
      const plain = factItem(delta.key, fact);
      const item = marshallItem(plain);
      const tooLarge = oversize(item);
      if (tooLarge) fail(round, p, tooLarge);
      else facts.push({ profile: p, fact, item, key: { pk: plain.pk as string, sk: plain.sk as string }, stored: undefined });
    }
  });
  return facts;
}

/** One round of writes; the facts that lost a race are read again. Returns the facts to write in the next round. */
async function writeRound(round: Round, pending: readonly PendingFact[]): Promise<PendingFact[]> {
  const { store, results, failures, deadline } = round;
  const answers = await executeWrites(
    store,
    pending.map((f) => ({ item: f.item, stored: f.stored })),
    deadline,
  );
  const again: PendingFact[] = [];
  const lost: PendingFact[] = [];
  answers.forEach((answer, i) => {
    const f = pending[i] as PendingFact;
    const result = results[f.profile] as ProfileResult;
    if (answer.status === 'ok') {
      failures.delete(f);
      if (result.status === 'unchanged') result.status = 'written';
    } else if (answer.status === 'conflict') {
      result.conflicts++;
      failures.delete(f);
      lost.push(f);
    } else if (answer.error.kind === 'transient') {
      store.log.warn('profile write failed; retrying', { error: answer.error.code });
      failures.set(f, answer.error);
      again.push(f);
    } else fail(round, f.profile, answer.error);
  });
  if (lost.length > 0) {
    try {
      const fresh = await readItems(
        store,
        lost.map((f) => f.key),
        true,
        deadline,
        ['o'],
      );
      again.push(...settle(lost, fresh));
    } catch (error) {
      // A bug is not a failed read: it leaves for the phase to report as unexpected. Our own
      // out-of-time (readItems' DeadlineError) is a transient failure like the service's.
      if (!isAwsError(error)) throw error;
      const failure = translateAwsError(error, 'DynamoDB');
      for (const f of lost) {
        if (failure.kind !== 'transient') fail(round, f.profile, failure);
        else {
          failures.set(f, failure);
          again.push(f);
        }
      }
    }
  }
  return again.filter((f) => live(round, f));
}

/** Notes each fact's stored `o` from `read`; returns those still to write (ours greater, or absent). */
function settle(facts: readonly PendingFact[], read: ReadonlyMap<string, Record<string, unknown>>): PendingFact[] {
  const left: PendingFact[] = [];
  for (const f of facts) {
    const stored = read.get(itemId(f.key))?.o;
    f.stored = typeof stored === 'string' ? stored : undefined;
    if (f.stored === undefined || compareOrders(f.fact.o, f.stored) > 0) left.push(f);
  }
  return left;
}

/**
 * A refusal, before any request, of a fact item DynamoDB would refuse for its size (by DynamoDB's
 * own rules, `itemBytes`). The name and value caps keep every fact far under the limit, so this is
 * a bug to look into; the phase counts it (`ProfileWritesRefused`) and fails its messages, never
 * drops it.
 */
function oversize(item: AttributeMap): RefusedItemError | undefined {
  const bytes = itemBytes(item);
  if (bytes < ITEM_LIMIT_BYTES) return undefined;
  return new RefusedItemError(
    'DynamoDB',
    'ItemTooLarge',
    `the profile fact would be ${bytes} bytes; DynamoDB holds at most ${ITEM_LIMIT_BYTES}`,
  );
}
