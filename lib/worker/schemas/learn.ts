/**
 * Schema learning, one phase of the worker (process-batch.ts): what shapes the batch's events
 * have, recorded in the `schemas` table at almost no cost per event. The instance remembers every
 * `(source, event key, path, type)` signature it has recorded or read (state.ts), so steady
 * traffic sends no request at all; an unseen signature costs one small conditional write; an
 * event key's count and last-seen are added up in memory and written at most once a minute, a
 * path's last-seen at most once an hour. Paths per event key and event keys per source are
 * capped; what a cap refuses is counted.
 *
 * Best effort by design: nothing here fails a message. A request that fails or runs out of the
 * phase's time leaves its signatures unknown to the instance, so they are tried again the next
 * time they are seen.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { errorCode, isAwsError, translateAwsError } from '../../shared/errors';
import { forEachLimited } from '../../shared/concurrency';
import { reportUnexpected } from '../../shared/unexpected';
import type { Log } from '../../shared/log';
import type { Meter } from '../../shared/metrics';
import { DeadlineError } from '../../shared/retry';
import { SCHEMA_LIMITS, SUMMARY_REFRESH_MS, summaryKey } from '../../tables/schemas';
import { toIsoMillis } from '../../spec/timestamps';
import type { EventRecord } from '../../message/format';
import { additionsOf, observeBatch, type Observation } from './observe';
import { noteCapped, SchemaCache, type EventState } from './state';
import {
  addCappedKeys,
  createSummary,
  readEvent,
  readEventKeys,
  recordPath,
  reserve,
  sourceKey,
  updateSummary,
  type StoreContext,
} from './store';

export interface SchemaLearnerDeps {
  documents: DynamoDBDocumentClient;
  table: string;
  log: Log;
  meter: Meter;
  now?: () => number;
  /** The caps on event keys and paths (SCHEMA_LIMITS); tests lower them. */
  limits?: Partial<Record<'eventKeysPerSource' | 'pathsPerEventKey', number>>;
  /** Time the phase may take in one batch, within the batch's deadline. */
  budgetMs?: number;
  /** Bytes the instance's cache of what is recorded may hold (config `schemaCacheMb`); unbounded when absent. */
  cacheBytes?: number;
}

export interface SchemaStats {
  eventKeys: number;
  requests: number;
  newPaths: number;
  newTypes: number;
  /** Distinct paths and event keys newly refused by a cap (approximate across instances). */
  cappedPaths: number;
  cappedKeys: number;
  failures: number;
}

export interface SchemaLearner {
  /**
   * Learns the shapes of a batch's events (the records of parse.ts `eventWrites`) within `remainingMs`
   * (what is left of the batch's time); never throws for a DynamoDB failure.
   */
  learn(writes: ReadonlyArray<{ record: EventRecord }>, remainingMs: number): Promise<SchemaStats>;
}

const BUDGET_MS = 2000;
/** Event keys learned in parallel, and writes in parallel per event key. */
const EVENT_CONCURRENCY = 4;
const WRITE_CONCURRENCY = 4;

interface Learning {
  store: StoreContext;
  cache: SchemaCache;
  caps: { eventKeysPerSource: number; pathsPerEventKey: number };
  stats: SchemaStats;
  /** Error codes of the first failures, and how many were configuration or permission problems. */
  errors: string[];
  configurationErrors: number;
  /** Errors no AWS call threw (bugs), reported as unexpected. */
  unexpected: unknown[];
}

export function createSchemaLearner(deps: SchemaLearnerDeps): SchemaLearner {
  const now = deps.now ?? Date.now;
  const cache = new SchemaCache(now, deps.cacheBytes);
  const caps = { ...SCHEMA_LIMITS, ...deps.limits };
  return {
    async learn(writes, remainingMs) {
      const started = now();
      const observations = observeBatch(writes, cache, toIsoMillis(started));
      const states = observations.map((observation) => observation.state);
      cache.account(states);
      const stats: SchemaStats = {
        eventKeys: observations.length,
        requests: 0,
        newPaths: 0,
        newTypes: 0,
        cappedPaths: 0,
        cappedKeys: 0,
        failures: 0,
      };
      if (observations.length === 0) return stats;
      const store = {
        documents: deps.documents,
        table: deps.table,
        now,
        deadline: started + Math.min(remainingMs, deps.budgetMs ?? BUDGET_MS),
        requests: 0,
      };
      const learning: Learning = { store, cache, caps, stats, errors: [], configurationErrors: 0, unexpected: [] };
      await forEachLimited(observations, EVENT_CONCURRENCY, (observation) =>
        serialized(observation.state, () => learnEvent(learning, observation)),
      );
      stats.requests = store.requests;
      // What was read or refused changes what the entries hold.
      cache.account(states);
      report(deps, learning);
      return stats;
    },
  };
}

