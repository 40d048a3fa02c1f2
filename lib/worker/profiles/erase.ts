/**
 * Erasing a user from the profiles (docs/spec.md section 6): the user's own profile (every item of
 * its partition: facts, and items of earlier versions), the links that name them elsewhere (the
 * items saying which anonymous ids they were seen with, the alias facts naming them in the profiles
 * of the ids aliased to and from them) and their group memberships. Links are found in the user's
 * partition and in `hints`: ids the caller knows of (the erasure sweep reads them from the user's
 * stored events; a batch that raced an erasure passes its own).
 *
 * The partition is read page by page (Query, strongly consistent): its core item (small facts) and
 * fact items; each page's links are removed
 * at their other ends before the page's own items are deleted, so a run cut short finds what is
 * left next time. Where an other end is held only in another profile's legacy item (`sk =
 * "profile"`, earlier versions), that item is converted into fact items without the link, then
 * deleted (`convertLegacy`). Idempotent: a second run finds nothing and counts nothing. Throws on
 * a failure the caller must retry (the delete's message is then redelivered).
 */
import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { awsCall } from '../../shared/aws-call';
import { DeadlineError } from '../../shared/retry';
import { marshallItem } from '../../tables/dynamo-wire';
import {
  anonymousUserKey,
  coreFacts,
  coreFromItem,
  factFromItem,
  factSortKey,
  itemId,
  keyText,
  LEGACY_PROFILE_SK,
  LINK_KINDS,
  membershipKey,
  partitionPages,
  profileFromLegacyItem,
  profilePartitionKey,
  type LinkKind,
  type ProfileErasure,
  type ProfileKey,
} from '../../tables/profiles';
import { readItems, removeCoreFacts, writeProfiles, type ProfileStore } from './store';

export type { ProfileErasure } from '../../tables/profiles';

/** Ids linked to the user, by the kind of link the user's profile holds them under. */
export type LinkHints = Partial<Record<LinkKind, Iterable<string>>>;

/** For each alias link of a user's profile: the link in the other id's profile that names the user. */
const OTHER_END: Record<'aliases' | 'aliasedTo', LinkKind> = { aliases: 'aliasedTo', aliasedTo: 'aliases' };

export async function eraseUserProfile(
  store: ProfileStore,
  sourceId: string,
  userId: string,
  hints: LinkHints,
  deadline: number,
  done: HandledIds = handledIds(),
): Promise<ProfileErasure> {
  const self: ProfileKey = { kind: 'user', sourceId, id: userId };
  const result = await eraseLinks(store, sourceId, userId, hints, deadline, done);
  for await (const page of partitionPages(store, self, deadline)) {
    if (page.length === 0) continue;
    const ids: Record<LinkKind, string[]> = { anonymousIds: [], aliases: [], aliasedTo: [], groups: [] };
    for (const item of page) {
      const core = coreFromItem(item);
      for (const fact of core ? coreFacts(core) : [factFromItem(item)]) if (fact && fact.kind !== 'trait') ids[fact.kind].push(fact.name);
      const legacy = profileFromLegacyItem(item);
      for (const kind of LINK_KINDS) ids[kind].push(...(legacy?.links.get(kind)?.keys() ?? []));
    }
    addUp(result, await eraseLinks(store, sourceId, userId, ids, deadline, done));
    await deleteKeys(
      store,
      page.map((item) => ({ pk: String(item.pk), sk: String(item.sk) })),
      deadline,
    );
    result.profiles = 1;
  }
  return result;
}

function addUp(total: ProfileErasure, r: ProfileErasure): void {
  total.profiles += r.profiles;
  total.links += r.links;
  total.memberships += r.memberships;
}

/** Ids already handled by an erasure run, so the pages of its sweep do not handle them again. */
export type HandledIds = Record<LinkKind, Set<string>>;

export function handledIds(): HandledIds {
  return { anonymousIds: new Set(), aliases: new Set(), aliasedTo: new Set(), groups: new Set() };
}

/** Removes the links that name `userId` in the profiles `ids` point to, and the user's memberships of the groups among them. */
export async function eraseLinks(
  store: ProfileStore,
  sourceId: string,
  userId: string,
  ids: LinkHints,
  deadline: number,
  done: HandledIds = handledIds(),
): Promise<ProfileErasure> {
  const fresh = (kind: LinkKind) => {
    const list = [...new Set(ids[kind] ?? [])].filter((id) => !done[kind].has(id));
    list.forEach((id) => done[kind].add(id));
    return list;
  };
  // One entry per profile, with every link of it to remove: an id can be aliased both to and from the user.
  const ends = new Map<string, { key: ProfileKey; links: LinkKind[] }>();
  for (const kind of ['aliases', 'aliasedTo'] as const) {
    for (const id of fresh(kind)) {
      if (id === userId) continue;
      const key: ProfileKey = { kind: 'user', sourceId, id };
      const end = ends.get(keyText(key)) ?? { key, links: [] };
      end.links.push(OTHER_END[kind]);
      ends.set(keyText(key), end);
    }
  }
  const result: ProfileErasure = { profiles: 0, links: 0, memberships: 0 };
  result.links = await unlink(store, [...ends.values()], userId, deadline);
  result.links += await deleteExisting(
    store,
    fresh('anonymousIds').map((anonymousId) => anonymousUserKey(sourceId, anonymousId, userId)),
    deadline,
  );
  result.memberships = await deleteExisting(
    store,
    fresh('groups').map((groupId) => membershipKey(sourceId, groupId, userId)),
    deadline,
  );
  return result;
}

/**
 * Removes the alias links naming `userId` from the profiles `ends`: their fact items, read by key
 * (strongly consistent) and deleted, their entries in the core items (rewritten without them,
 * conditional on `rev`), and the link in a legacy profile item, which is converted into facts
 * without it. Returns how many links were there.
 */
