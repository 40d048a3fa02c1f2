/**
 * Erasure (docs/spec.md section 6). A `delete` event asks us to erase everything stored for a userId in
 * a source. The worker does three things with it, in this order:
 *
 * 1. It records a tombstone for the user: the erasure's cut-off time, the time the delete was
 *    received (`erasureCutoff`). An event of that user that happened or was received before the
 *    cut-off (`erasureTime`) is never stored again, however late it arrives (still in the queue,
 *    redelivered, replayed by Segment from history); one received after it and timed after it is
 *    the user's new data, never dropped.
 * 2. It erases the user's partitions (items.ts `identityPartitions`) in every event table up to
 *    the cut-off.
 * 3. It adds to an audit record: when, what cut-off, how many items per table; never the data,
 *    and never the userId itself (tombstones and audit records key on its SHA-256).
 *
 * Writers check tombstones *after* writing their events (and delete what a tombstone covers), and
 * the erasure sweeps *after* writing its tombstone. With strongly consistent reads one of the two
 * always sees the other's write, so no interleaving of concurrent batches can resurrect data. A
 * check before writing would leave a window: read "no tombstone", erasure runs, then write.
 *
 * To keep that check cheap, each source also has a watermark: the latest cut-off of any of its
 * erasures, raised after the tombstone and before the sweep. Writers read the watermarks of their
 * batch's sources first (one read per source) and look up tombstones only for events at or before
 * their source's watermark, which live traffic never is. The argument is the same: a writer that
 * read an old watermark did so before the erasure raised it, so after its own write, and the sweep
 * that follows finds what it wrote.
 */
import { createHash, createHmac } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type TableName } from '../../infra';
import { identityPartitions, ITEM, type IdentityPartition, type Item } from '../tables/events';
import { awsCall } from '../shared/aws-call';
import { errorCode, isAwsError } from '../shared/errors';
import type { Log } from '../shared/log';
import { DeadlineError, retryPending, type Backoff, type Clock } from '../shared/retry';
import { toIsoMillis } from '../spec/timestamps';
import type { EventRecord } from '../message/format';
import { writeItems, type WriteDeps, type WriteRequest } from './write';
import { EVENT_TYPES, type EventType } from '../spec/event-types';
import type { ProfileErasure } from './profiles/erase';

const TOMBSTONE_SK = 'tombstone';
const WATERMARK_SK = 'watermark';
/** BatchGetItem reads at most 100 keys a call. */
const BATCH_GET_KEYS = 100;

export interface ErasureDeps {
  documents: DynamoDBDocumentClient;
  tables: Record<TableName, string>;
  write: WriteDeps;
  log: Log;
  clock: Clock;
  /** The per-stage secret the erasures table names users with (`userHash`). */
  hashKey: string;
}

/** Between reads of the keys BatchGetItem left unprocessed. */
const READ_BACKOFF: Backoff = { baseMs: 100, capMs: 1000, jitter: 'full' };

/**
 * How the erasures table names a user without holding the id: the hex HMAC-SHA256 of the userId,
 * keyed with the stage's secret (ERASURE_HASH_KEY, created at deploy). Unlike a plain hash, a
 * dictionary of e-mail addresses cannot reverse it without the secret.
 */
export function userHash(userId: string, hashKey: string): string {
  return createHmac('sha256', hashKey).update(userId, 'utf8').digest('hex');
}

/** The unkeyed SHA-256 that tombstones written before the keyed hash used; still honoured when read. */
export function legacyUserHash(userId: string): string {
  return createHash('sha256').update(userId, 'utf8').digest('hex');
}

export function tombstoneKey(sourceId: string, userId: string, hashKey: string): { pk: string; sk: string } {
  return { pk: `user#${sourceId}#${userHash(userId, hashKey)}`, sk: TOMBSTONE_SK };
}

/** Every tombstone key that may name the user: the keyed one written now, and the legacy one. */
export function tombstoneKeys(sourceId: string, userId: string, hashKey: string): Array<{ pk: string; sk: string }> {
  return [tombstoneKey(sourceId, userId, hashKey), { pk: `user#${sourceId}#${legacyUserHash(userId)}`, sk: TOMBSTONE_SK }];
}

