/**
 * Erasure (docs/spec.md section 6). A `delete` event asks us to erase everything stored for a userId in
 * a source. The worker does three things with it, in this order:
 *
 * 1. It records a tombstone for the user: the erasure's cut-off time, the time the delete was
 *    received (`erasureCutoff`). An event of that user that happened or was received before the
 *    cut-off (`erasureTime`) is never stored again, however late it arrives (still in the queue,
 *    redelivered, replayed by Segment from history); one received after it and timed after it is
 *    the user's new data, never dropped.
 * 2. It erases the user's partitions (lib/tables/events.ts `identityPartitions`) in every event
 *    table up to the cut-off (`sweepUser`, here).
 * 3. It adds to an audit record: when, what cut-off, how many items per table; never the data,
 *    and never the userId itself (tombstones and audit records key on its keyed hash).
 *
 * Tombstones, watermarks and audit records are the `erasures` table's (lib/tables/erasures.ts).
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
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type TableName } from '../../infra';
import { identityPartitions, ITEM, type IdentityPartition } from '../tables/events';
import { AUDIT_PROFILE_COUNTS, erasureCall, type AuditedRun, type ErasureTable } from '../tables/erasures';
import { awsCall } from '../shared/aws-call';
import { errorCode, isAwsError } from '../shared/errors';
import type { Log } from '../shared/log';
import { toIsoMillis } from '../spec/timestamps';
import type { EventRecord } from '../message/format';
import { writeItems, type WriteDeps, type WriteRequest } from './write';
import { EVENT_TYPES, type EventType } from '../spec/event-types';
import type { ProfileErasure } from '../tables/profiles';

/** Every count the profile erasure reports has its audit attribute (checked when compiling). */
const _audited: Record<keyof ProfileErasure, string> = AUDIT_PROFILE_COUNTS;

export interface ErasureDeps extends ErasureTable {
  tables: Record<TableName, string>;
  write: WriteDeps;
  log: Log;
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

/** A sweep's outcome, as its audit record keeps it (lib/tables/erasures.ts `AuditedRun`). */
export interface SweepResult extends AuditedRun {
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
