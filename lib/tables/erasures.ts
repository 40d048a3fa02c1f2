/**
 * The `erasures` table: each user's tombstone (the erasure's cut-off), each source's watermark,
 * and one audit record per delete request (docs/data-model.md#the-erasures-table has the layout).
 * The worker writes them (lib/worker/erasure.ts, erasure-phases.ts) and reads tombstones through the
 * door (lib/shared/aws-call.ts); `segment-ingest erasures show` reads them back by key
 * (`lookupErasure`: a GetItem per tombstone name and a Query of the source's audit partition
 * filtered by the user's hash; no table is scanned), outside the door like lib/admin/.
 */
import { createHash, createHmac } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TableName } from '../../infra';
import { awsCall } from '../shared/aws-call';
import { DeadlineError, retryPending, type Backoff, type Clock } from '../shared/retry';
import { EVENT_TYPES, type EventType } from '../spec/event-types';
import { queryAll } from './query';

/**
 * The audit record's counters: `erased_<type>` per event table (`auditTableCount`), and these for
 * the profiles. The one place they are named: `segment-ingest erasures show` reads them back by
 * these names.
 */
export const AUDIT_PROFILE_COUNTS = {
  profiles: 'erased_profiles',
  links: 'erased_profile_links',
  memberships: 'erased_memberships',
} as const;
export const auditTableCount = (type: EventType): string => `erased_${type}`;

/** What a delete removed from the profiles table (lib/worker/profiles/erase.ts), by `AUDIT_PROFILE_COUNTS` name. */
export type ErasedProfiles = Record<keyof typeof AUDIT_PROFILE_COUNTS, number>;

/** What the erasures table is reached with: the worker's erasure dependencies hold these. */
export interface ErasureTable {
  documents: DynamoDBDocumentClient;
  tables: Pick<Record<TableName, string>, 'erasures'>;
  clock: Clock;
  /** The per-stage secret the erasures table names users with (`userHash`). */
  hashKey: string;
}

const TOMBSTONE_SK = 'tombstone';
const WATERMARK_SK = 'watermark';
/** BatchGetItem reads at most 100 keys a call. */
const BATCH_GET_KEYS = 100;

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

/** True when an event at `timestamp` falls under an erasure with `cutoff`. */
export function isErased(timestamp: string, cutoff: string): boolean {
  return timestamp <= cutoff;
}

/**
 * Records (or moves forward) the user's tombstone, then the source's watermark. Both cut-offs
 * only ever grow, so an older delete processed late cannot shorten a newer one.
 */