/** The latest cut-off among the tombstones `cutoffs` (by pk) holds for the user, if any. */
export function coveringCutoff(
  cutoffs: ReadonlyMap<string, string>,
  sourceId: string,
  userId: string,
  hashKey: string,
): string | undefined {
  let latest: string | undefined;
  for (const { pk } of tombstoneKeys(sourceId, userId, hashKey)) {
    const cutoff = cutoffs.get(pk);
    if (cutoff !== undefined && (latest === undefined || cutoff > latest)) latest = cutoff;
  }
  return latest;
}

/** A source's erasure watermark: the latest cut-off of any erasure in the source. */
export function watermarkKey(sourceId: string): { pk: string; sk: string } {
  return { pk: `source#${sourceId}`, sk: WATERMARK_SK };
}

/**
 * The erasure's cut-off: the time this service received the delete. The delete's own `timestamp`
 * never moves it: not back (a sender's clock behind would spare the user's latest events), and not
 * forward, where a delete dated ahead would drop the user's events received after it, as they
 * arrive, and raise the source's watermark for as long. The users' own clocks are allowed for by
 * `erasureTime` instead: what was received before the delete is covered whatever its timestamp.
 */
export function erasureCutoff(record: EventRecord): string {
  return toIsoMillis(Date.parse(record.receivedAt));
}

/**
 * The time an erasure judges an event by: the earlier of its `timestamp` and the time we received
 * it. So an event is covered when it happened before the cut-off (a late one, a retry, a replay of
 * history) or when it reached us before the delete did (a device clock ahead), and an event
 * received after the delete with a timestamp after it is the user's new data, never dropped.
 * The sweep applies the same rule to stored items (`_r`, the receive time).
 */
export function erasureTime(record: Pick<EventRecord, 'receivedAt' | 'event'>): string {
  // A millisecond after the receive time, so only what was received strictly before the delete is
  // covered by it (an event received in the same millisecond is judged by its timestamp alone).
  const received = toIsoMillis(Date.parse(record.receivedAt) + 1);
  return record.event.timestamp < received ? record.event.timestamp : received;
}

/** The sweep's `erasureTime` test on a stored item: timed at or before the cut-off, or received before it (`_r`). */
const CUTOFF_FILTER = 'attribute_not_exists(#ts) OR #ts <= :cutoff OR #r < :cutoffMs';

/** True when an event at `timestamp` falls under an erasure with `cutoff`. */
export function isErased(timestamp: string, cutoff: string): boolean {
  return timestamp <= cutoff;
}

/**
 * Records (or moves forward) the user's tombstone, then the source's watermark. Both cut-offs
 * only ever grow, so an older delete processed late cannot shorten a newer one.
 */
export async function recordTombstone(
  deps: ErasureDeps,
  sourceId: string,
  userId: string,
  cutoff: string,
  deadline: number,
): Promise<void> {
  const now = new Date(deps.clock.now()).toISOString();
  await raiseCutoff(
    deps,
    tombstoneKey(sourceId, userId, deps.hashKey),
    cutoff,
    { ':s': sourceId, ':h': userHash(userId, deps.hashKey), ':now': now },
    'sourceId = :s, userHash = :h, updatedAt = :now',
    deadline,
  );
  await raiseCutoff(deps, watermarkKey(sourceId), cutoff, { ':s': sourceId, ':now': now }, 'sourceId = :s, updatedAt = :now', deadline);
}

async function raiseCutoff(
  deps: ErasureDeps,
  key: { pk: string; sk: string },
  cutoff: string,
  values: Record<string, string>,
  set: string,
  deadline: number,
): Promise<void> {
  const command = new UpdateCommand({
    TableName: deps.tables.erasures,
    Key: key,
    UpdateExpression: `SET cutoff = :c, ${set}`,
    ConditionExpression: 'attribute_not_exists(cutoff) OR cutoff < :c',
    ExpressionAttributeValues: { ':c': cutoff, ...values },
  });
  try {
    await awsCall(erasureCall(deps, deadline), (abortSignal) => deps.documents.send(command, { abortSignal }));
  } catch (error) {
    // A later (or equal) cut-off is already recorded: it covers this one, which is what we wanted.
    if (error instanceof ConditionalCheckFailedException) return;
    throw error;
  }
}

