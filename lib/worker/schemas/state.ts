/**
 * What one worker instance knows of the schemas table: per event key, the paths and types already
 * recorded, and what it has counted since it last wrote. Signatures in here cost no request when
 * seen again; the cache is bounded, and an entry expires after an hour so an instance catches up
 * with what others wrote (a cold entry costs one Query and one GetItem).
 */
import { LruCache } from '../../shared/lru-cache';
import { SCHEMA_LIMITS } from '../../shared/schema-records';
import type { KeyedType } from '../../spec/event-keys';
import { PathTree } from '../../spec/property-paths';

export interface PathState {
  /** Types recorded, as `TYPE_BITS`. */
  mask: number;
  /** The path's `lastSeen` as last written or read, epoch ms (a number: it is compared for every value walked). */
  lastSeenMs: number;
}

export interface EventState {
  sourceId: string;
  type: KeyedType;
  /** The event key as stored (bounded). */
  key: string;
  /** Loaded from the table (`warm` in learn.ts); until then nothing below is known. */
  warmed: boolean;
  /** The summary item exists. */
  exists: boolean;
  /** Refused by the source's cap on event keys: nothing of it is recorded. */
  refused: boolean;
  /** Paths reserved against the cap; at the cap, new paths are counted as capped. */
  pathCount: number;
  /** The paths recorded, by path; `tree` holds the paths walked, each pointing at its entry here once found. */
  paths: Map<string, PathState>;
  tree: PathTree<PathState>;
  /** Distinct paths this instance did not record (bounded), and how many are not written yet. */
  cappedPaths: Set<string>;
  pendingCapped: number;
  pendingCount: number;
  /** The summary's `lastSeen` as written or read, and the latest receive time counted since. */
  flushedSeen: string;
  pendingSeen: string;
  /** Serialises concurrent batches of one instance (the local trigger runs two) on this key. */
  busy?: Promise<void>;
}

export interface SourceState {
  /** The source reached its cap on event keys. */
  full: boolean;
  /** Its event keys (`<type>#<key>`), loaded once it is full, so new keys cost no request. */
  keys?: Set<string>;
  cappedKeys: Set<string>;
  pendingCapped: number;
  flushedSeen: string;
}

/** Bounds of the cache and of the sets of capped names it keeps, for memory. */
const EVENT_ENTRIES = 2000;
const SOURCE_ENTRIES = 1000;
const ENTRY_TTL_MS = 3_600_000;
/** Paths walked and kept per event key: room for the recorded ones and as many again. */
const TREE_NODES = 2 * SCHEMA_LIMITS.pathsPerEventKey;
export const MAX_CAPPED_NAMES = 1000;

export class SchemaCache {
  readonly events: LruCache<EventState>;
  readonly sources: LruCache<SourceState>;

  constructor(now: () => number) {
    this.events = new LruCache(EVENT_ENTRIES, now);
    this.sources = new LruCache(SOURCE_ENTRIES, now);
  }

  event(sourceId: string, type: KeyedType, key: string): EventState {
    const id = `${sourceId}\u0000${type}\u0000${key}`;
    const hit = this.events.get(id);
    if (hit) return hit.value;
    const state: EventState = {
      sourceId,
      type,
      key,
      warmed: false,
      exists: false,
      refused: false,
      pathCount: 0,
      paths: new Map(),
      tree: new PathTree(TREE_NODES),
      cappedPaths: new Set(),
      pendingCapped: 0,
      pendingCount: 0,
      flushedSeen: '',
      pendingSeen: '',
    };
    this.events.set(id, state, ENTRY_TTL_MS);
    return state;
  }

  source(sourceId: string): SourceState {
    const hit = this.sources.get(sourceId);
    if (hit) return hit.value;
    const state: SourceState = { full: false, cappedKeys: new Set(), pendingCapped: 0, flushedSeen: '' };
    this.sources.set(sourceId, state, ENTRY_TTL_MS);
    return state;
  }
}

/** Adds `name` to a bounded set of capped names; true when it is new (and so counted). */
export function noteCapped(set: Set<string>, name: string): boolean {
  if (set.has(name) || set.size >= MAX_CAPPED_NAMES) return false;
  set.add(name);
  return true;
}
