/**
 * The worker's profile phase (docs/profiles.md): after the batch's events are stored and its
 * erasures done, what the batch adds to each profile is coalesced into one delta per profile, and
 * only the facts the deltas touch are read (by key) and written when they are newer (store.ts).
 *
 * Only events that are stored and kept count: not those an erasure covers, not those DynamoDB
 * refused, and none of a message that failed (SQS redelivers it and its events count then).
 *
 * Erasure follows the protocol of erasure.ts: tombstones are checked before writing (a late event
 * of an erased user writes nothing) and again after (an erasure that ran meanwhile may have swept
 * before these writes landed); a user found erased afterwards is erased from the profiles again.
 */
import type { BatchRun } from '../batch-run';
import { absorbWrites, noteFailure } from '../batch-run';
import { BUDGET } from '../budget';
import { countProfileErasure, coveringCutoff, findTombstones, isErased } from '../../tables/erasures';
import type { EventWrite } from '../parse';
import { identityOf, writeItems, type WriteOutcome, type WriteRequest } from '../write';
import { coalesce, contributionOf, onlyLinksAnonymousId, sightingOf, type EventContribution, type ProfileDelta } from './contributions';
import type { LinkSighting, SeenLinks } from './seen-links';
import { eraseUserProfile, type LinkHints } from './erase';
import { anonymousUserKey, keyText, membershipKey } from '../../tables/profiles';
import { linkId, writeProfiles, type ProfileResult, type ProfileStore } from './store';
import { translateAwsError, type DependencyError } from '../../shared/errors';
import { DeadlineError } from '../../shared/retry';

export type ProfileStats = {
  /** Profiles with a fact written, and those the batch touched without changing any. */
  written: number;
  unchanged: number;
  /** Fact writes that lost a race with another invocation and were read again. */
  conflicts: number;
  /** Membership and anonymous-user items written. */
  links: number;
  /** Profiles that could not be written (in time); their messages are retried. */
  failed: number;
  /** Of those, the writes DynamoDB refused (metric `ProfileWritesRefused`), present when any; their messages are retried too. */
  refused?: number;
  /** Events whose only addition, an anonymous-id link, this instance had seen stored (seen-links.ts): nothing read or written. */
  remembered?: number;
};

/**
 * The instance's memory of stored links (seen-links.ts) and each source's `profileErasures` count
 * as the batch read it before the profiles (erasure-phases.ts `undoErasedWrites`). Absent for a
 * batch that erases users: it neither uses nor adds to the memory.
 */
export interface LinkMemory {
  seen: SeenLinks;
  profileErasures: ReadonlyMap<string, number>;
}

export function profileStore(run: BatchRun): ProfileStore {
  return { writer: run.write.writer, table: run.tables.profiles, clock: run.erasure.clock, log: run.log };
}

/**
 * The phase: see the file comment. Failures fail the messages concerned; nothing here throws.
 * Returns what it did (the batch keeps it under the phase's name, `profiles`), or undefined when
 * the batch touched no profile.
 */
export async function updateProfiles(
  run: BatchRun,
  events: readonly EventWrite[],
  dropped: ReadonlySet<WriteRequest>,
  outcome: WriteOutcome,
  memory?: LinkMemory,
): Promise<ProfileStats | undefined> {
  const refused = new Set(outcome.refused.map(({ write }) => identityOf(write)));
  const contributions: EventContribution[] = [];
  let remembered = 0;
  for (const { record, owner, write } of events) {
    if (dropped.has(write) || run.failed.has(owner) || (refused.size > 0 && refused.has(identityOf(write)))) continue;
    const contribution = contributionOf(record, owner);
    if (!contribution) continue;
    if (memory && onlyLinksAnonymousId(contribution) && remembers(memory, sightingOf(contribution))) remembered++;
    else contributions.push(contribution);
  }
  if (contributions.length === 0 && remembered === 0) return undefined;
  const stats: ProfileStats = { written: 0, unchanged: 0, conflicts: 0, links: 0, failed: 0, ...(remembered > 0 ? { remembered } : {}) };
  if (contributions.length === 0) return stats;
  // The writes before may have spent the batch's budget (retrying a stuck message): the profiles
  // have a slice of their own (budget.ts).
  const phase: BatchRun = { ...run, deadline: BUDGET.until('profiles', run.deadline, run.erasure.clock.now()) };
  const store = profileStore(phase);
  try {
    const kept = await withoutErased(phase, contributions);
    const results = await writeDeltas(phase, store, coalesce(kept), stats);
    await writeLinkItems(phase, kept, results, stats);
    const after = await eraseRaced(phase, kept);
    if (memory && after) noteStoredLinks(run, memory, after, kept);
  } catch (error) {
    contributions.forEach((c) => run.failed.add(c.owner));
    run.log.warn('profile update failed; messages will be retried', { error: noteFailure(run, error), events: contributions.length });
  }
  return stats;
}