/**
 * The cut-offs of the tombstones that may cover `writes` (`{sourceId, userId, timestamp}`), keyed
 * by tombstone `pk`: first the watermarks of their sources, then the tombstones of the users whose
 * events are at or before their source's watermark. Strongly consistent; throws at `deadline` so
 * the caller fails the messages concerned.
 */
export async function findTombstones(
  deps: ErasureDeps,
  writes: ReadonlyArray<{ sourceId: string; userId: string; timestamp: string }>,
  deadline: number,
): Promise<{ cutoffs: Map<string, string>; requests: number }> {
  const sources = [...new Set(writes.map((w) => w.sourceId))].map(watermarkKey);
  const watermarks = await readCutoffs(deps, sources, deadline);
  const candidates = writes.filter((w) => {
    const watermark = watermarks.cutoffs.get(watermarkKey(w.sourceId).pk);
    return watermark !== undefined && isErased(w.timestamp, watermark);
  });
  if (candidates.length === 0) return { cutoffs: new Map(), requests: watermarks.requests };
  const keys = new Map<string, { pk: string; sk: string }>();
  for (const u of candidates) for (const key of tombstoneKeys(u.sourceId, u.userId, deps.hashKey)) keys.set(key.pk, key);
  const tombstones = await readCutoffs(deps, [...keys.values()], deadline);
  return { cutoffs: tombstones.cutoffs, requests: watermarks.requests + tombstones.requests };
}

/**
 * `cutoff` of the erasures-table items at `keys`, keyed by `pk`. One BatchGetItem per 100 keys,
 * strongly consistent; unprocessed keys are retried until `deadline`, then it throws.
 */
async function readCutoffs(
  deps: ErasureDeps,
  keys: ReadonlyArray<{ pk: string; sk: string }>,
  deadline: number,
): Promise<{ cutoffs: Map<string, string>; requests: number }> {
  const cutoffs = new Map<string, string>();
  let requests = 0;
  const table = deps.tables.erasures;
  const readPage = async (pending: readonly Item[]): Promise<Item[]> => {
    requests++;
    const command = new BatchGetCommand({
      RequestItems: { [table]: { Keys: [...pending], ConsistentRead: true, ProjectionExpression: 'pk, cutoff' } },
    });
    const response = await awsCall(erasureCall(deps, deadline), (abortSignal) => deps.documents.send(command, { abortSignal }));
    for (const item of response.Responses?.[table] ?? []) {
      if (typeof item.pk === 'string' && typeof item.cutoff === 'string') cutoffs.set(item.pk, item.cutoff);
    }
    return response.UnprocessedKeys?.[table]?.Keys ?? [];
  };
  for (let i = 0; i < keys.length; i += BATCH_GET_KEYS) {
    const { pending } = await retryPending(
      keys.slice(i, i + BATCH_GET_KEYS),
      { policy: READ_BACKOFF, deadline, clock: deps.clock },
      readPage,
    );
    if (pending.length > 0) throw new DeadlineError(Math.max(0, deadline - deps.clock.now()), 'reading the erasure records');
  }
  return { cutoffs, requests };
}

/**
 * An erasure request's call through the door: it must end by `deadline` (at least 1 ms: a request
 * the sweep already decided on is sent), aborted when the time is up.
 */
function erasureCall(deps: ErasureDeps, deadline: number) {
  return { service: 'DynamoDB' as const, timeoutMs: Math.max(1, Math.ceil(deadline - deps.clock.now())), abortable: true };
}

/**
 * The audit record's counters: `erased_<type>` per event table, and these for the profiles. The
 * one place they are named: `segment-ingest erasures show` reads them back by these names.
 */