/** One event key: read what is recorded (once per instance), admit the key, record what is new, count. */
async function learnEvent(learning: Learning, observation: Observation): Promise<void> {
  const { state } = observation;
  try {
    if (!state.warmed) await warm(learning, state);
    let counted = false;
    if (!state.exists && !state.refused) counted = await admitKey(learning, observation);
    if (state.refused) return await countRefusedKey(learning, observation);
    const wrote = await recordAdditions(learning, observation);
    for (const path of observation.skipped) {
      if (!noteCapped(state.cappedPaths, path)) continue;
      state.pendingCapped++;
      learning.stats.cappedPaths++;
    }
    if (!counted) state.pendingCount += observation.count;
    if (observation.seen > state.pendingSeen) state.pendingSeen = observation.seen;
    await flushSummary(learning, state, wrote);
  } catch (error) {
    noteFailure(learning, error);
  }
}

async function warm(learning: Learning, state: EventState): Promise<void> {
  const source = learning.cache.source(state.sourceId);
  if (source.keys && !source.keys.has(`${state.type}#${state.key}`)) {
    state.refused = true;
  } else {
    const stored = await readEvent(learning.store, state);
    state.exists = stored.exists;
    state.pathCount = stored.pathCount;
    state.paths = stored.paths;
    state.flushedSeen = stored.lastSeen;
  }
  state.warmed = true;
}

/** A key without a summary: reserve it a place under the source's cap, then create its summary with this batch's count. */
async function admitKey(learning: Learning, observation: Observation): Promise<boolean> {
  const { state } = observation;
  const { store, caps } = learning;
  const source = learning.cache.source(state.sourceId);
  if (!source.full && (await reserve(store, sourceKey(state.sourceId), 'eventKeys', 1, caps.eventKeysPerSource))) {
    if (await createSummary(store, state, observation.count, observation.seen)) {
      state.exists = true;
      state.flushedSeen = observation.seen;
      return true;
    }
    // Another instance created it meanwhile: its place is taken once only.
    await reserve(store, sourceKey(state.sourceId), 'eventKeys', -1, 0);
    state.exists = true;
    return false;
  }
  source.full = true;
  source.keys ??= await readEventKeys(store, state.sourceId);
  if (source.keys.has(`${state.type}#${state.key}`)) state.exists = true;
  else state.refused = true;
  return false;
}

async function countRefusedKey(learning: Learning, observation: Observation): Promise<void> {
  const { state } = observation;
  const source = learning.cache.source(state.sourceId);
  if (noteCapped(source.cappedKeys, `${state.type}#${state.key}`)) {
    source.pendingCapped++;
    learning.stats.cappedKeys++;
  }
  if (source.pendingCapped === 0 || !due(source.flushedSeen, observation.seen)) return;
  // Taken before the write: other event keys of the batch count on while it is in flight.
  const capped = source.pendingCapped;
  const flushedSeen = source.flushedSeen;
  source.pendingCapped = 0;
  source.flushedSeen = observation.seen;
  try {
    await addCappedKeys(learning.store, state.sourceId, capped);
  } catch (error) {
    source.pendingCapped += capped;
    source.flushedSeen = flushedSeen;
    throw error;
  }
}

