/**
 * A profile's additions in memory (a batch's delta), and the merge that makes them the same
 * whatever order their events arrive in. Every fact of a profile is a join of its events that
 * ignores order and repetition: it keeps the value with the greatest `o` (lib/tables/profiles.ts):
 *
 * - a trait, the value of the event with the latest version (`<timestamp>#<messageId>`; between two
 *   values of one version, the one whose canonical JSON hashes greater, so even a messageId reused
 *   with other content converges);
 * - a link, the latest time it was seen (a day for anonymous ids, a version for the others).
 *
 * The same order decides in the table (a fact is written only when its `o` grows), so a batch's
 * coalesced delta and the stored facts merge the same way.
 */
import { compareOrders, type LinkKind, type Profile, type TraitEntry } from '../../tables/profiles';

export { emptyProfile, type Profile, type TraitEntry } from '../../tables/profiles';

/** Merges `source` into `target` (both may be deltas); returns true when `target` changed. */
export function mergeProfiles(target: Profile, source: Profile): boolean {
  let changed = false;
  for (const [name, entry] of source.traits) changed = mergeTrait(target.traits, name, entry) || changed;
  for (const [kind, entries] of source.links) {
    for (const [id, value] of entries) changed = mergeLink(target, kind, id, value) || changed;
  }
  return changed;
}

function mergeTrait(traits: Map<string, TraitEntry>, name: string, entry: TraitEntry): boolean {
  const known = traits.get(name);
  if (known && compareOrders(entry.order, known.order) <= 0) return false;
  traits.set(name, entry);
  return true;
}

function mergeLink(profile: Profile, kind: LinkKind, id: string, value: string): boolean {
  let links = profile.links.get(kind);
  if (!links) profile.links.set(kind, (links = new Map()));
  const known = links.get(id);
  if (known !== undefined && compareOrders(value, known) <= 0) return false;
  links.set(id, value);
  return true;
}