export const AUDIT_PROFILE_COUNTS: Record<keyof ProfileErasure, string> = {
  profiles: 'erased_profiles',
  links: 'erased_profile_links',
  memberships: 'erased_memberships',
};
export const auditTableCount = (type: EventType): string => `erased_${type}`;

export interface SweepResult {
  /** False when the time budget ran out or a delete failed: the delete must be processed again. */
  complete: boolean;
  /** True when only the time budget stopped it (no table failed): it can continue where it is. */
  outOfTime: boolean;
  erased: Record<EventType, number>;
  /** What was erased from the profiles (profiles/erase.ts), for the audit record. */
  profiles?: ProfileErasure;
}

/** Sees each page of a user's items before the sweep deletes it (with `anonymousId`, `groupId`, `previousId`); a throw stops that table. */
export type SweepPageHook = (type: EventType, items: ReadonlyArray<Record<string, unknown>>) => Promise<void>;

/** One user's sweep: what every table's sweep shares. */
interface Sweep {
  deps: ErasureDeps;
  /** The partitions that may hold the user's items (old and new layouts), each with its filter. */
  partitions: readonly IdentityPartition[];
  cutoff: string;
  owner: string;
  deadline: number;
  onPage?: SweepPageHook;
  erased: Record<EventType, number>;
}

/**
 * Deletes the user's items up to `cutoff` from every event table, a page at a time. Idempotent:
 * run again after an incomplete run, it deletes what is left. Tables run in parallel; the item
 * writes inside share the worker's bounded concurrency. Throws only an unexpected error (a bug),
 * after every table's sweep has stopped.
 */
export async function sweepUser(
  deps: ErasureDeps,
  sourceId: string,
  userId: string,
  cutoff: string,
  owner: string,
  deadline: number,
  onPage?: SweepPageHook,
): Promise<SweepResult> {
  const erased = Object.fromEntries(EVENT_TYPES.map((type) => [type, 0])) as Record<EventType, number>;
  const sweep: Sweep = { deps, partitions: identityPartitions(sourceId, userId, undefined), cutoff, owner, deadline, onPage, erased };
  const unexpected: unknown[] = [];
  // A table that fails leaves the others going, and what was deleted is still counted for the audit.
  const done = await Promise.all(
    EVENT_TYPES.map((type) =>
      sweepTable(sweep, type).catch((error: unknown): 'failed' => {
        if (!isAwsError(error)) unexpected.push(error);
        else deps.log.warn('erasure sweep of a table failed', { table: deps.tables[type], error: errorCode(error) });
        return 'failed';
      }),
    ),
  );
  if (unexpected.length > 0) throw unexpected[0];
  const complete = done.every((state) => state === 'done');
  return { complete, outOfTime: !complete && !done.includes('failed'), erased };
}

type SweepState = 'done' | 'out-of-time' | 'failed';

/** One table's sweep: each of the user's partitions in turn. */
async function sweepTable(sweep: Sweep, type: EventType): Promise<SweepState> {
  for (const partition of sweep.partitions) {
    const state = await sweepPartition(sweep, type, partition);
    if (state !== 'done') return state;
  }
  return 'done';
}

