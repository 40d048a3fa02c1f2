/**
 * Writing a batch's profile deltas (lib/tables/profiles.ts): each profile's small facts live in its
 * core item (`sk = "core"`, at most `CORE_LIMIT_BYTES`, one write unit), the others in fact items.
 *
 * Per round, for the profiles still to write: their cores are read by key (BatchGetItem, 100 keys a
 * call; eventually consistent the first round, strongly after); for the profiles whose core says
 * spilled (`s`), the delta's fact items too (a second BatchGetItem, `o` only; on a retry round for
 * every profile, since a round cut short may have left items its core never marked). A delta fact is
 * written only when its `o` is greater than both the core's and the item's: in the core when it is
 * there, or when the profile is not spilled and it fits; else as a fact item (`INSERT`, or
 * `UPDATE ... WHERE "o" < ?`), and the core is marked spilled. A core grown past the limit moves
 * its largest facts out into items until it fits. The fact items are written first, then the cores
 * whose profile's item writes all went through (`INSERT`, or `UPDATE ... WHERE "rev" = ?`): a fact
 * leaves the core only once its item holds it. Reads and writes are bounded by the batch's own
 * content and the core's size, never by what a profile holds in items.
 *
 * A write that lost a race (a core whose `rev` moved, an item not as read) re-runs its profile's
 * round: read again, strongly consistent, in rounds with a backoff, until the attempts or the
 * deadline run out. Readers take the greatest `o` per fact wherever it lives, so a fact in both the
 * core and an item (a round cut short) is harmless. Every request goes through the worker's
 * low-level client (lib/shared/clients.ts `createWriteClient`).
 */
import { isAwsError, RefusedItemError, translateAwsError, type DependencyError } from '../../shared/errors';
import { setOwn } from '../../shared/own-keys';
import { DeadlineError, backoffDelay, type Backoff } from '../../shared/retry';
import { marshallItem, type AttributeMap } from '../../tables/dynamo-wire';
import {
  compareOrders,
  CORE_LIMIT_BYTES,
  CORE_SK,
  coreEntry,
  coreFromItem,
  factItem,
  factsOf,
  ITEM_LIMIT_BYTES,
  itemBytes,
  itemId,
  profilePartitionKey,
  readItems,
  valueBytes,
  type CoreEntry,
  type CoreItem,
  type Fact,
  type LinkKind,
  type Profile,
  type ProfileStore,
} from '../../tables/profiles';
import { coreStatementOf, executeWrites, statementOf, type WriteAnswer } from './statements';

export { readItems, type ProfileStore } from '../../tables/profiles';

/** Between rounds of writes after a lost race or a transient failure. */
const WRITE_BACKOFF: Backoff = { baseMs: 20, capMs: 500, jitter: 'full' };
/** Rounds at most (the deadline bounds them too): a hot profile's concurrent batches each win one. */
const MAX_ATTEMPTS = 16;

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

/** A delta fact, with its sort key and its item (wire form). */
interface DeltaFact {
  fact: Fact;
  sk: string;
  /** Its sort key holds a hash: kept in an item, never in the core. */
  hashed: boolean;
  item: AttributeMap;
}

/** A profile still to write. */
interface Target {
  index: number;
  pk: string;
  facts: DeltaFact[];
  /** Sort keys whose items to read in every later round (items that refused a write). */
  recheck: Set<string>;
  /** Its last transient failure. */
  failure?: DependencyError;
}

/** What a round writes for one profile. */
interface Plan {
  target: Target;
  items: Array<{ sk: string; item: AttributeMap; stored: string | undefined }>;
  /** The new core (wire form) and the `rev` it was read at; undefined when unchanged. */
  core?: { item: AttributeMap; read: number | undefined };
}

const coreKey = (pk: string) => ({ pk, sk: CORE_SK });

/**
 * Writes each delta's facts that are newer than the stored ones; one result per delta, in order.
 * Throws only when the first read fails (the phase then fails the batch's profile messages) or on
 * a bug; every later failure is classified in the results.
 */
export async function writeProfiles(store: ProfileStore, deltas: readonly Profile[], deadline: number): Promise<ProfileResult[]> {
  const results: ProfileResult[] = deltas.map(() => ({ status: 'unchanged', conflicts: 0, newLinks: new Set() }));
  let pending = targetsOf(deltas, results);
  for (let attempt = 0; pending.length > 0 && attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) {
      const delay = backoffDelay(WRITE_BACKOFF, attempt);
      if (store.clock.now() + delay >= deadline) break;
      await store.clock.sleep(delay);
    }
    pending = await writeRound(store, pending, results, attempt === 0, deadline);
  }
  for (const t of pending) fail(results, t.index, t.failure ?? translateAwsError(new DeadlineError(0), 'DynamoDB'));
  return results;
}

function fail(results: ProfileResult[], index: number, error: DependencyError): void {
  const result = results[index] as ProfileResult;
  if (result.status === 'failed') return;
  result.status = 'failed';
  result.error = error;
}

