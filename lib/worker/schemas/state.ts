/**
 * What one worker instance knows of the schemas table: per event key, the paths and types already
 * recorded, and what it has counted since it last wrote. Signatures in here cost no request when
 * seen again; the cache is bounded, and an entry expires after an hour so an instance catches up
 * with what others wrote (a cold entry costs one Query and one GetItem). It holds at most its byte
 * budget (estimated from the text it keeps, docs/limits.md), however many names a sender invents.
 */
import { LruCache } from '../../shared/lru-cache';
import { SCHEMA_LIMITS } from '../../tables/schemas';
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
/** What an entry is counted as holding besides its strings: the state object, its Maps and Sets. */
const ENTRY_BYTES = 600;
/** Per name in a Map or Set besides its text (at two bytes a character). */
const MEMBER_BYTES = 60;
/** The share of the byte budget for event keys; the sources' key lists get the rest. */
const EVENT_SHARE = 0.75;

export class SchemaCache {
  readonly events: LruCache<EventState>;
  readonly sources: LruCache<SourceState>;

  /** `budgetBytes`: what the whole cache may hold (config `schemaCacheMb`), whatever the traffic. */
  constructor(now: () => number, budgetBytes = Infinity) {
    this.events = new LruCache(EVENT_ENTRIES, now, budgetBytes * EVENT_SHARE);
    this.sources = new LruCache(SOURCE_ENTRIES, now, budgetBytes * (1 - EVENT_SHARE));
  }

  event(sourceId: string, type: KeyedType, key: string): EventState {
    const id = eventId(sourceId, type, key);
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
    this.events.set(id, state, ENTRY_TTL_MS, eventBytes(state));
    return state;
  }

  source(sourceId: string): SourceState {
    const hit = this.sources.get(sourceId);
    if (hit) return hit.value;
    const state: SourceState = { full: false, cappedKeys: new Set(), pendingCapped: 0, flushedSeen: '' };
    this.sources.set(sourceId, state, ENTRY_TTL_MS, sourceBytes(sourceId, state));
    return state;
  }

  /**
   * True when the source is known to be at its cap on event keys without this one: the key is
   * refused before its events are walked, so a flood of new names costs no tree.
   */
  refuses(state: EventState): boolean {
    if (state.refused) return true;
    const keys = this.sources.get(state.sourceId)?.value.keys;
    return keys !== undefined && !keys.has(`${state.type}#${state.key}`);
  }

  /** Counts what these entries hold now against the budget (they grew in a walk or a read), evicting the least recently used past it. */
  account(events: Iterable<EventState>): void {
    const sources = new Set<string>();
    for (const state of events) {
      if (state.refused) forgetShapes(state);
      this.events.resize(eventId(state.sourceId, state.type, state.key), eventBytes(state));
      sources.add(state.sourceId);
    }
    for (const sourceId of sources) {
      const source = this.sources.get(sourceId);
      if (source) this.sources.resize(sourceId, sourceBytes(sourceId, source.value));
    }
  }
}

function eventId(sourceId: string, type: KeyedType, key: string): string {
  return `${sourceId}\u0000${type}\u0000${key}`;
}

/** A refused key records nothing: what was walked or read of it is let go, so remembering it costs a small entry. */
function forgetShapes(state: EventState): void {
  if (state.tree.bytes === 0 && state.paths.size === 0 && state.cappedPaths.size === 0) return;
  state.tree = new PathTree(0);
  state.paths = new Map();
  state.cappedPaths = new Set();
}

function eventBytes(state: EventState): number {
  return (
    ENTRY_BYTES +
    2 * (state.sourceId.length + state.key.length) +
    state.tree.bytes +
    namesBytes(state.paths.keys()) +
    namesBytes(state.cappedPaths)
  );
}

function sourceBytes(sourceId: string, state: SourceState): number {
  return ENTRY_BYTES + 2 * sourceId.length + namesBytes(state.keys ?? []) + namesBytes(state.cappedKeys);
}

function namesBytes(names: Iterable<string>): number {
  let bytes = 0;
  for (const name of names) bytes += 2 * name.length + MEMBER_BYTES;
  return bytes;
}

/** Adds `name` to a bounded set of capped names; true when it is new (and so counted). */
export function noteCapped(set: Set<string>, name: string): boolean {
  if (set.has(name) || set.size >= MAX_CAPPED_NAMES) return false;
  set.add(name);
  return true;
}
