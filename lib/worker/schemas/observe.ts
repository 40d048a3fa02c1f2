/**
 * The first step of schema learning, on the worker's hot path: the batch's events grouped by
 * event key, each walked once (lib/spec/property-paths.ts) and compared with what the instance
 * already knows. Known signatures cost a Map lookup; only the unknown ones are kept.
 */
import { PATH_REFRESH_MS } from '../../tables/schemas';
import { TYPE_BITS, type JsonType } from '../../spec/property-paths';
import { eventKeyOf, isKeyedType, storedEventKey } from '../../spec/event-keys';
import { walkShape, type PathNode, type ShapeVisitor } from '../../spec/property-paths';
import type { EventRecord } from '../../message/format';
import { MAX_CAPPED_NAMES, type EventState, type PathState, type SchemaCache } from './state';

/** One event key's events in this batch. */
export class Observation implements ShapeVisitor<PathState> {
  count = 0;
  /** The latest receive time of these events (ISO-8601). */
  seen: string;
  /** Known paths last written before this (epoch ms) are written again (their `lastSeen`). */
  staleBefore: number;
  /** Paths and the types (`TYPE_BITS`) not known to be recorded. */
  readonly fresh = new Map<string, number>();
  /** Known paths and types whose `lastSeen` is due for a refresh. */
  readonly stale = new Set<string>();
  /** Paths the walk did not record (too deep, too long). */
  readonly skipped = new Set<string>();

  constructor(
    readonly state: EventState,
    seen: string,
  ) {
    this.seen = seen;
    this.staleBefore = (Date.parse(seen) || 0) - PATH_REFRESH_MS;
  }

  /** The latest receive time, epoch ms. */
  get seenMs(): number {
    return Date.parse(this.seen) || 0;
  }

  visit(node: PathNode<PathState>, type: JsonType): void {
    const bit = TYPE_BITS[type];
    // A node learns its recorded entry once; until the path is recorded, each sighting looks again.
    const known = node.data ?? (node.data = this.state.paths.get(node.path));
    if (known !== undefined && (known.mask & bit) !== 0) {
      if (known.lastSeenMs < this.staleBefore) this.stale.add(node.path);
      return;
    }
    this.fresh.set(node.path, (this.fresh.get(node.path) ?? 0) | bit);
  }

  capped(path: string): void {
    if (this.skipped.size < MAX_CAPPED_NAMES) this.skipped.add(path);
  }
}

/** The events of a batch (their queue records) grouped by source and event key, each walked. */
export function observeBatch(writes: ReadonlyArray<{ record: EventRecord }>, cache: SchemaCache, fallbackSeen: string): Observation[] {
  const observations = new Map<string, Observation>();
  for (const { record } of writes) {
    const { event, sourceId } = record;
    if (!isKeyedType(event.type)) continue;
    const key = eventKeyOf(event);
    if (key === undefined) continue;
    const stored = storedEventKey(key);
    const id = `${sourceId}\u0000${event.type}\u0000${stored}`;
    const seen = typeof record.receivedAt === 'string' && record.receivedAt !== '' ? record.receivedAt : fallbackSeen;
    let observation = observations.get(id);
    if (observation === undefined) {
      observation = new Observation(cache.event(sourceId, event.type, stored), seen);
      observations.set(id, observation);
    }
    observation.count++;
    if (seen > observation.seen) observation.seen = seen;
    // A refused key records nothing: its events are counted, never walked.
    if (!cache.refuses(observation.state)) walkShape(event, observation.state.tree, observation);
  }
  return [...observations.values()];
}

/** What an observation adds to what is recorded, once the instance knows what is. */
export interface Additions {
  /** New paths with their types. */
  paths: Array<[path: string, mask: number]>;
  /** Known paths with types not recorded yet. */
  types: Array<[path: string, mask: number]>;
  /** Known paths to write `lastSeen` of, and nothing else. */
  touch: string[];
}

export function additionsOf(observation: Observation): Additions {
  const { paths: known } = observation.state;
  const additions: Additions = { paths: [], types: [], touch: [] };
  for (const [path, mask] of observation.fresh) {
    const recorded = known.get(path);
    if (recorded === undefined) additions.paths.push([path, mask]);
    else if ((mask & ~recorded.mask) !== 0) additions.types.push([path, mask & ~recorded.mask]);
    else if (recorded.lastSeenMs < observation.staleBefore) additions.touch.push(path);
  }
  for (const path of observation.stale) if (!observation.fresh.has(path)) additions.touch.push(path);
  return additions;
}