/** New paths (reserved under the cap first), new types of known paths, and stale last-seens; true when it wrote any. */
async function recordAdditions(learning: Learning, observation: Observation): Promise<boolean> {
  const { state, seen } = observation;
  const { store, stats } = learning;
  const additions = additionsOf(observation);
  const admitted = await reservePaths(learning, state, additions.paths.length);
  for (const [path] of additions.paths.slice(admitted)) {
    if (noteCapped(state.cappedPaths, path)) {
      state.pendingCapped++;
      stats.cappedPaths++;
    }
  }
  await forEachGuarded(learning, additions.paths.slice(0, admitted), async ([path, mask]) => {
    if (await recordPath(store, state, path, mask, seen, true)) {
      stats.newPaths++;
    } else {
      // Recorded by another instance meanwhile: give its place back, add the types.
      await reserve(store, summaryKey(state.sourceId, state.type, state.key), 'pathCount', -1, 0);
      state.pathCount--;
      if (!(await recordPath(store, state, path, mask, seen, false))) return;
    }
    state.paths.set(path, { mask, lastSeenMs: observation.seenMs });
  });
  const updates: Array<[string, number]> = [...additions.types, ...additions.touch.map((path): [string, number] => [path, 0])];
  await forEachGuarded(learning, updates, async ([path, mask]) => {
    const recorded = await recordPath(store, state, path, mask, seen, false);
    const known = state.paths.get(path);
    if (known === undefined) return;
    if (!recorded) {
      // Gone from the table: forgotten here too (walked nodes hold the entry), so it is recorded anew.
      known.mask = 0;
      return void state.paths.delete(path);
    }
    known.mask |= mask;
    known.lastSeenMs = observation.seenMs;
    if (mask !== 0) stats.newTypes++;
  });
  return admitted > 0 || updates.length > 0;
}

/** Reserves places for `wanted` new paths under the cap; returns how many it got. */
async function reservePaths(learning: Learning, state: EventState, wanted: number): Promise<number> {
  const max = learning.caps.pathsPerEventKey;
  if (wanted === 0 || state.pathCount >= max) return 0;
  const key = summaryKey(state.sourceId, state.type, state.key);
  const first = Math.min(wanted, max - state.pathCount);
  let admitted = 0;
  if (await reserve(learning.store, key, 'pathCount', first, max)) admitted = first;
  // Other instances filled places this one did not know of: take them one by one to the cap.
  else while (admitted < wanted && (await reserve(learning.store, key, 'pathCount', 1, max))) admitted++;
  state.pathCount = admitted < first ? max : state.pathCount + admitted;
  return admitted;
}

/**
 * Writes what was counted when a minute of receive time has passed, or when the batch wrote to
 * this event key anyway (a new path or type, a cap reached): steady traffic waits for the minute.
 */
async function flushSummary(learning: Learning, state: EventState, wrote: boolean): Promise<void> {
  if (state.pendingCount === 0 && state.pendingCapped === 0) return;
  if (!wrote && state.pendingCapped === 0 && !due(state.flushedSeen, state.pendingSeen)) return;
  const seen = state.pendingSeen > state.flushedSeen ? state.pendingSeen : state.flushedSeen;
  await updateSummary(learning.store, state, state.pendingCount, state.pendingCapped, seen);
  state.pendingCount = 0;
  state.pendingCapped = 0;
  state.flushedSeen = seen;
}

function due(flushedSeen: string, seen: string): boolean {
  return flushedSeen === '' || !(Date.parse(seen) - Date.parse(flushedSeen) < SUMMARY_REFRESH_MS);
}

function noteFailure(learning: Learning, error: unknown): void {
  learning.stats.failures++;
  if (learning.errors.length < 5) learning.errors.push(error instanceof DeadlineError ? 'DeadlineError' : errorCode(error));
  if (!isAwsError(error)) learning.unexpected.push(error);
  else if (translateAwsError(error, 'DynamoDB').kind === 'configuration') learning.configurationErrors++;
}

function report(deps: SchemaLearnerDeps, learning: Learning): void {
  const { stats, errors } = learning;
  // Permissions or a missing table: counted for the alarm like the worker's other DynamoDB calls.
  if (learning.configurationErrors > 0) deps.meter.count('DependencyErrors', learning.configurationErrors, ['kind', 'configuration']);
  reportUnexpected(deps.log, deps.meter, learning.unexpected, 'schema learning');
  if (stats.failures > 0) deps.log.warn('schema learning incomplete; retried when the shapes are seen again', { ...stats, errors });
  else if (stats.requests > 0) deps.log.info('schemas learned', { ...stats });
}

/** Runs `task` after any earlier task on the same state (concurrent batches of one instance). */
async function serialized(state: EventState, task: () => Promise<void>): Promise<void> {
  const run = (state.busy ?? Promise.resolve()).then(task);
  state.busy = run.catch(() => undefined);
  await run;
}

/** `forEachLimited` with each write's failure noted and the others carried on. */
function forEachGuarded<T>(learning: Learning, items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  return forEachLimited(items, WRITE_CONCURRENCY, (item) => task(item).catch((error: unknown) => noteFailure(learning, error)));
}