function remembers(memory: LinkMemory, link: LinkSighting | undefined): boolean {
  const count = link && memory.profileErasures.get(link.sourceId);
  return link !== undefined && count !== undefined && memory.seen.has(link, count);
}

/**
 * Notes the links of the contributions whose messages succeeded (so their profile writes and link
 * items did), for the sources that erased no profile between the two reads of their count.
 */
function noteStoredLinks(run: BatchRun, memory: LinkMemory, after: ReadonlyMap<string, number>, kept: readonly EventContribution[]) {
  for (const c of kept) {
    const link = sightingOf(c);
    const count = memory.profileErasures.get(c.sourceId);
    if (!link || run.failed.has(c.owner) || count === undefined || after.get(c.sourceId) !== count) continue;
    memory.seen.note(link, count);
  }
}

/**
 * The contributions no tombstone covers. Before writing, the events' own users are checked already
 * (erasure-phases.ts dropped what their tombstones cover): only the other ids an event names (an
 * alias's previousId) are left to check, and the covered contributions are left out.
 */
async function withoutErased(run: BatchRun, contributions: EventContribution[]): Promise<EventContribution[]> {
  const covered = await coveredSubjects(run, contributions, (c) => c.subjects.slice(1));
  return covered ? contributions.filter((c) => !c.subjects.some((userId) => covered.isCovered(c, userId))) : contributions;
}

/**
 * After writing: erases from the profiles every user a tombstone now covers (an erasure ran
 * meanwhile), with the links the batch itself made for them. Returns the sources'
 * `profileErasures` as read now, or undefined when it erased a user again (it counts that
 * erasure, so instances forget what they remember of the source) or read nothing.
 */
async function eraseRaced(run: BatchRun, contributions: readonly EventContribution[]): Promise<ReadonlyMap<string, number> | undefined> {
  const covered = await coveredSubjects(run, contributions, (c) => c.subjects);
  if (!covered) return undefined;
  const erased = new Map<string, { sourceId: string; userId: string; hints: Required<LinkHints> }>();
  for (const c of contributions) {
    for (const userId of c.subjects.filter((s) => covered.isCovered(c, s))) {
      const id = JSON.stringify([c.sourceId, userId]);
      const entry = erased.get(id) ?? { sourceId: c.sourceId, userId, hints: { anonymousIds: [], aliases: [], aliasedTo: [], groups: [] } };
      erased.set(id, entry);
      addHints(entry.hints, c, userId);
    }
  }
  if (erased.size === 0) return covered.profileErasures;
  for (const { sourceId, userId, hints } of erased.values()) {
    await eraseUserProfile(profileStore(run), sourceId, userId, hints, run.deadline);
    await countProfileErasure(run.erasure, sourceId, run.deadline);
    run.log.info('profile written by a batch that raced an erasure was erased again', { sourceId });
  }
  return undefined;
}

/**
 * Reads the tombstones that may cover the `subjectsOf` the contributions (and the sources'
 * `profileErasures`); `isCovered(c, userId)` tells whether one covers `c`'s event for `userId`.
 * Undefined when there is no subject to check.
 */
async function coveredSubjects(
  run: BatchRun,
  contributions: readonly EventContribution[],
  subjectsOf: (c: EventContribution) => readonly string[],
): Promise<{ isCovered: (c: EventContribution, userId: string) => boolean; profileErasures: ReadonlyMap<string, number> } | undefined> {
  const subjects = contributions.flatMap((c) => subjectsOf(c).map((userId) => ({ sourceId: c.sourceId, userId, timestamp: c.timestamp })));
  if (subjects.length === 0) return undefined;
  const { cutoffs, profileErasures, requests } = await findTombstones(run.erasure, subjects, run.deadline);
  run.stats.requests += requests;
  const isCovered = (c: EventContribution, userId: string) => {
    const cutoff = cutoffs.size === 0 ? undefined : coveringCutoff(cutoffs, c.sourceId, userId, run.erasure.hashKey);
    return cutoff !== undefined && isErased(c.timestamp, cutoff);
  };
  return { isCovered, profileErasures };
}