export async function recordTombstone(
  deps: ErasureTable,
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
  deps: ErasureTable,
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
 * Counts a finished erasure of a user's profile on the source's watermark item (`profileErasures`,
 * only ever raised). A worker instance's memory of stored links (lib/worker/profiles/seen-links.ts)
 * holds only while the count it read is the count now.
 */
export async function countProfileErasure(deps: ErasureTable, sourceId: string, deadline: number): Promise<void> {
  const command = new UpdateCommand({
    TableName: deps.tables.erasures,
    Key: watermarkKey(sourceId),
    UpdateExpression: 'ADD profileErasures :one SET sourceId = :s, updatedAt = :now',
    ExpressionAttributeValues: { ':one': 1, ':s': sourceId, ':now': new Date(deps.clock.now()).toISOString() },
  });
  await awsCall(erasureCall(deps, deadline), (abortSignal) => deps.documents.send(command, { abortSignal }));
}

/** What `findTombstones` found. */
export interface TombstoneCheck {
  /** The cut-offs of the tombstones read, keyed by tombstone `pk`. */
  cutoffs: Map<string, string>;
  /** Each source's `profileErasures` as read now (0 when none), keyed by sourceId. */
  profileErasures: Map<string, number>;
  requests: number;
}

/**
 * The cut-offs of the tombstones that may cover `writes` (`{sourceId, userId, timestamp}`), keyed
 * by tombstone `pk`: first the watermarks of their sources, then the tombstones of the users whose
 * events are at or before their source's watermark. Strongly consistent; throws at `deadline` so
 * the caller fails the messages concerned.
 */
export async function findTombstones(
  deps: ErasureTable,
  writes: ReadonlyArray<{ sourceId: string; userId: string; timestamp: string }>,
  deadline: number,
): Promise<TombstoneCheck> {
  const sourceIds = [...new Set(writes.map((w) => w.sourceId))];
  const watermarks = await readCutoffs(deps, sourceIds.map(watermarkKey), deadline);
  const profileErasures = new Map(sourceIds.map((id) => [id, watermarks.counts.get(watermarkKey(id).pk) ?? 0]));
  const candidates = writes.filter((w) => {
    const watermark = watermarks.cutoffs.get(watermarkKey(w.sourceId).pk);
    return watermark !== undefined && isErased(w.timestamp, watermark);
  });
  if (candidates.length === 0) return { cutoffs: new Map(), profileErasures, requests: watermarks.requests };
  const keys = new Map<string, { pk: string; sk: string }>();
  for (const u of candidates) for (const key of tombstoneKeys(u.sourceId, u.userId, deps.hashKey)) keys.set(key.pk, key);
  const tombstones = await readCutoffs(deps, [...keys.values()], deadline);
  return { cutoffs: tombstones.cutoffs, profileErasures, requests: watermarks.requests + tombstones.requests };
}

/**
 * `cutoff` (and `profileErasures`, in `counts`) of the erasures-table items at `keys`, keyed by
 * `pk`. One BatchGetItem per 100 keys, strongly consistent; unprocessed keys are retried until
 * `deadline`, then it throws.
 */
async function readCutoffs(
  deps: ErasureTable,
  keys: ReadonlyArray<{ pk: string; sk: string }>,
  deadline: number,
): Promise<{ cutoffs: Map<string, string>; counts: Map<string, number>; requests: number }> {
  const cutoffs = new Map<string, string>();
  const counts = new Map<string, number>();
  let requests = 0;
  const table = deps.tables.erasures;
  const readPage = async (pending: readonly Item[]): Promise<Item[]> => {
    requests++;
    const command = new BatchGetCommand({
      RequestItems: { [table]: { Keys: [...pending], ConsistentRead: true, ProjectionExpression: 'pk, cutoff, profileErasures' } },
    });
    const response = await awsCall(erasureCall(deps, deadline), (abortSignal) => deps.documents.send(command, { abortSignal }));
    for (const item of response.Responses?.[table] ?? []) {
      if (typeof item.pk !== 'string') continue;
      if (typeof item.cutoff === 'string') cutoffs.set(item.pk, item.cutoff);
      if (typeof item.profileErasures === 'number') counts.set(item.pk, item.profileErasures);
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
  return { cutoffs, counts, requests };
}

/**
 * An erasure request's call through the door: it must end by `deadline` (at least 1 ms: a request
 * the sweep already decided on is sent), aborted when the time is up.
 */
export function erasureCall(deps: ErasureTable, deadline: number) {
  return { service: 'DynamoDB' as const, timeoutMs: Math.max(1, Math.ceil(deadline - deps.clock.now())), abortable: true };
}

/** The delete request an audit record is of: the queue's event record (lib/message/format.ts) has these fields. */
export interface AuditedRequest {
  sourceId: string;
  receivedAt: string;
  requestId: string;
  event: { userId?: string; messageId: string; timestamp: string };
}

/** What one run of an erasure did (lib/worker/erasure.ts `SweepResult`). */
export interface AuditedRun {
  /** False when the time budget ran out or a delete failed: the delete must be processed again. */
  complete: boolean;
  /** True when only the time budget stopped it (no table failed): it can continue where it is. Not recorded. */
  outOfTime: boolean;
  erased: Record<EventType, number>;
  /** What was erased from the profiles (lib/worker/profiles/erase.ts). */
  profiles?: ErasedProfiles;
}

/**
 * Adds one run of an erasure to its audit record: `audit#<sourceId>`, sorted by the time the
 * request was received. Counts accumulate over runs (a run cut short by the time budget, then the
 * redelivery that finishes it); `completedAt` is set by the run that finished.
 */
export async function recordAudit(
  deps: ErasureTable,
  record: AuditedRequest,
  cutoff: string,
  result: AuditedRun,
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
    for (const name of Object.keys(AUDIT_PROFILE_COUNTS) as Array<keyof ErasedProfiles>)
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

/* What `segment-ingest erasures show` reads: a user's tombstone and audit records, by key. */

export interface ErasureRequest {
  /** When the service received the delete. */
  receivedAt: string;
  /** The delete's own `timestamp`. */
  requestedAt: string;
  cutoff: string;
  messageId: string;
  requestId: string;
  /** Worker runs of this delete (more than one when a sweep had to be continued). */
  runs: number;
  lastRunAt: string | undefined;
  /** Set by the run that finished the sweep; absent while the worker still has items to delete. */
  completedAt: string | undefined;
  erasedItems: number;
  erasedPerTable: Record<EventType, number>;
  /** What the delete removed from the profiles table; not in `erasedItems`. */
  erasedProfiles: ErasedProfiles;
}

export interface ErasureStatus {
  sourceId: string;
  userId: string;
  userHash: string;
  erased: boolean;
  tombstone: { cutoff: string; updatedAt: string | undefined } | undefined;
  /** Oldest first. */
  requests: ErasureRequest[];
  totals: { erasedItems: number; perTable: Record<EventType, number>; profiles: ErasedProfiles };
  /** True when every delete request of the user has a finished sweep. */
  sweepComplete: boolean;
}

type Item = Record<string, unknown>;

/**
 * The names the erasures table may know a user by: the worker's keyed `userHash` (with the stage's
 * secret), and the unkeyed hash of records written before it. The one place the CLI hashes users,
 * so a change of `userHash` changes what is looked up here.
 */
export function erasureUserHashes(userId: string, hashKey: string): [keyed: string, legacy: string] {
  return [userHash(userId, hashKey), legacyUserHash(userId)];
}

/** Reads the user's tombstone and audit records, under either name. */
export async function lookupErasure(
  documents: DynamoDBDocumentClient,
  table: string,
  sourceId: string,
  userId: string,
  hashKey: string,
): Promise<ErasureStatus> {
  const hashes = erasureUserHashes(userId, hashKey);
  // The keys of `tombstoneKey` and `recordAudit`; tests/integration/cli-erasures.test.ts reads what the worker wrote.
  const tombstones = await Promise.all(
    hashes.map(async (hash) => {
      const key = { pk: `user#${sourceId}#${hash}`, sk: TOMBSTONE_SK };
      return (await documents.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
    }),
  );
  const audits = await queryAll(documents, {
    TableName: table,
    KeyConditionExpression: 'pk = :pk',
    FilterExpression: 'userHash IN (:h, :legacy)',
    ExpressionAttributeValues: { ':pk': `audit#${sourceId}`, ':h': hashes[0], ':legacy': hashes[1] },
    ConsistentRead: true,
  });
  const requests = audits.map((item) => auditEntry(item));
  const tombstone = tombstones.find((item) => item !== undefined);
  return summarize(sourceId, userId, hashes[0], tombstone, requests);
}

function summarize(sourceId: string, userId: string, hash: string, tombstone: Item | undefined, requests: ErasureRequest[]): ErasureStatus {
  const perTable = Object.fromEntries(EVENT_TYPES.map((type) => [type, 0])) as Record<EventType, number>;
  const profiles: ErasedProfiles = { profiles: 0, links: 0, memberships: 0 };
  for (const request of requests) {
    for (const type of EVENT_TYPES) perTable[type] += request.erasedPerTable[type];
    for (const name of Object.keys(profiles) as Array<keyof ErasedProfiles>) profiles[name] += request.erasedProfiles[name];
  }
  return {
    sourceId,
    userId,
    userHash: hash,
    erased: tombstone !== undefined || requests.length > 0,
    tombstone: tombstone ? { cutoff: String(tombstone.cutoff), updatedAt: optionalText(tombstone.updatedAt) } : undefined,
    requests,
    totals: { erasedItems: requests.reduce((sum, request) => sum + request.erasedItems, 0), perTable, profiles },
    sweepComplete: requests.length > 0 && requests.every((request) => request.completedAt !== undefined),
  };
}

function auditEntry(item: Item): ErasureRequest {
  return {
    receivedAt: String(item.receivedAt ?? ''),
    requestedAt: String(item.requestedAt ?? ''),
    cutoff: String(item.cutoff ?? ''),
    messageId: String(item.messageId ?? ''),
    requestId: String(item.requestId ?? ''),
    runs: Number(item.runs ?? 0),
    lastRunAt: optionalText(item.lastRunAt),
    completedAt: optionalText(item.completedAt),
    erasedItems: Number(item.erasedItems ?? 0),
    erasedPerTable: Object.fromEntries(EVENT_TYPES.map((type) => [type, Number(item[auditTableCount(type)] ?? 0)])) as Record<
      EventType,
      number
    >,
    erasedProfiles: {
      profiles: Number(item[AUDIT_PROFILE_COUNTS.profiles] ?? 0),
      links: Number(item[AUDIT_PROFILE_COUNTS.links] ?? 0),
      memberships: Number(item[AUDIT_PROFILE_COUNTS.memberships] ?? 0),
    },
  };
}

function optionalText(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