/** One partition's sweep in one table: pages of the user's items read and deleted until none is left or the time is up. */
async function sweepPartition(sweep: Sweep, type: EventType, partition: IdentityPartition): Promise<SweepState> {
  const { deps, deadline } = sweep;
  const table = deps.tables[type];
  let start: Record<string, unknown> | undefined;
  do {
    if (deps.clock.now() >= deadline) return 'out-of-time';
    const page = await queryUserPage(sweep, table, partition, start);
    if (sweep.onPage && page.Items?.length) await sweep.onPage(type, page.Items);
    const deletes: WriteRequest[] = (page.Items ?? []).map((item) => ({
      table,
      item: { pk: item.pk, sk: item.sk },
      action: 'delete',
      owners: [sweep.owner],
    }));
    if (deletes.length > 0) {
      const outcome = await writeItems(deps.write, deletes, deadline);
      sweep.erased[type] += outcome.written;
      if (outcome.unexpectedErrors.length > 0) throw outcome.unexpectedErrors[0];
      if (outcome.failedOwners.size > 0) return deps.clock.now() >= deadline ? 'out-of-time' : 'failed';
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return 'done';
}

/** A page of the user's items in one partition of `table` up to the cut-off, with the ids their profile links use. */
function queryUserPage(sweep: Sweep, table: string, partition: IdentityPartition, start: Record<string, unknown> | undefined) {
  // The event's `timestamp` and receive time decide (erasureTime), as in the writers' check, not
  // the sort key's time: the key holds the sender's clock, which can be ahead of or behind the
  // corrected time. Items after the cut-off by both are the user's new data and are read, but
  // kept. Where other identities' items share the partition (old layouts), the partition's
  // filter keeps only the user's.
  const command = new QueryCommand({
    TableName: table,
    KeyConditionExpression: 'pk = :pk',
    FilterExpression: `(${CUTOFF_FILTER})${partition.filter ? ` AND (${partition.filter.expression})` : ''}`,
    ExpressionAttributeNames: {
      '#ts': 'timestamp',
      '#r': ITEM.received,
      '#a': 'anonymousId',
      '#g': 'groupId',
      '#p': 'previousId',
      ...partition.filter?.names,
    },
    ExpressionAttributeValues: {
      ':pk': partition.pk,
      ':cutoff': sweep.cutoff,
      ':cutoffMs': Date.parse(sweep.cutoff),
      ...partition.filter?.values,
    },
    // The ids the profiles link the user with: their links go before the items do.
    ProjectionExpression: 'pk, sk, #a, #g, #p',
    ConsistentRead: true,
    ExclusiveStartKey: start,
  });
  return awsCall(erasureCall(sweep.deps, sweep.deadline), (abortSignal) => sweep.deps.documents.send(command, { abortSignal }));
}

/**
 * Adds one run of an erasure to its audit record: `audit#<sourceId>`, sorted by the time the
 * request was received. Counts accumulate over runs (a run cut short by the time budget, then the
 * redelivery that finishes it); `completedAt` is set by the run that finished.
 */
export async function recordAudit(
  deps: ErasureDeps,
  record: EventRecord,
  cutoff: string,
  result: SweepResult,
  deadline: number,
): Promise<void> {
  const userId = record.event.userId ?? '';
  const hash = userHash(userId, deps.hashKey);
  const total = Object.values(result.erased).reduce((sum, n) => sum + n, 0);
  const now = new Date(deps.clock.now()).toISOString();
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {
    ':s': record.sourceId,
    ':h': hash,
    ':m': record.event.messageId,
    ':r': record.requestId,
    ':t': record.event.timestamp,
    ':ra': record.receivedAt,
    ':c': cutoff,
    ':now': now,
    ':one': 1,
    ':total': total,
  };
  const adds = ['runs :one', 'erasedItems :total'];
  const counts: Array<[string, string, number]> = EVENT_TYPES.map((type) => [type, auditTableCount(type), result.erased[type]]);
  if (result.profiles) {
    for (const name of Object.keys(AUDIT_PROFILE_COUNTS) as Array<keyof ProfileErasure>)
      counts.push([name, AUDIT_PROFILE_COUNTS[name], result.profiles[name]]);
  }
  for (const [name, attribute, count] of counts) {
    names[`#${name}`] = attribute;
    values[`:${name}`] = count;
    adds.push(`#${name} :${name}`);
  }
  const sets = [
    'sourceId = :s',
    'userHash = :h',
    'messageId = :m',
    'requestId = :r',
    'requestedAt = :t',
    'receivedAt = :ra',
    'cutoff = :c',
    'lastRunAt = :now',
  ];
  if (result.complete) sets.push('completedAt = if_not_exists(completedAt, :now)');
  const command = new UpdateCommand({
    TableName: deps.tables.erasures,
    Key: { pk: `audit#${record.sourceId}`, sk: `${record.receivedAt}#${hash}#${record.event.messageId}` },
    UpdateExpression: `SET ${sets.join(', ')} ADD ${adds.join(', ')}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  });
  await awsCall(erasureCall(deps, deadline), (abortSignal) => deps.documents.send(command, { abortSignal }));
}