/** The links a contribution made in the user profile of `userId`. */
function addHints(hints: Required<LinkHints>, c: EventContribution, userId: string): void {
  for (const touch of c.touches) {
    if (touch.key.kind !== 'user' || touch.key.id !== userId) continue;
    for (const kind of ['anonymousIds', 'aliases', 'aliasedTo', 'groups'] as const) {
      (hints[kind] as string[]).push(...(touch.links.get(kind)?.keys() ?? []));
    }
  }
}

/**
 * Writes the facts of every touched profile that are newer than the stored ones (store.ts); returns
 * the results by profile. Activity (first and last seen, counts) is not kept: `segment-ingest
 * profile` derives it from the stored events.
 */
async function writeDeltas(
  run: BatchRun,
  store: ProfileStore,
  deltas: Map<string, ProfileDelta>,
  stats: ProfileStats,
): Promise<Map<string, ProfileResult>> {
  const entries = [...deltas.values()];
  const updates = await writeProfiles(
    store,
    entries.map((d) => d.delta),
    run.deadline,
  );
  const results = new Map<string, ProfileResult>();
  updates.forEach((result, i) => {
    const entry = entries[i] as ProfileDelta;
    results.set(keyText(entry.delta.key), result);
    stats.conflicts += result.conflicts;
    if (result.status === 'failed') {
      stats.failed++;
      noteProfileFailure(run, entry, result.error ?? translateAwsError(new DeadlineError(0), 'DynamoDB'), stats);
    } else stats[result.status]++;
  });
  return results;
}

/**
 * A profile write that failed: its messages are retried (SQS redelivers them, and after
 * `maxReceiveCount` they wait in the dead-letter queue). A write DynamoDB refused is counted apart
 * (`refused`, metric `ProfileWritesRefused`, with its alarm and runbook): the caps keep every item
 * under DynamoDB's limits, so it is a bug to look into, and never dropped silently.
 */
function noteProfileFailure(run: BatchRun, entry: ProfileDelta, error: DependencyError, stats: ProfileStats): void {
  entry.owners.forEach((owner) => run.failed.add(owner));
  if (error.kind === 'refused') {
    stats.refused = (stats.refused ?? 0) + 1;
    run.log.error('DynamoDB refused a profile write; its messages will be retried', {
      kind: entry.delta.key.kind,
      error: error.code,
      reason: error.message,
    });
    return;
  }
  if (error.kind === 'configuration') run.configurationErrors.push(error);
  run.log.warn('profile not written; its messages will be retried', { kind: entry.delta.key.kind, error: error.code });
}

/**
 * Puts the key-only items of the groups a user joined and of the anonymous ids a user was seen
 * with, for the links whose fact was absent when this batch read it (after a failed profile
 * write, none: the message is retried). Idempotent puts, 25 a call, no read.
 */
async function writeLinkItems(
  run: BatchRun,
  contributions: readonly EventContribution[],
  results: ReadonlyMap<string, ProfileResult>,
  stats: ProfileStats,
): Promise<void> {
  const writes: WriteRequest[] = [];
  const add = (c: EventContribution, userId: string, kind: 'groups' | 'anonymousIds', id: string, item: Record<string, unknown>) => {
    const result = results.get(keyText({ kind: 'user', sourceId: c.sourceId, id: userId }));
    if (!result || result.status === 'failed' || !result.newLinks.has(linkId(kind, id))) return;
    writes.push({ table: run.tables.profiles, item: { ...item, sourceId: c.sourceId, userId }, owners: [c.owner] });
  };
  for (const c of contributions) {
    for (const { groupId, userId } of c.memberships) {
      add(c, userId, 'groups', groupId, { ...membershipKey(c.sourceId, groupId, userId), kind: 'member', groupId });
    }
    const link = c.anonymousUser;
    if (link) {
      const item = { ...anonymousUserKey(c.sourceId, link.anonymousId, link.userId), kind: 'anon-user', anonymousId: link.anonymousId };
      add(c, link.userId, 'anonymousIds', link.anonymousId, item);
    }
  }
  if (writes.length === 0) return;
  const outcome = await writeItems(run.write, writes, run.deadline);
  absorbWrites(run, { ...outcome, retries: 0 });
  stats.links += outcome.written;
}
