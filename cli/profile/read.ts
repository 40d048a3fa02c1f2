/**
 * Reading profiles for the CLI, by key only: a Query of the profile's partition (its facts, strongly
 * consistent, page by page, keeping the most recent `CAPS` of each kind; lib/tables/profiles.ts
 * `readProfile`), a Query of one group's members partition, and the activity
 * (first and last seen, counts) derived from the identity's stored events, a Query per event table
 * (lib/tables/events.ts `readActivity`). Nothing is scanned. Profiles are printed as JSON with their
 * traits in name order and their links oldest first.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { silentLog } from '../../lib/shared/log';
import { systemClock } from '../../lib/shared/retry';
import { EVENT_TYPES, type EventType } from '../../lib/spec/event-types';
import { readActivity, type EventActivity } from '../../lib/tables/events';
import { queryPages } from '../../lib/tables/query';
import { setOwn } from '../../lib/shared/own-keys';
import {
  anonymousUsersPartitionKey,
  compareOrders,
  keyText,
  membersPartitionKey,
  readProfiles,
  shownCap,
  type FactKind,
  type LinkKind,
  type Profile,
  type ProfileKey,
  type ProfileStore,
} from '../../lib/tables/profiles';

/** Longest a lookup may take before it is given up. */
const LOOKUP_MS = 30_000;

export interface ProfileReader {
  get(keys: readonly ProfileKey[]): Promise<Map<string, Profile>>;
  /** The userIds of a group's members, in id order. */
  members(sourceId: string, groupId: string): Promise<string[]>;
  /** The userIds an anonymous id was seen with, in id order. */
  anonymousUsers(sourceId: string, anonymousId: string): Promise<string[]>;
  /** The activity of a user (or an anonymous id without a user) from its stored events; undefined without any. */
  activity(key: ProfileKey): Promise<EventActivity | undefined>;
}

/** The tables a reader reads: the profiles table, and the event tables activity is derived from. */
export type ReaderTables = { profiles: string } & Record<EventType, string>;

export function createProfileReader(client: DynamoDBClient, tables: ReaderTables): ProfileReader {
  const table = tables.profiles;
  const store: ProfileStore = { writer: client, table, clock: systemClock, log: silentLog };
  /** The sort keys of one partition of key-only items, page by page. */
  const sortKeys = async (pk: string): Promise<string[]> => {
    const keys: string[] = [];
    const pages = queryPages(client, {
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: pk } },
      ProjectionExpression: 'sk',
      ConsistentRead: true,
    });
    for await (const page of pages) for (const item of page) if (item.sk?.S !== undefined) keys.push(item.sk.S);
    return keys;
  };
  return {
    get: (keys) => readProfiles(store, keys, Date.now() + LOOKUP_MS),
    members: (sourceId, groupId) => sortKeys(membersPartitionKey(sourceId, groupId)),
    anonymousUsers: (sourceId, anonymousId) => sortKeys(anonymousUsersPartitionKey(sourceId, anonymousId)),
    activity: async (key) => {
      if (key.kind === 'group') return undefined;
      const identity = key.kind === 'user' ? { userId: key.id } : { anonymousId: key.id };
      return readActivity(client, tables, { sourceId: key.sourceId, ...identity }, EVENT_TYPES);
    },
  };
}

/** The users an anonymous id belongs to, oldest link first (by the day each user's profile last saw it), and their profiles. */
export async function usersOf(
  reader: ProfileReader,
  sourceId: string,
  anonymousId: string,
): Promise<{ userIds: string[]; profiles: Map<string, Profile> }> {
  const ids = await reader.anonymousUsers(sourceId, anonymousId);
  const found =
    ids.length > 0 ? await reader.get(ids.map((id): ProfileKey => ({ kind: 'user', sourceId, id }))) : new Map<string, Profile>();
  const profiles = new Map([...found.values()].map((profile) => [profile.key.id, profile]));
  const day = (id: string) => profiles.get(id)?.links.get('anonymousIds')?.get(anonymousId) ?? '';
  const userIds = [...ids].sort((a, b) => (day(a) < day(b) ? -1 : day(a) > day(b) ? 1 : a < b ? -1 : a > b ? 1 : 0));
  return { userIds, profiles };
}

/** A profile's links of `kind`, oldest first (ties by id). */
export function linkIds(profile: Profile | undefined, kind: LinkKind): string[] {
  const links = profile?.links.get(kind);
  if (!links) return [];
  return [...links].sort((a, b) => compareOrders(a[1], b[1]) || compareOrders(a[0], b[0])).map(([id]) => id);
}

/** The most recent link of `kind`, if any. */
export function latestLink(profile: Profile | undefined, kind: LinkKind): string | undefined {
  return linkIds(profile, kind).at(-1);
}

