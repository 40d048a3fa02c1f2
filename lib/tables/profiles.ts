/**
 * The `profiles` table: its key layout, its items and how they are read, for the worker (which
 * writes them, lib/worker/profiles/) and the CLI (which reads them, cli/profile/, cli/group/). A
 * team's own code may read it too (docs/profiles.md). One table, keys `pk` and `sk`:
 *
 * | item | pk | sk |
 * |---|---|---|
 * | a user's profile (identity) | `<sourceId>#user#<userId>` | `profile` |
 * | its activity (earlier versions only; erasure deletes it) | `<sourceId>#user#<userId>` | `activity` |
 * | an anonymous id's own profile (its activity, earlier versions) | `<sourceId>#anon#<anonymousId>` | `profile` (`activity`) |
 * | a group's profile | `<sourceId>#group#<groupId>` | `profile` |
 * | a member of a group | `<sourceId>#members#<groupId>` | `<userId>` |
 * | a user an anonymous id was seen with | `<sourceId>#anon-users#<anonymousId>` | `<userId>` |
 *
 * Source ids hold no `#` (lib/admin/sources.ts), and ids are at most 1,024 bytes of UTF-8 each
 * (lib/spec/normalize.ts), so every key is unambiguous and fits DynamoDB's 2,048-byte partition and
 * 1,024-byte sort keys. A profile is read with one BatchGetItem of its identity item; a group's members,
 * or the users an anonymous id belongs to, with one Query of their partition. Those two are key-only
 * items, written once when the user's profile gains the group or the anonymous id.
 *
 * The identity item (`profile`) is written only when an event changes what it holds. Activity
 * (first and last seen, counts) is not kept here: `segment-ingest profile` derives it from the event
 * tables at read time (lib/tables/events.ts `readActivity`), so an event that changes no identity
 * costs no profile write at all, and counts stay exact under redelivery.
 *
 * Identity attributes (absent when empty):
 * - `kind` (`user`, `anon`, `group`), `sourceId`, and `userId`, `anonymousId` or `groupId`;
 * - `rev`: the revision, raised by every write (optimistic concurrency: writes are conditional on it);
 * - `traits`: the merged traits; `traitVersions`: trait name to an index into `versions`, the
 *   `<timestamp>#<messageId>` of the event that set the trait (shared, since one identify sets many);
 * - links, each a map from the other id to when it was linked: `anonymousIds` (user) to the day
 *   (`YYYY-MM-DD`) of the latest event carrying both ids; `aliases` (previousIds aliased to this
 *   user), `aliasedTo` (the ids this one was aliased to) and `groups` (user, anon) to the version of
 *   the latest alias or group call.
 *
 * The `activity` item that earlier versions updated in place held `firstSeen`, `lastSeen` and
 * `<type>Count` per event type (`trackCount`, ...); `activityItem`/`activityFromItem` describe it, and
 * user erasure deletes it where it exists (lib/worker/profiles/erase.ts).
 */
import { BatchGetItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { awsCall } from '../shared/aws-call';
import type { Log } from '../shared/log';
import { setOwn } from '../shared/own-keys';
import { DeadlineError, retryPending, type Backoff, type Clock } from '../shared/retry';
import { marshallItem, unmarshallItem, type AttributeMap } from './dynamo-wire';

export const PROFILES_TABLE = 'profiles';
export const PROFILE_SK = 'profile';
export const ACTIVITY_SK = 'activity';

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
 * Caps that keep a profile item under DynamoDB's 400 KB whatever the events hold, by DynamoDB's own
 * size rules (`ITEM_LIMIT_BYTES`; the worst case is built on DynamoDB Local by
 * tests/integration/profile-limits.test.ts). Each keeps the most recent entries: traits by the
 * version that set them, links by when they were last seen; ties by name.
 */
export const CAPS = {
  traits: 100,
  /** Bytes of a trait name; longer names are not kept in profiles (the events have them). */
  traitNameBytes: 128,
  /**
   * Bytes of a trait value, as JSON and as DynamoDB counts it (whichever is larger: a list of small
   * numbers is half again larger in DynamoDB); a longer value is kept as `{"$omitted": ..., "bytes": n}`.
   */
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

/** The activity item of a user's or an anonymous id's profile (groups have none). */
export function activityItemKey(key: ProfileKey): { pk: string; sk: string } {
  return { pk: profilePartitionKey(key), sk: ACTIVITY_SK };
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

/** DynamoDB's limit on an item, in its own bytes (`itemBytes`). */
export const ITEM_LIMIT_BYTES = 400 * 1024;

/**
 * The DynamoDB actions the profile code calls on the profiles table, worker and CLI together: the
 * worker role's grant on the table is exactly this list (tests/deploy/serverless-package.test.ts).
 * BatchGetItem: reads of profiles; PartiQL statements (BatchExecuteStatement): conditional identity
 * writes, and erasure's delete of an activity item left by earlier versions; BatchWriteItem: link
 * items and erasure's deletes; PutItem: a link item BatchWriteItem refused, resent alone
 * (lib/worker/write.ts). No UpdateItem: activity is no longer written (derived at read time from the
 * event tables, lib/tables/events.ts `readActivity`). The CLI also Queries (its own role).
 */
export const PROFILE_WORKER_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLDelete',
  'dynamodb:PartiQLInsert',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PutItem',
] as const;

/** What an erasure removed from the profiles table, counted in its audit record. */
export interface ProfileErasure {
  /** The user's own profile items deleted (0 or 1). */
  profiles: number;
  /** Links naming the user removed: anonymous-user items, and aliases in other profiles (emptied ones deleted too). */
  links: number;
  memberships: number;
}

export interface TraitEntry {
  value: unknown;
  version: Version;
}

export interface Activity {
  counts: Map<string, number>;
  firstSeen: string;
  lastSeen: string;
}

export interface Profile {
  key: ProfileKey;
  /** The stored revision of the identity item; 0 when the profile is not stored. */
  rev: number;
  traits: Map<string, TraitEntry>;
  links: Map<LinkKind, Map<string, string>>;
  activity?: Activity;
}

/** JSON with object keys sorted: the same text for the same value, whatever order DynamoDB returned its keys in. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** Orders link values: days (`YYYY-MM-DD`) as text, versions by `compareVersions`. */
export function compareLinkValues(kind: LinkKind, a: string, b: string): number {
  if (kind === 'anonymousIds') return a === b ? 0 : a < b ? -1 : 1;
  return compareVersions(a, b);
}

// ---- Sizes, by DynamoDB's rules ----

/**
 * The bytes DynamoDB counts for an item in the wire form: each attribute's name (UTF-8) and value;
 * strings by UTF-8 bytes, numbers by significant digits (about one byte per two, plus one), null
 * and booleans 1, lists and maps 3 plus 1 per element (and a map's names). The size its writes are
 * billed by (1 KB a write unit) and the one the 400 KB limit applies to.
 */
export function itemBytes(item: AttributeMap): number {
  let bytes = 0;
  for (const name of Object.keys(item)) bytes += Buffer.byteLength(name) + valueBytes(item[name] as AttributeValue);
  return bytes;
}

/** The bytes DynamoDB counts for one value in the wire form. */
export function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return numberBytes(value.N);
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.B !== undefined) return value.B.length;
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + Buffer.byteLength(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, n) => sum + numberBytes(n), 0);
  if (value.M !== undefined) {
    let bytes = 3;
    for (const name of Object.keys(value.M)) bytes += 1 + Buffer.byteLength(name) + valueBytes(value.M[name] as AttributeValue);
    return bytes;
  }
  if (value.L !== undefined) return value.L.reduce((sum, inner) => sum + 1 + valueBytes(inner), 3);
  return 0;
}

