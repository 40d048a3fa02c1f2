/**
 * Erasing a user from the profiles (docs/spec.md section 6): the user's own profile, the links that name
 * them elsewhere (the items saying which anonymous ids they were seen with, the ids aliased to them
 * and the ones they were aliased to), and their group memberships. Links are found in the user's
 * profile and in `hints`: ids the caller knows of (the erasure sweep reads them from the user's
 * stored events, so links beyond a profile's caps are found too; a batch that raced an erasure
 * passes its own).
 *
 * Links are removed first, then the activity item, and the identity item last, so a run cut short finds the profile again next
 * time. A profile left empty by the removal (a previous id that had nothing but its alias) is
 * deleted. Idempotent: a second run finds nothing and counts nothing. Throws on a failure the
 * caller must retry (the delete's message is then redelivered).
 */
import { BatchExecuteStatementCommand, BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { translateAwsError } from '../../shared/errors';
import { statementError } from './statements';
import { awsCall } from '../../shared/aws-call';
import { DeadlineError } from '../../shared/retry';
import { marshallItem } from '../../tables/dynamo-wire';
import {
  activityItemKey,
  anonymousUserKey,
  itemId,
  keyText,
  membershipKey,
  profileFromItem,
  profileItemKey,
  type LinkKind,
  type ProfileErasure,
  type ProfileKey,
} from '../../tables/profiles';
import { isEmptyProfile, removeLink, type Profile } from './profile';
import { changeProfiles, readItems, readProfiles, type Change, type ProfileStore } from './store';

export type { ProfileErasure } from '../../tables/profiles';

/** Ids linked to the user, by the kind of link the user's profile holds them under. */
export type LinkHints = Partial<Record<'anonymousIds' | 'aliases' | 'aliasedTo' | 'groups', Iterable<string>>>;

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
  const items = await readItems(store, [profileItemKey(self), activityItemKey(self)], true, deadline);
  const identity = items.get(itemId(profileItemKey(self)));
  const activity = items.get(itemId(activityItemKey(self)));
  const own = identity && profileFromItem(identity, activity);
  const ids: LinkHints = {};
  for (const kind of HINT_KINDS) ids[kind] = [...(own?.links.get(kind)?.keys() ?? []), ...(hints[kind] ?? [])];
  const result = await eraseLinks(store, sourceId, userId, ids, deadline, done);
  // The activity item (written by earlier versions; the worker keeps no activity now) before the
  // identity: a run cut short still finds the identity next time.
  if (activity) await deleteActivity(store, self, deadline);
  if (own) {
    // On the revision read, like every profile write: a concurrent writer's version is read again and deleted too.
    const [deleted] = await changeProfiles(
      store,
      [{ key: self, known: own, change: (_profile, stored) => (stored ? 'delete' : false) }],
      deadline,
    );
    if (!deleted || deleted.status === 'failed') throw deleted?.error ?? new DeadlineError(0, 'profile erasure');
    result.profiles = deleted.status === 'deleted' ? 1 : 0;
  }
  return result;
}

const HINT_KINDS = ['anonymousIds', 'aliases', 'aliasedTo', 'groups'] as const;

/** Ids already handled by an erasure run, so the pages of its sweep do not handle them again. */
export type HandledIds = Record<(typeof HINT_KINDS)[number], Set<string>>;

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
  const fresh = (kind: (typeof HINT_KINDS)[number]) => {
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
  const stored = await readProfiles(
    store,
    [...ends.values()].map((end) => end.key),
    true,
    deadline,
  );
  result.links = await unlink(
    store,
    [...ends].flatMap(([id, { links }]) => {
      const known = stored.get(id);
      return known && links.some((link) => known.links.get(link)?.has(userId)) ? [{ known, links }] : [];
    }),
    userId,
    deadline,
  );
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

/** Deletes the key-only items at `keys`; returns how many existed (read first, strongly consistent, to count them for the audit). */
async function deleteExisting(store: ProfileStore, keys: ReadonlyArray<{ pk: string; sk: string }>, deadline: number): Promise<number> {
  if (keys.length === 0) return 0;
  const existing = await readItems(store, keys, true, deadline);
  await deleteKeys(
    store,
    keys.filter((key) => existing.has(`${key.pk}\u0000${key.sk}`)),
    deadline,
  );
  return existing.size;
}

/**
 * What the erasure sweep (erasure.ts `sweepUser`) does for the profiles: the user's profile first,
 * then, page by page before the sweep deletes them, the links of the user's stored events (the
 * anonymous ids, groups and aliased ids they carry), so links a profile's caps left out are found
 * too. `totals` adds up what was erased, for the audit record.
 */
export function createProfileEraser(store: ProfileStore, sourceId: string, userId: string, deadline: number) {
  const totals: ProfileErasure = { profiles: 0, links: 0, memberships: 0 };
  const done = handledIds();
  const add = (r: ProfileErasure) => {
    totals.profiles += r.profiles;
    totals.links += r.links;
    totals.memberships += r.memberships;
  };
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

/** Removes the links naming `userId` from the profiles `ends` (each profile too, when nothing else is left); returns how many were there. */
async function unlink(
  store: ProfileStore,
  ends: ReadonlyArray<{ known: Profile; links: readonly LinkKind[] }>,
  userId: string,
  deadline: number,
): Promise<number> {
  const removed = ends.map(() => 0);
  const requests = ends.map(({ known, links }, i) => ({
    key: known.key,
    known,
    change: (profile: Profile, stored: boolean): Change => {
      removed[i] = stored ? links.filter((link) => removeLink(profile, link, userId)).length : 0;
      if (removed[i] === 0) return false;
      // A profile left with nothing is deleted (its activity is derived from its events, kept apart).
      return isEmptyProfile(profile) ? 'delete' : true;
    },
  }));
  const results = await changeProfiles(store, requests, deadline);
  const failed = results.find((r) => r.status === 'failed');
  if (failed?.status === 'failed') throw failed.error;
  return removed.reduce((sum, n) => sum + n, 0);
}

/**
 * Deletes a profile's activity item: a PartiQL `DELETE` (the profiles' own statement call, granted
 * as PartiQLDelete), not a BatchWriteItem of one key, which the erasure sweep's accounting of its
 * batch writes would count as one of its own.
 */
async function deleteActivity(store: ProfileStore, key: ProfileKey, deadline: number): Promise<void> {
  const { pk, sk } = marshallItem(activityItemKey(key));
  const command = new BatchExecuteStatementCommand({
    Statements: [{ Statement: `DELETE FROM "${store.table.replace(/"/g, '""')}" WHERE "pk" = ? AND "sk" = ?`, Parameters: [pk!, sk!] }],
  });
  const remaining = Math.max(1, Math.ceil(deadline - store.clock.now()));
  const { Responses = [] } = await awsCall({ service: 'DynamoDB', timeoutMs: remaining }, () => store.writer.send(command));
  const code = Responses[0]?.Error?.Code;
  if (code !== undefined) throw translateAwsError(statementError(code), 'DynamoDB');
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
