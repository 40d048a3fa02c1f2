/**
 * A profile in memory, and the merge that makes profiles the same whatever order their events
 * arrive in. Every piece of a profile is a join of its events that ignores order and repetition:
 *
 * - a trait keeps the value of the event with the latest version (`<timestamp>#<messageId>`;
 *   between two values of one version, the greater canonical JSON, so even a messageId reused with
 *   other content converges);
 * - a link keeps the latest time it was seen (a day for anonymous links, a version for the others);
 * - first seen is the earliest event time, last seen the latest.
 *
 * Caps keep the greatest entries (traits and links by version, ties by name), which stays
 * order-independent: an entry outside the final top N never outranks N others, and one inside it
 * is never evicted once its latest version has been merged. Counts add up: exact for events
 * delivered once (see docs/profiles.md on duplicates).
 */
import {
  CAPS,
  canonicalJson,
  compareLinkValues,
  compareVersions,
  type Activity,
  type LinkKind,
  type Profile,
  type ProfileKey,
  type TraitEntry,
} from '../../tables/profiles';

export { canonicalJson, compareLinkValues, type Activity, type Profile, type TraitEntry } from '../../tables/profiles';

export function emptyProfile(key: ProfileKey): Profile {
  return { key, rev: 0, traits: new Map(), links: new Map() };
}

export function copyProfile(profile: Profile): Profile {
  const links = new Map<LinkKind, Map<string, string>>();
  for (const [kind, entries] of profile.links) links.set(kind, new Map(entries));
  const { activity } = profile;
  return {
    key: profile.key,
    rev: profile.rev,
    traits: new Map(profile.traits),
    links,
    ...(activity ? { activity: { counts: new Map(activity.counts), firstSeen: activity.firstSeen, lastSeen: activity.lastSeen } } : {}),
  };
}

/** True when the profile holds nothing (a profile emptied by an erasure is deleted, not kept empty). */
export function isEmptyProfile(profile: Profile): boolean {
  return profile.traits.size === 0 && profile.activity === undefined && [...profile.links.values()].every((links) => links.size === 0);
}

const byName = (a: string, b: string) => (a === b ? 0 : a < b ? 1 : -1);

/** Merges `source` into `target` (both may be deltas); returns true when `target` changed. */
export function mergeProfiles(target: Profile, source: Profile): boolean {
  let changed = false;
  for (const [name, entry] of source.traits) changed = mergeTrait(target.traits, name, entry) || changed;
  for (const [kind, entries] of source.links) {
    for (const [id, value] of entries) changed = mergeLink(target, kind, id, value) || changed;
  }
  if (source.activity) changed = mergeActivity(target, source.activity) || changed;
  return changed;
}

function traitOrder(a: [string, TraitEntry], b: [string, TraitEntry]): number {
  return compareVersions(a[1].version, b[1].version) || byName(a[0], b[0]);
}

function mergeTrait(traits: Map<string, TraitEntry>, name: string, entry: TraitEntry): boolean {
  const known = traits.get(name);
  if (known) {
    const order = compareVersions(entry.version, known.version);
    if (order < 0 || (order === 0 && canonicalJson(entry.value) <= canonicalJson(known.value))) return false;
    traits.set(name, entry);
    return true;
  }
  return insertCapped(traits, name, entry, CAPS.traits, (a, b) => traitOrder(a, b));
}

function mergeLink(profile: Profile, kind: LinkKind, id: string, value: string): boolean {
  let links = profile.links.get(kind);
  if (!links) profile.links.set(kind, (links = new Map()));
  const known = links.get(id);
  if (known !== undefined) {
    if (compareLinkValues(kind, value, known) <= 0) return false;
    links.set(id, value);
    return true;
  }
  return insertCapped(links, id, value, CAPS.links[kind], (a, b) => compareLinkValues(kind, a[1], b[1]) || byName(a[0], b[0]));
}

/** Adds an entry to a map holding at most `cap`, evicting the least one when it ranks above it. */
function insertCapped<V>(
  map: Map<string, V>,
  name: string,
  value: V,
  cap: number,
  order: (a: [string, V], b: [string, V]) => number,
): boolean {
  if (map.size < cap) {
    map.set(name, value);
    return true;
  }
  let least: [string, V] | undefined;
  for (const entry of map) if (!least || order(entry, least) < 0) least = entry;
  if (!least || order([name, value], least) <= 0) return false;
  map.delete(least[0]);
  map.set(name, value);
  return true;
}

function mergeActivity(target: Profile, activity: Activity): boolean {
  const known = target.activity;
  if (!known) {
    target.activity = { counts: new Map(activity.counts), firstSeen: activity.firstSeen, lastSeen: activity.lastSeen };
    return true;
  }
  let changed = false;
  for (const [type, n] of activity.counts) {
    if (n === 0) continue;
    known.counts.set(type, (known.counts.get(type) ?? 0) + n);
    changed = true;
  }
  if (activity.firstSeen < known.firstSeen) [known.firstSeen, changed] = [activity.firstSeen, true];
  if (activity.lastSeen > known.lastSeen) [known.lastSeen, changed] = [activity.lastSeen, true];
  return changed;
}

/** Removes `id` from the profile's links of `kind`; true when it was there. */
export function removeLink(profile: Profile, kind: LinkKind, id: string): boolean {
  return profile.links.get(kind)?.delete(id) ?? false;
}
