/**
 * What changed in the observed schemas of a source since a time: new event keys, new paths, paths
 * that gained a type (a conflict such as `properties.total: number, string`), and what was not seen
 * since. `integer` and `number` are one kind of value here: a total that is sometimes 27 and
 * sometimes 27.5 is not a conflict (`schemas show` still lists both types).
 *
 * Last-seen times are written at most once a minute per event key and once an hour per path
 * (lib/tables/schemas.ts), so "not seen" needs the last sighting to be that much older than
 * the window's start: a path is reported when it was last seen more than an hour before `since`.
 */
import { PATH_REFRESH_MS, SUMMARY_REFRESH_MS, type ObservedEvent, type ObservedPath } from '../../lib/tables/schemas';
import type { JsonType } from '../../lib/spec/property-paths';
import { toIsoMillis } from '../../lib/spec/timestamps';

export type DriftKind = 'new-event' | 'new-path' | 'new-type' | 'not-seen';

export interface DriftChange {
  event: string;
  /** `null` for a change of the whole event key. */
  path: string | null;
  change: DriftKind;
  types: JsonType[];
  /** The event's type (track, page, ...) and when the change happened (first seen, or last seen for not-seen). */
  eventType: string;
  at: string;
}

const ORDER: Record<DriftKind, number> = { 'new-event': 0, 'new-path': 1, 'new-type': 2, 'not-seen': 3 };

/** The changes of each event key and its paths since `since` (ISO-8601). */
export function driftSince(
  observed: ReadonlyArray<{ event: ObservedEvent; paths: readonly ObservedPath[] }>,
  since: string,
): DriftChange[] {
  const eventsGoneBefore = toIsoMillis(Date.parse(since) - SUMMARY_REFRESH_MS);
  const pathsGoneBefore = toIsoMillis(Date.parse(since) - PATH_REFRESH_MS);
  const changes: DriftChange[] = [];
  for (const { event, paths } of observed) {
    const base = { event: event.event, eventType: event.type };
    if (event.firstSeen >= since) changes.push({ ...base, path: null, change: 'new-event', types: [], at: event.firstSeen });
    if (event.lastSeen < eventsGoneBefore) {
      changes.push({ ...base, path: null, change: 'not-seen', types: [], at: event.lastSeen });
      continue;
    }
    for (const path of paths) {
      const types = path.types.map((t) => t.type);
      const change = (kind: DriftKind, at: string) => changes.push({ ...base, path: path.path, change: kind, types, at });
      if (path.firstSeen >= since) change('new-path', path.firstSeen);
      const conflict = conflictSince(path, since);
      if (conflict) change('new-type', conflict);
      if (path.lastSeen < pathsGoneBefore) change('not-seen', path.lastSeen);
    }
  }
  return changes.sort(
    (a, b) =>
      compare(a.event, b.event) ||
      compare(a.eventType, b.eventType) ||
      ORDER[a.change] - ORDER[b.change] ||
      compare(a.path ?? '', b.path ?? ''),
  );
}

/**
 * When a path came to hold values of more than one kind in the window (`integer` counted as
 * `number`): the first sighting of the latest kind, if that is at or after `since`.
 */
function conflictSince(path: ObservedPath, since: string): string | undefined {
  const kinds = new Map<string, string>();
  for (const { type, firstSeen } of path.types) {
    const kind = type === 'integer' ? 'number' : type;
    const known = kinds.get(kind);
    if (known === undefined || firstSeen < known) kinds.set(kind, firstSeen);
  }
  if (kinds.size < 2) return undefined;
  const latest = [...kinds.values()].sort().at(-1);
  return latest !== undefined && latest >= since ? latest : undefined;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
