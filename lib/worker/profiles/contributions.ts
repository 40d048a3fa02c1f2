/**
 * What each event of a batch adds to which profiles, from the queue records the worker decoded
 * (never from stored items), and the batch's additions coalesced into one delta per profile, so a
 * batch writes each fact it touches at most once (lib/worker/profiles/store.ts).
 *
 * - activity (first and last seen, counts) is not kept here: `segment-ingest profile` derives it
 *   from the stored events, so an event that changes no identity adds nothing;
 * - an event carrying both ids links them, both ways (`anonymousIds` of the user, and an item in
 *   the anonymous id's users partition, written when the user's profile gains the link);
 * - identify merges its traits; group adds the group to the profile, merges the group's traits into
 *   the group's profile and, for a user, makes them a member; alias links `previousId` and `userId`
 *   both ways (`aliases` of the user, `aliasedTo` of the previous id's user profile).
 */
import type { EventRecord } from '../../message/format';
import { fitsDynamo } from '../../tables/events';
import { erasureTime } from '../erasure';
import {
  CAPS,
  dayOf,
  jsonValueBytes,
  keyText,
  traitOrder,
  versionOf,
  type LinkKind,
  type ProfileKey,
  type Version,
} from '../../tables/profiles';
import { emptyProfile, mergeProfiles, type Profile } from './profile';
import type { LinkSighting } from './seen-links';

/** One event's additions, with the message it came from and whose erasure would cover it. */
export interface EventContribution {
  owner: string;
  sourceId: string;
  /** The time erasures judge the event by (erasure.ts `erasureTime`). */
  timestamp: string;
  /** userIds whose tombstones cover this event: its userId first, then an alias's previousId. */
  subjects: string[];
  touches: Profile[];
  /** Groups the event's user joined. */
  memberships: Array<{ groupId: string; userId: string }>;
  /** The anonymous id the event's user was seen with. */
  anonymousUser?: { anonymousId: string; userId: string };
}

/** The batch's additions to one profile, and the messages they came from. */
export interface ProfileDelta {
  delta: Profile;
  owners: Set<string>;
}

/** What one event adds; undefined when it adds nothing (nothing to merge or link). */
export function contributionOf(record: EventRecord, owner: string): EventContribution | undefined {
  const { event, sourceId } = record;
  const { userId, anonymousId } = event;
  const version = versionOf(event.timestamp, event.messageId);
  const key = (kind: ProfileKey['kind'], id: string): ProfileKey => ({ kind, sourceId, id });
  const self = userId !== undefined ? key('user', userId) : anonymousId !== undefined ? key('anon', anonymousId) : undefined;
  if (!self) return undefined;
  const main = emptyProfile(self);
  const contribution: EventContribution = {
    owner,
    sourceId,
    timestamp: erasureTime(record),
    subjects: [],
    touches: [main],
    memberships: [],
  };
  if (userId !== undefined) contribution.subjects.push(userId);
  let touched = false;
  if (userId !== undefined && anonymousId !== undefined) {
    link(main, 'anonymousIds', anonymousId, dayOf(event.timestamp));
    contribution.anonymousUser = { anonymousId, userId };
    touched = true;
  }
  if (event.type === 'identify') {
    addTraits(main, event.traits, version);
    touched = true;
  } else if (event.type === 'group' && isId(event.groupId)) {
    link(main, 'groups', event.groupId, version);
    contribution.touches.push(addTraits(emptyProfile(key('group', event.groupId)), event.traits, version));
    if (userId !== undefined) contribution.memberships.push({ groupId: event.groupId, userId });
    touched = true;
  } else if (event.type === 'alias' && userId !== undefined && isId(event.previousId) && event.previousId !== userId) {
    link(main, 'aliases', event.previousId, version);
    contribution.touches.push(link(emptyProfile(key('user', event.previousId)), 'aliasedTo', userId, version));
    contribution.subjects.push(event.previousId);
    touched = true;
  }
  return touched ? contribution : undefined;
}

/** The anonymous-id link a contribution makes, with its day; undefined when it makes none. */
export function sightingOf(c: EventContribution): LinkSighting | undefined {
  const link = c.anonymousUser;
  const day = link && c.touches[0]?.links.get('anonymousIds')?.get(link.anonymousId);
  return link && day !== undefined ? { sourceId: c.sourceId, ...link, day } : undefined;
}

/** True when a contribution adds nothing but its anonymous-id link (a track, page or screen of a known user). */
export function onlyLinksAnonymousId(c: EventContribution): boolean {
  const [main, ...others] = c.touches;
  return main !== undefined && others.length === 0 && c.memberships.length === 0 && main.traits.size === 0 && main.links.size === 1;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function link(profile: Profile, kind: LinkKind, id: string, value: string): Profile {
  profile.links.set(kind, new Map([[id, value]]));
  return profile;
}

/** Adds an event's traits to `profile` (only a plain object's own keys; names too long to keep are skipped). */
function addTraits(profile: Profile, traits: unknown, version: Version): Profile {
  if (typeof traits !== 'object' || traits === null || Array.isArray(traits)) return profile;
  for (const name of Object.keys(traits)) {
    if (name === '' || Buffer.byteLength(name) > CAPS.traitNameBytes) continue;
    const value = storableTrait((traits as Record<string, unknown>)[name]);
    profile.traits.set(name, { value, order: traitOrder(version, value) });
  }
  return profile;
}

/**
 * A trait value as a profile keeps it: as sent when DynamoDB can hold it and it is at most
 * `CAPS.traitValueBytes`, both as JSON and as DynamoDB counts it (a list of small numbers is half
 * again larger there); as `{"$json": "<text>"}` when DynamoDB cannot hold it (nesting too deep,
 * numbers beyond 2^53, empty keys); as `{"$omitted": "...", "bytes": n}` when it is too long.
 * The same event always gives the same value, so merging stays order-independent.
 */
export function storableTrait(value: unknown): unknown {
  const text = JSON.stringify(value) ?? 'null';
  const bytes = Buffer.byteLength(text);
  const omitted = (n: number) => ({ $omitted: `the value is over ${CAPS.traitValueBytes} bytes; the event holds it`, bytes: n });
  if (bytes > CAPS.traitValueBytes) return omitted(bytes);
  // A trait is now one level down (its item's `v`), but the legacy items' depth (item -> traits ->
  // value) is kept, so an event gives the same stored value, and the same `o`, in either layout.
  if (!fitsDynamo(value, 2)) return { $json: text };
  const stored = jsonValueBytes(value ?? null);
  return stored > CAPS.traitValueBytes ? omitted(stored) : (value ?? null);
}

/** Coalesces contributions into one delta per profile (keyed by `keyText`). */
export function coalesce(contributions: readonly EventContribution[]): Map<string, ProfileDelta> {
  const deltas = new Map<string, ProfileDelta>();
  for (const contribution of contributions) {
    for (const touch of contribution.touches) {
      const id = keyText(touch.key);
      let known = deltas.get(id);
      if (!known) deltas.set(id, (known = { delta: emptyProfile(touch.key), owners: new Set() }));
      mergeProfiles(known.delta, touch);
      known.owners.add(contribution.owner);
    }
  }
  return deltas;
}