/** The deltas as targets; a fact too large for DynamoDB fails its profile here, before any request. */
function targetsOf(deltas: readonly Profile[], results: ProfileResult[]): Target[] {
  const targets: Target[] = [];
  deltas.forEach((delta, index) => {
    const target: Target = { index, pk: profilePartitionKey(delta.key), facts: [], recheck: new Set() };
    for (const fact of factsOf(delta)) {
      const plain = factItem(delta.key, fact);
      const item = marshallItem(plain);
      const tooLarge = oversize(item);
      if (tooLarge) fail(results, index, tooLarge);
      else target.facts.push({ fact, sk: plain.sk as string, hashed: plain.id !== undefined, item });
    }
    if (results[index]?.status !== 'failed' && target.facts.length > 0) targets.push(target);
  });
  return targets;
}

/** One round: read, plan, write the items, then the cores. Returns the targets to run again. */
async function writeRound(
  store: ProfileStore,
  targets: readonly Target[],
  results: ProfileResult[],
  first: boolean,
  deadline: number,
): Promise<Target[]> {
  let read: Awaited<ReturnType<typeof readRound>>;
  try {
    read = await readRound(store, targets, !first, deadline);
  } catch (error) {
    // The first read's failure fails the batch's profiles (the phase); later, ours to classify.
    // A bug is not a failed read: it leaves for the phase to report as unexpected.
    if (first || !isAwsError(error)) throw error;
    return retryOrFail(targets, results, translateAwsError(error, 'DynamoDB'));
  }
  const plans = targets.map((target) => {
    const core = coreFromItem(read.cores.get(itemId(coreKey(target.pk))));
    const items = read.items.get(target.pk) ?? new Map<string, string>();
    if (first) noteNewLinks(results[target.index] as ProfileResult, target, core, items);
    return plan(target, core, items);
  });
  const again = new Set<Target>();
  const itemWrites = plans.flatMap((p) => p.items.map((w) => ({ target: p.target, sk: w.sk, statement: statementOf(store.table, w) })));
  const itemAnswers = await executeWrites(
    store,
    itemWrites.map((w) => w.statement),
    deadline,
  );
  itemAnswers.forEach((answer, i) => {
    const { target, sk } = itemWrites[i] as (typeof itemWrites)[number];
    if (answer.status === 'conflict') target.recheck.add(sk);
    note(store, results, again, target, answer);
  });
  const coreWrites = plans.filter((p) => p.core && !again.has(p.target) && results[p.target.index]?.status !== 'failed');
  const coreAnswers = await executeWrites(
    store,
    coreWrites.map((p) => coreStatementOf(store.table, p.core?.item as AttributeMap, p.core?.read)),
    deadline,
  );
  coreAnswers.forEach((answer, i) => note(store, results, again, (coreWrites[i] as Plan).target, answer));
  return targets.filter((t) => again.has(t) && results[t.index]?.status !== 'failed');
}

/** Counts one write's answer for its profile; a lost race or a transient failure runs the profile again. */
function note(store: ProfileStore, results: ProfileResult[], again: Set<Target>, target: Target, answer: WriteAnswer): void {
  const result = results[target.index] as ProfileResult;
  if (answer.status === 'ok') {
    if (result.status === 'unchanged') result.status = 'written';
  } else if (answer.status === 'conflict') {
    result.conflicts++;
    again.add(target);
  } else if (answer.error.kind === 'transient') {
    store.log.warn('profile write failed; retrying', { error: answer.error.code });
    target.failure = answer.error;
    again.add(target);
  } else fail(results, target.index, answer.error);
}

function retryOrFail(targets: readonly Target[], results: ProfileResult[], failure: DependencyError): Target[] {
  if (failure.kind === 'transient') {
    targets.forEach((t) => (t.failure = failure));
    return [...targets];
  }
  targets.forEach((t) => fail(results, t.index, failure));
  return [];
}

/**
 * The cores of `targets`, then the items of the delta facts of the spilled ones (on a retry round,
 * of every one: an item may exist that a core write cut short never marked), and of the facts that
 * refused a write; `o` by sort key per partition.
 */
async function readRound(store: ProfileStore, targets: readonly Target[], consistent: boolean, deadline: number) {
  const cores = await readItems(
    store,
    targets.map((t) => coreKey(t.pk)),
    consistent,
    deadline,
  );
  const keys: Array<{ pk: string; sk: string }> = [];
  for (const t of targets) {
    const spilled = coreFromItem(cores.get(itemId(coreKey(t.pk))))?.s === true;
    const sks = new Set(t.recheck);
    if (spilled || consistent) for (const f of t.facts) sks.add(f.sk);
    for (const sk of sks) keys.push({ pk: t.pk, sk });
  }
  const found = keys.length > 0 ? await readItems(store, keys, consistent, deadline, ['o']) : new Map<string, Record<string, unknown>>();
  const items = new Map<string, Map<string, string>>();
  for (const item of found.values()) {
    if (typeof item.o !== 'string') continue;
    const pk = String(item.pk);
    const byKey = items.get(pk) ?? new Map<string, string>();
    items.set(pk, byKey.set(String(item.sk), item.o));
  }
  return { cores, items };
}

