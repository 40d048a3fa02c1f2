/**
 * The `profiles` table, as a team's own code may read it (docs/profiles.md). One table, keys `pk`
 * and `sk`:
 *
 * | item | pk | sk |
 * |---|---|---|
 * | a user's profile | `<sourceId>#user#<userId>` | `profile` |
 * | an anonymous id's own profile | `<sourceId>#anon#<anonymousId>` | `profile` |
 * | a group's profile | `<sourceId>#group#<groupId>` | `profile` |
 * | a member of a group | `<sourceId>#members#<groupId>` | `<userId>` |
 * | a user an anonymous id was seen with | `<sourceId>#anon-users#<anonymousId>` | `<userId>` |
 *
 * Source ids hold no `#` (lib/admin/sources.ts), and ids are at most 1,024 bytes of UTF-8 each
 * (lib/spec/normalize.ts), so every key is unambiguous and fits DynamoDB's 2,048-byte partition and
 * 1,024-byte sort keys. A profile is read with one GetItem; a group's members, or the users an
 * anonymous id belongs to, with one Query of their partition. Those two are key-only items, written
 * once when the user's profile gains the group or the anonymous id (BatchWriteItem, no read).
 *
 * A profile's attributes (absent when empty):
 * - `kind` (`user`, `anon`, `group`), `sourceId`, and `userId`, `anonymousId` or `groupId`;
 * - `rev`: the revision, raised by every write (optimistic concurrency: writes are conditional on it);
 * - `traits`: the merged traits; `traitVersions`: trait name to an index into `versions`, the
 *   `<timestamp>#<messageId>` of the event that set the trait (shared, since one identify sets many);
 * - links, each a map from the other id to when it was linked: `anonymousIds` (user) to the day
 *   (`YYYY-MM-DD`) of the latest event carrying both ids; `aliases` (previousIds aliased to this
 *   user), `aliasedTo` (the ids this one was aliased to) and `groups` (user, anon) to the version of
 *   the latest alias or group call;
 * - activity (stage parameter `profileActivity`): `firstSeen`, `lastSeen` (event times) and `counts`
 *   (events per type).
 */

export const PROFILES_TABLE = 'profiles';
export const PROFILE_SK = 'profile';

export type ProfileKind = 'user' | 'anon' | 'group';

export const ID_ATTRIBUTE: Record<ProfileKind, 'userId' | 'anonymousId' | 'groupId'> = {
  user: 'userId',
  anon: 'anonymousId',
  group: 'groupId',
};

/** The kinds of link a profile holds, and which profiles hold each. */
export const LINK_KINDS = ['anonymousIds', 'aliases', 'aliasedTo', 'groups'] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

/**
 * Caps that keep a profile item well under DynamoDB's 400 KB whatever the events hold (the worst
 * case is about 322 KB: tests/unit/worker/profiles.test.ts). Each keeps the most recent
 * entries: traits by the version that set them, links by when they were last seen; ties by name.
 */
export const CAPS = {
  traits: 100,
  /** Bytes of a trait name; longer names are not kept in profiles (the events have them). */
  traitNameBytes: 128,
  /** Bytes of a trait value as JSON; a longer value is kept as `{"$omitted": ..., "bytes": n}`. */
  traitValueBytes: 1024,
  links: { anonymousIds: 50, aliases: 50, aliasedTo: 10, groups: 50 } satisfies Record<LinkKind, number>,
} as const;

export interface ProfileKey {
  kind: ProfileKind;
  sourceId: string;
  id: string;
}

export function profilePartitionKey(key: ProfileKey): string {
  return `${key.sourceId}#${key.kind}#${key.id}`;
}

export function profileItemKey(key: ProfileKey): { pk: string; sk: string } {
  return { pk: profilePartitionKey(key), sk: PROFILE_SK };
}

/** The members partition of a group: one item per userId that joined it, the userId as sort key. */
export function membersPartitionKey(sourceId: string, groupId: string): string {
  return `${sourceId}#members#${groupId}`;
}

export function membershipKey(sourceId: string, groupId: string, userId: string): { pk: string; sk: string } {
  return { pk: membersPartitionKey(sourceId, groupId), sk: userId };
}

/** The users an anonymous id was seen with: one item per userId, the userId as sort key. */
export function anonymousUsersPartitionKey(sourceId: string, anonymousId: string): string {
  return `${sourceId}#anon-users#${anonymousId}`;
}

export function anonymousUserKey(sourceId: string, anonymousId: string, userId: string): { pk: string; sk: string } {
  return { pk: anonymousUsersPartitionKey(sourceId, anonymousId), sk: userId };
}

/** Text that identifies a profile in maps and sets (ids may hold any character, so JSON). */
export function keyText(key: ProfileKey): string {
  return JSON.stringify([key.kind, key.sourceId, key.id]);
}

/** `<timestamp>#<messageId>`: the event that set a trait or a link. Timestamps never hold `#`. */
export type Version = string;

export function versionOf(timestamp: string, messageId: string): Version {
  return `${timestamp}#${messageId}`;
}

/** Orders versions by event time, then messageId (the tie-break). */
export function compareVersions(a: Version, b: Version): number {
  const i = a.indexOf('#');
  const j = b.indexOf('#');
  const ta = a.slice(0, i);
  const tb = b.slice(0, j);
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ma = a.slice(i + 1);
  const mb = b.slice(j + 1);
  return ma === mb ? 0 : ma < mb ? -1 : 1;
}

/** The day of an event time (`YYYY-MM-DD`): anonymous links move at most once a day, so a known link costs no write. */
export function dayOf(timestamp: string): string {
  return timestamp.slice(0, 10);
}