/** Traits as printed: by name, values kept as `{"$json": ...}` (what DynamoDB could not hold) turned back into JSON. */
export function traitsView(profile: Profile | undefined): Record<string, unknown> {
  const traits: Record<string, unknown> = {};
  for (const name of [...(profile?.traits.keys() ?? [])].sort()) {
    const value = profile?.traits.get(name)?.value;
    setOwn(traits, name, decodeTrait(value));
  }
  return traits;
}

function decodeTrait(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const json = (value as Record<string, unknown>).$json;
    if (keys.length === 1 && typeof json === 'string') {
      try {
        return JSON.parse(json) as unknown;
      } catch {
        return value;
      }
    }
  }
  return value;
}

/** firstSeen, lastSeen and counts (types in their usual order), when the identity has stored events. */
export function activityView(activity: EventActivity | undefined): Record<string, unknown> {
  if (!activity) return {};
  const { counts, firstSeen, lastSeen } = activity;
  const ordered = EVENT_TYPES.filter((t) => counts.has(t));
  return { firstSeen, lastSeen, counts: Object.fromEntries(ordered.map((type) => [type, counts.get(type) ?? 0])) };
}

const OMITTED_WORDS: Record<FactKind, string> = {
  trait: 'traits',
  anonymousIds: 'anonymous ids',
  aliases: 'aliases',
  aliasedTo: 'ids it was aliased to',
  groups: 'groups',
};

/**
 * What a printed profile left out, for stderr: only the most recent `CAPS` of each kind are printed
 * (by `o`); undefined when nothing was left out.
 */
export function omittedNote(profile: Profile | undefined): string | undefined {
  const omitted = profile?.omitted;
  if (!omitted) return undefined;
  const parts = (Object.keys(OMITTED_WORDS) as FactKind[]).flatMap((kind) => {
    const n = omitted[kind];
    if (!n) return [];
    return [`${n} ${OMITTED_WORDS[kind]} (${shownCap(kind)} printed)`];
  });
  return `Left out, older than the ones printed: ${parts.join(', ')}.`;
}

/** The groups of a profile with each group's merged traits (read from the group profiles). */
export async function groupsView(
  reader: ProfileReader,
  profile: Profile,
): Promise<Array<{ groupId: string; traits: Record<string, unknown> }>> {
  const ids = linkIds(profile, 'groups');
  const keys = ids.map((id): ProfileKey => ({ kind: 'group', sourceId: profile.key.sourceId, id }));
  const groups = ids.length > 0 ? await reader.get(keys) : new Map<string, Profile>();
  return ids.map((groupId, i) => ({ groupId, traits: traitsView(groups.get(keyText(keys[i] as ProfileKey))) }));
}

/** A user's profile as `segment-ingest profile` prints it; its activity read unless `known` (read already, maybe none). */
export async function userView(
  reader: ProfileReader,
  profile: Profile,
  known?: { activity: EventActivity | undefined },
): Promise<Record<string, unknown>> {
  const aliasedTo = latestLink(profile, 'aliasedTo');
  const [groups, seen] = await Promise.all([groupsView(reader, profile), known ? known.activity : reader.activity(profile.key)]);
  return {
    sourceId: profile.key.sourceId,
    userId: profile.key.id,
    traits: traitsView(profile),
    anonymousIds: linkIds(profile, 'anonymousIds'),
    aliases: linkIds(profile, 'aliases'),
    ...(aliasedTo === undefined ? {} : { aliasedTo }),
    groups,
    ...activityView(seen),
  };
}

/**
 * An anonymous id's own profile as printed (with `--own`, or when no user is linked to it):
 * `userIds` are the users it was seen with, oldest first, `userId` the latest of them.
 */
export async function anonymousView(
  reader: ProfileReader,
  key: ProfileKey,
  profile: Profile | undefined,
  userIds: readonly string[],
  known?: { activity: EventActivity | undefined },
): Promise<Record<string, unknown>> {
  const userId = userIds.at(-1);
  const [groups, seen] = await Promise.all([profile ? groupsView(reader, profile) : [], known ? known.activity : reader.activity(key)]);
  return {
    sourceId: key.sourceId,
    anonymousId: key.id,
    ...(userId === undefined ? {} : { userId }),
    userIds,
    traits: traitsView(profile),
    groups,
    ...activityView(seen),
  };
}

/** The ids `userId` was aliased to, one hop after another (at most `hops`, never around a cycle). */
export async function aliasChain(reader: ProfileReader, profile: Profile, hops = 10): Promise<string[]> {
  const chain: string[] = [];
  const seen = new Set([profile.key.id]);
  let current: Profile | undefined = profile;
  while (current && chain.length < hops) {
    const next = latestLink(current, 'aliasedTo');
    if (next === undefined || seen.has(next)) break;
    chain.push(next);
    seen.add(next);
    const key: ProfileKey = { kind: 'user', sourceId: profile.key.sourceId, id: next };
    current = (await reader.get([key])).get(keyText(key));
  }
  return chain;
}

/** Prints values as JSON, keeping keys such as `__proto__` (values come from `setOwn`). */
export function printable(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