/** The links absent from both the core and the items read: new to the profile. */
function noteNewLinks(result: ProfileResult, target: Target, core: CoreItem | undefined, items: ReadonlyMap<string, string>): void {
  for (const { fact, sk } of target.facts) {
    if (fact.kind === 'trait' || core?.f[sk] !== undefined || items.has(sk)) continue;
    result.newLinks.add(linkId(fact.kind, fact.name));
  }
}

/** The greater of two orders (undefined: absent). */
const greater = (a: string | undefined, b: string | undefined) =>
  a === undefined ? b : b === undefined || compareOrders(a, b) > 0 ? a : b;

/** What to write for one profile, from its core and items as read (see the file comment). */
function plan(target: Target, read: CoreItem | undefined, items: ReadonlyMap<string, string>): Plan {
  const core: CoreItem = { pk: target.pk, sk: CORE_SK, rev: (read?.rev ?? 0) + 1, f: { ...read?.f } };
  if (read?.s) core.s = true;
  const result: Plan = { target, items: [] };
  let changed = false;
  for (const { fact, sk, hashed, item } of target.facts) {
    const inCore = Object.hasOwn(core.f, sk) ? core.f[sk] : undefined;
    const current = greater(inCore?.o, items.get(sk));
    if (current !== undefined && compareOrders(fact.o, current) <= 0) continue;
    if (inCore || (!core.s && !hashed && fits(core, sk, coreEntry(fact)))) {
      setOwn(core.f, sk, coreEntry(fact));
      changed = true;
    } else {
      result.items.push({ sk, item, stored: items.get(sk) });
      if (!core.s) {
        core.s = true;
        changed = true;
      }
    }
  }
  if (!changed) return result;
  for (const moved of shrink(core)) {
    const stored = items.get(moved.sk);
    if (stored !== undefined && compareOrders(moved.entry.o, stored) <= 0) continue;
    result.items = result.items.filter((w) => w.sk !== moved.sk);
    result.items.push({ sk: moved.sk, item: marshallItem({ pk: target.pk, sk: moved.sk, ...moved.entry }), stored });
  }
  result.core = { item: marshallItem({ ...core }), read: read?.rev };
  return result;
}

/** Whether the core with `entry` added at `sk` stays within the limit. */
function fits(core: CoreItem, sk: string, entry: CoreEntry): boolean {
  const f = { ...core.f };
  setOwn(f, sk, entry);
  return itemBytes(marshallItem({ ...core, f })) <= CORE_LIMIT_BYTES;
}

/** Moves the core's largest facts out (returned, to be written as items) until it fits; marks it spilled when any moved. */
function shrink(core: CoreItem): Array<{ sk: string; entry: CoreEntry }> {
  const moved: Array<{ sk: string; entry: CoreEntry }> = [];
  const sizes = Object.keys(core.f).map((sk) => ({
    sk,
    bytes: Buffer.byteLength(sk) + valueBytes({ M: marshallItem({ ...core.f[sk] }) }),
  }));
  sizes.sort((a, b) => b.bytes - a.bytes);
  for (const { sk } of sizes) {
    if (itemBytes(marshallItem({ ...core })) <= CORE_LIMIT_BYTES) break;
    moved.push({ sk, entry: core.f[sk] as CoreEntry });
    delete core.f[sk];
    core.s = true;
  }
  return moved;
}

/**
 * Removes the facts at `sks` from the cores of the partitions named (erasure: links naming an
 * erased user), conditional on each core's `rev`, read again and retried after a lost race until
 * `deadline`. Returns, per partition, the sort keys that were in its core.
 */
export async function removeCoreFacts(
  store: ProfileStore,
  targets: ReadonlyArray<{ pk: string; sks: readonly string[] }>,
  deadline: number,
): Promise<Map<string, Set<string>>> {
  const removed = new Map<string, Set<string>>();
  let pending = [...targets];
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await store.clock.sleep(backoffDelay(WRITE_BACKOFF, attempt));
    if (store.clock.now() >= deadline) throw new DeadlineError(0, 'profile erasure');
    const cores = await readItems(
      store,
      pending.map((t) => coreKey(t.pk)),
      true,
      deadline,
    );
    const writes: Array<{ pk: string; sks: readonly string[]; statement: ReturnType<typeof coreStatementOf> }> = [];
    for (const t of pending) {
      const core = coreFromItem(cores.get(itemId(coreKey(t.pk))));
      const present = t.sks.filter((sk) => core && Object.hasOwn(core.f, sk));
      if (!core || present.length === 0) continue;
      present.forEach((sk) => delete core.f[sk]);
      removed.set(t.pk, new Set(present));
      writes.push({ ...t, statement: coreStatementOf(store.table, marshallItem({ ...core, rev: core.rev + 1 }), core.rev) });
    }
    const answers = await executeWrites(
      store,
      writes.map((w) => w.statement),
      deadline,
    );
    pending = [];
    answers.forEach((answer, i) => {
      const w = writes[i] as (typeof writes)[number];
      if (answer.status === 'failed' && answer.error.kind !== 'transient') throw answer.error;
      if (answer.status !== 'ok') pending.push({ pk: w.pk, sks: w.sks });
    });
  }
  return removed;
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
