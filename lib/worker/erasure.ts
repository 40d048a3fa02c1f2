/**
 * Erasure (SPEC.md section 6). A `delete` event asks us to erase everything stored for a userId in
 * a source. The worker does three things with it, in this order:
 *
 * 1. It records a tombstone for the user: the erasure's cut-off time. An event of that user whose
 *    `timestamp` is at or before the cut-off is never stored again, however late it arrives
 *    (still in the queue, redelivered, replayed by Segment from history).
 * 2. It erases the user's partition `<sourceId>#<userId>` in every event table up to the cut-off.
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
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type TableName } from '../../infra';
import { eventPartitionKey, type Item } from './items';
import type { Log } from '../shared/log';
import { DeadlineError, retryPending, type Backoff, type Clock } from '../shared/retry';
import type { EventRecord } from '../message/format';
import { writeItems, type WriteDeps, type WriteRequest } from './write';
import { EVENT_TYPES, type EventType } from '../spec/event-types';

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
}

/** Between reads of the keys BatchGetItem left unprocessed. */
const READ_BACKOFF: Backoff = { baseMs: 100, capMs: 1000, jitter: 'full' };

/** Hex SHA-256 of a userId: how the erasures table names a user without holding the id. */
export function userHash(userId: string): string {
  return createHash('sha256').update(userId, 'utf8').digest('hex');
}

export function tombstoneKey(sourceId: string, userId: string): { pk: string; sk: string } {
  return { pk: `user#${sourceId}#${userHash(userId)}`, sk: TOMBSTONE_SK };
}

/** A source's erasure watermark: the latest cut-off of any erasure in the source. */
export function watermarkKey(sourceId: string): { pk: string; sk: string } {
  return { pk: `source#${sourceId}`, sk: WATERMARK_SK };
}

/**
 * How far past the receive time a delete's own `timestamp` may move its cut-off (SPEC.md section
 * 6): enough for a sender's clock running a little fast, never so far that a wrong timestamp
 * drops the user's new events for hours (or, for a year-9999 timestamp, forever).
 */
export const ERASURE_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The erasure's cut-off: the later of the delete's own `timestamp` and the time we received it,
 * so everything the user did up to the request is covered even when the sender's clock is behind,
 * but never later than the receive time plus `ERASURE_CLOCK_SKEW_MS`. Both are ISO-8601 UTC with
 * milliseconds, so they compare as text.
 */
export function erasureCutoff(record: EventRecord): string {
  const { timestamp } = record.event;
  if (timestamp <= record.receivedAt) return record.receivedAt;
  const latest = new Date(Date.parse(record.receivedAt) + ERASURE_CLOCK_SKEW_MS).toISOString();
  return timestamp < latest ? timestamp : latest;
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
  deps: ErasureDeps,
  sourceId: string,
  userId: string,
  cutoff: string,
  deadline: number,
): Promise<void> {
  const now = new Date(deps.clock.now()).toISOString();
  await raiseCutoff(
    deps,
    tombstoneKey(sourceId, userId),
    cutoff,
    { ':s': sourceId, ':h': userHash(userId), ':now': now },
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
  try {
    await deps.documents.send(
      new UpdateCommand({
        TableName: deps.tables.erasures,
        Key: key,
        UpdateExpression: `SET cutoff = :c, ${set}`,
        ConditionExpression: 'attribute_not_exists(cutoff) OR cutoff < :c',
        ExpressionAttributeValues: { ':c': cutoff, ...values },
      }),
      { abortSignal: timeoutUntil(deps, deadline) },
    );
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
  const keys = [...new Map(candidates.map((u) => [tombstoneKey(u.sourceId, u.userId).pk, tombstoneKey(u.sourceId, u.userId)])).values()];
  const tombstones = await readCutoffs(deps, keys, deadline);
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
    const response = await deps.documents.send(
      new BatchGetCommand({ RequestItems: { [table]: { Keys: [...pending], ConsistentRead: true, ProjectionExpression: 'pk, cutoff' } } }),
      { abortSignal: timeoutUntil(deps, deadline) },
    );
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
    if (pending.length > 0) throw new DeadlineError(Math.max(0, deadline - deps.clock.now()));
  }
  return { cutoffs, requests };
}

/** An abort signal for a request that must end by `deadline`. */
function timeoutUntil(deps: ErasureDeps, deadline: number): AbortSignal {
  return AbortSignal.timeout(Math.max(1, Math.ceil(deadline - deps.clock.now())));
}

export interface SweepResult {
  /** False when the time budget ran out or a delete failed: the delete must be processed again. */
  complete: boolean;
  erased: Record<EventType, number>;
}

/**
 * Deletes the user's items up to `cutoff` from every event table, a page at a time. Idempotent:
 * run again after an incomplete run, it deletes what is left. Tables run in parallel; the item
 * writes inside share the worker's bounded concurrency.
 */
export async function sweepUser(
  deps: ErasureDeps,
  sourceId: string,
  userId: string,
  cutoff: string,
  owner: string,
  deadline: number,
): Promise<SweepResult> {
  const pk = eventPartitionKey(sourceId, userId, undefined);
  // Sort keys are `<ISO timestamp>#<messageId>`; "$" is the character after "#", so this bound
  // takes every item whose timestamp is at or before the cut-off, whatever its messageId.
  const bound = `${cutoff}$`;
  const erased = Object.fromEntries(EVENT_TYPES.map((type) => [type, 0])) as Record<EventType, number>;

  async function sweepTable(type: EventType): Promise<boolean> {
    const table = deps.tables[type];
    let start: Record<string, unknown> | undefined;
    do {
      if (deps.clock.now() >= deadline) return false;
      const page = await deps.documents.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk AND sk < :bound',
          ExpressionAttributeValues: { ':pk': pk, ':bound': bound },
          ProjectionExpression: 'pk, sk',
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
        { abortSignal: timeoutUntil(deps, deadline) },
      );
      const deletes: WriteRequest[] = (page.Items ?? []).map((item) => ({
        table,
        item: { pk: item.pk, sk: item.sk },
        action: 'delete',
        owners: [owner],
      }));
      if (deletes.length > 0) {
        const outcome = await writeItems(deps.write, deletes, deadline);
        erased[type] += outcome.written;
        if (outcome.failedOwners.size > 0) return false;
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return true;
  }

  // A table that fails leaves the others going, and what was deleted is still counted for the audit.
  const done = await Promise.all(
    EVENT_TYPES.map((type) =>
      sweepTable(type).catch((error: unknown) => {
        deps.log.warn('erasure sweep of a table failed', { table: deps.tables[type], error: (error as Error).name });
        return false;
      }),
    ),
  );
  const complete = done.every(Boolean);
  return { complete, erased };
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
  const hash = userHash(userId);
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
  for (const type of EVENT_TYPES) {
    names[`#${type}`] = `erased_${type}`;
    values[`:${type}`] = result.erased[type];
    adds.push(`#${type} :${type}`);
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
  await deps.documents.send(
    new UpdateCommand({
      TableName: deps.tables.erasures,
      Key: { pk: `audit#${record.sourceId}`, sk: `${record.receivedAt}#${hash}#${record.event.messageId}` },
      UpdateExpression: `SET ${sets.join(', ')} ADD ${adds.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    }),
    { abortSignal: timeoutUntil(deps, deadline) },
  );
}