async function unlink(
  store: ProfileStore,
  ends: ReadonlyArray<{ key: ProfileKey; links: readonly LinkKind[] }>,
  userId: string,
  deadline: number,
): Promise<number> {
  if (ends.length === 0) return 0;
  const factKey = (key: ProfileKey, link: LinkKind) => ({ pk: profilePartitionKey(key), sk: factSortKey(link, userId).sk });
  const legacyKey = (key: ProfileKey) => ({ pk: profilePartitionKey(key), sk: LEGACY_PROFILE_SK });
  const keys = ends.flatMap(({ key, links }) => [legacyKey(key), ...links.map((link) => factKey(key, link))]);
  const found = await readItems(store, keys, true, deadline);
  const inCores = await removeCoreFacts(
    store,
    ends.map(({ key, links }) => ({ pk: profilePartitionKey(key), sks: links.map((link) => factKey(key, link).sk) })),
    deadline,
  );
  let removed = 0;
  const facts: Array<{ pk: string; sk: string }> = [];
  for (const { key, links } of ends) {
    const legacyItem = found.get(itemId(legacyKey(key)));
    const legacy = legacyItem && profileFromLegacyItem(legacyItem);
    const inLegacy = links.filter((link) => legacy?.links.get(link)?.has(userId));
    for (const link of links) {
      const fact = factKey(key, link);
      const stored = found.has(itemId(fact));
      if (stored) facts.push(fact);
      if (stored || inLegacy.includes(link) || inCores.get(fact.pk)?.has(fact.sk)) removed++;
    }
    if (legacyItem && inLegacy.length > 0) await convertLegacy(store, key, legacyItem, inLegacy, userId, deadline);
  }
  await deleteKeys(store, facts, deadline);
  return removed;
}

/**
 * Converts a legacy profile item (earlier versions) into fact items, without the `links` naming
 * `userId`, then deletes it. The facts are written as the worker writes them (only when newer than
 * a fact already stored), so a fact written since the legacy item keeps winning.
 */
export async function convertLegacy(
  store: ProfileStore,
  key: ProfileKey,
  item: Record<string, unknown>,
  links: readonly LinkKind[],
  userId: string,
  deadline: number,
): Promise<void> {
  const profile = profileFromLegacyItem(item);
  if (!profile) return;
  for (const link of links) profile.links.get(link)?.delete(userId);
  const [written] = await writeProfiles(store, [profile], deadline);
  if (!written || written.status === 'failed') throw written?.error ?? new DeadlineError(0, 'profile erasure');
  await deleteKeys(store, [{ pk: profilePartitionKey(key), sk: LEGACY_PROFILE_SK }], deadline);
}

/** Deletes the key-only items at `keys`; returns how many existed (read first, strongly consistent, to count them for the audit). */
async function deleteExisting(store: ProfileStore, keys: ReadonlyArray<{ pk: string; sk: string }>, deadline: number): Promise<number> {
  if (keys.length === 0) return 0;
  const existing = await readItems(store, keys, true, deadline);
  await deleteKeys(
    store,
    keys.filter((key) => existing.has(itemId(key))),
    deadline,
  );
  return existing.size;
}

/**
 * What the erasure sweep (erasure.ts `sweepUser`) does for the profiles: the user's profile first,
 * then, page by page before the sweep deletes them, the links of the user's stored events (the
 * anonymous ids, groups and aliased ids they carry), so a link item whose fact is gone (a run cut
 * short) is found too. `totals` adds up what was erased, for the audit record.
 */
export function createProfileEraser(store: ProfileStore, sourceId: string, userId: string, deadline: number) {
  const totals: ProfileErasure = { profiles: 0, links: 0, memberships: 0 };
  const done = handledIds();
  const add = (r: ProfileErasure) => addUp(totals, r);
  return {
    totals,
    async eraseProfile(): Promise<void> {
      add(await eraseUserProfile(store, sourceId, userId, {}, deadline, done));
    },
    async onPage(type: string, items: ReadonlyArray<Record<string, unknown>>): Promise<void> {
      const ids: Required<LinkHints> = { anonymousIds: [], aliases: [], aliasedTo: [], groups: [] };
      for (const item of items) {
        if (typeof item.anonymousId === 'string') (ids.anonymousIds as string[]).push(item.anonymousId);
        if (type === 'group' && typeof item.groupId === 'string') (ids.groups as string[]).push(item.groupId);
        if (type === 'alias' && typeof item.previousId === 'string') (ids.aliases as string[]).push(item.previousId);
      }
      add(await eraseLinks(store, sourceId, userId, ids, deadline, done));
    },
  };
}

/** Deletes items by key, 25 a call, retrying what DynamoDB leaves unprocessed until `deadline`. */
async function deleteKeys(store: ProfileStore, keys: ReadonlyArray<{ pk: string; sk: string }>, deadline: number): Promise<void> {
  for (let i = 0; i < keys.length; i += 25) {
    let pending = keys.slice(i, i + 25).map((key) => ({ DeleteRequest: { Key: marshallItem(key) } }));
    while (pending.length > 0) {
      const remaining = Math.ceil(deadline - store.clock.now());
      if (remaining <= 0) throw new DeadlineError(0, 'profile erasure');
      const command = new BatchWriteItemCommand({ RequestItems: { [store.table]: pending } });
      const response = await awsCall({ service: 'DynamoDB', timeoutMs: remaining }, () => store.writer.send(command));
      pending = (response.UnprocessedItems?.[store.table] ?? []) as typeof pending;
      if (pending.length > 0) await store.clock.sleep(50);
    }
  }
}