function numberBytes(text: string): number {
  const digits = text.replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

/** The bytes DynamoDB would count for a JSON value (as the worker's wire form writes it). */
export function jsonValueBytes(value: unknown): number {
  return valueBytes((marshallItem({ v: value }).v ?? { NULL: true }) as AttributeValue);
}

// ---- The items ----

function objectOf(entries: Iterable<readonly [string, unknown]>): Record<string, unknown> | undefined {
  const object: Record<string, unknown> = {};
  let any = false;
  for (const [key, value] of entries) {
    setOwn(object, key, value);
    any = true;
  }
  return any ? object : undefined;
}

/** The identity item of a profile (no activity: that is `activityItem`'s), attributes in the order above; empty maps are left out. */
export function profileItem(profile: Profile): Record<string, unknown> {
  const { key } = profile;
  const versions = [...new Set([...profile.traits.values()].map((t) => t.version))].sort(compareVersions);
  const index = new Map<Version, number>(versions.map((v, i) => [v, i]));
  const item: Record<string, unknown> = {
    ...profileItemKey(key),
    kind: key.kind,
    sourceId: key.sourceId,
    [ID_ATTRIBUTE[key.kind]]: key.id,
    rev: profile.rev,
  };
  const traits = objectOf([...profile.traits].map(([name, t]) => [name, t.value] as const));
  if (traits) {
    item.traits = traits;
    item.traitVersions = objectOf([...profile.traits].map(([name, t]) => [name, index.get(t.version) ?? 0] as const));
    item.versions = versions;
  }
  for (const kind of LINK_KINDS) {
    const links = profile.links.get(kind);
    const object = links && objectOf(links);
    if (object) item[kind] = object;
  }
  return item;
}

export function profileWireItem(profile: Profile): AttributeMap {
  return marshallItem(profileItem(profile));
}

/** The attribute of the activity item counting events of `type`. */
export function countAttribute(type: string): string {
  return `${type}Count`;
}

const COUNT_SUFFIX = 'Count';

/** The activity item of a profile (undefined without activity). */
export function activityItem(key: ProfileKey, activity: Activity): Record<string, unknown> {
  const item: Record<string, unknown> = { ...activityItemKey(key), firstSeen: activity.firstSeen, lastSeen: activity.lastSeen };
  for (const [type, n] of activity.counts) setOwn(item, countAttribute(type), n);
  return item;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The profile an identity item holds (with the activity item's activity, if given); undefined when it is not a profile item. */
export function profileFromItem(item: Record<string, unknown>, activity?: Record<string, unknown>): Profile | undefined {
  const kind = item.kind as ProfileKind;
  if (kind !== 'user' && kind !== 'anon' && kind !== 'group') return undefined;
  const id = item[ID_ATTRIBUTE[kind]];
  if (typeof item.sourceId !== 'string' || typeof id !== 'string') return undefined;
  const profile: Profile = {
    key: { kind, sourceId: item.sourceId, id },
    rev: typeof item.rev === 'number' ? item.rev : 0,
    traits: new Map(),
    links: new Map(),
  };
  const versions = Array.isArray(item.versions) ? (item.versions as unknown[]) : [];
  if (isObject(item.traits)) {
    const traitVersions = isObject(item.traitVersions) ? item.traitVersions : {};
    for (const name of Object.keys(item.traits)) {
      const version = versions[Number(traitVersions[name])];
      profile.traits.set(name, { value: item.traits[name], version: typeof version === 'string' ? version : '#' });
    }
  }
  for (const kind of LINK_KINDS) {
    const links = item[kind];
    if (!isObject(links)) continue;
    profile.links.set(kind, new Map(Object.keys(links).map((id) => [id, String(links[id])])));
  }
  const read = activity && activityFromItem(activity);
  if (read) profile.activity = read;
  return profile;
}

/** The activity an activity item holds; undefined without first and last seen. */
export function activityFromItem(item: Record<string, unknown>): Activity | undefined {
  if (typeof item.firstSeen !== 'string' || typeof item.lastSeen !== 'string') return undefined;
  const counts = new Map<string, number>();
  for (const name of Object.keys(item)) {
    if (name.endsWith(COUNT_SUFFIX) && typeof item[name] === 'number') counts.set(name.slice(0, -COUNT_SUFFIX.length), item[name]);
  }
  return { firstSeen: item.firstSeen, lastSeen: item.lastSeen, counts };
}

// ---- Reads ----

/** What reads and writes of the profiles table need: the low-level client (its answers keep every attribute name), the table, time. */
export interface ProfileStore {
  writer: DynamoDBClient;
  table: string;
  clock: Clock;
  log: Log;
}

const BATCH_GET_KEYS = 100;
const READ_BACKOFF: Backoff = { baseMs: 50, capMs: 1000, jitter: 'full' };

export function remaining(store: ProfileStore, deadline: number): number {
  return Math.max(1, Math.ceil(deadline - store.clock.now()));
}

/** Text that identifies an item by its keys. */
export const itemId = (key: { pk: unknown; sk: unknown }): string => `${String(key.pk)}\u0000${String(key.sk)}`;

/**
 * The items at `keys` of the profiles table, as JSON keyed by `itemId`, read in pages of 100;
 * unprocessed keys are retried until `deadline`, then it throws (`DeadlineError`).
 */
export async function readItems(
  store: ProfileStore,
  keys: ReadonlyArray<{ pk: string; sk: string }>,
  consistent: boolean,
  deadline: number,
): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  const readPage = async (pending: ReadonlyArray<Record<string, AttributeValue>>) => {
    const command = new BatchGetItemCommand({ RequestItems: { [store.table]: { Keys: [...pending], ConsistentRead: consistent } } });
    const response = await awsCall({ service: 'DynamoDB', timeoutMs: remaining(store, deadline) }, () => store.writer.send(command));
    for (const wire of response.Responses?.[store.table] ?? []) {
      const item = unmarshallItem(wire, 'null');
      found.set(itemId(item as { pk: unknown; sk: unknown }), item);
    }
    return response.UnprocessedKeys?.[store.table]?.Keys ?? [];
  };
  const unique = [...new Map(keys.map((k) => [itemId(k), k])).values()];
  for (let i = 0; i < unique.length; i += BATCH_GET_KEYS) {
    const page = unique.slice(i, i + BATCH_GET_KEYS).map((k) => marshallItem(k));
    const { pending } = await retryPending(page, { policy: READ_BACKOFF, deadline, clock: store.clock }, readPage);
    if (pending.length > 0) throw new DeadlineError(remaining(store, deadline), 'reading the profiles');
  }
  return found;
}

/** Stored profiles (their identity items) at `keys`, keyed by `keyText`; absent ones are missing from the map. */
export async function readProfiles(
  store: ProfileStore,
  keys: readonly ProfileKey[],
  consistent: boolean,
  deadline: number,
): Promise<Map<string, Profile>> {
  const items = await readItems(store, keys.map(profileItemKey), consistent, deadline);
  const profiles = new Map<string, Profile>();
  for (const key of keys) {
    const item = items.get(itemId(profileItemKey(key)));
    const profile = item && profileFromItem(item);
    if (profile) profiles.set(keyText(key), profile);
  }
  return profiles;
}
