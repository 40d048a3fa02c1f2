/**
 * The worker's erasure phases around the writes of a batch (the protocol is in erasure.ts):
 * tombstones of the batch's deletes before anything is written, the check of what was written
 * against every tombstone after, and the sweeps of the erased users last.
 */
import type { WriteRequest } from './write';
import { writeItems } from './write';
import { absorbWrites, type BatchRun } from './batch-run';
import { findTombstones, isErased, recordAudit, recordTombstone, sweepUser, tombstoneKey } from './erasure';
import type { PendingErasure, UserWrite } from './parse';

/**
 * Writes the tombstones of the batch's deletes. From then on no batch (this one or a concurrent
 * one) can store an event they cover without its check finding it. Returns the deletes whose
 * tombstone could not be written: their messages fail, and nothing of them is swept.
 */
export async function recordTombstones(run: BatchRun, erasures: readonly PendingErasure[]): Promise<Set<PendingErasure>> {
  const failed = new Set<PendingErasure>();
  for (const erasure of erasures) {
    try {
      await recordTombstone(run.erasure, erasure.record.sourceId, erasure.record.event.userId ?? '', erasure.cutoff, run.deadline);
      run.stats.requests++;
    } catch (error) {
      failed.add(erasure);
      run.failed.add(erasure.owner);
      run.log.warn('erasure tombstone not written; the delete will be retried', { messageId: erasure.owner, error: (error as Error).name });
    }
  }
  return failed;
}

/** Events of this batch that a delete of this batch covers: they are never written. */
export function coveredByBatch(erasures: readonly PendingErasure[], userWrites: readonly UserWrite[]): Set<WriteRequest> {
  const dropped = new Set<WriteRequest>();
  if (erasures.length === 0) return dropped;
  const cutoffs = new Map<string, string>();
  for (const { record, cutoff } of erasures) {
    const pk = tombstoneKey(record.sourceId, record.event.userId ?? '').pk;
    const known = cutoffs.get(pk);
    if (known === undefined || known < cutoff) cutoffs.set(pk, cutoff);
  }
  for (const w of userWrites) {
    const cutoff = cutoffs.get(tombstoneKey(w.sourceId, w.userId).pk);
    if (cutoff !== undefined && isErased(w.timestamp, cutoff)) dropped.add(w.write);
  }
  return dropped;
}

/**
 * After the writes: any event just written that a tombstone covers is deleted again (and added to
 * `dropped`). When the check itself fails, the messages of those events are retried: without it we
 * cannot tell whether an erased user's data was just written back, and writing again is idempotent.
 */
export async function undoErasedWrites(run: BatchRun, written: readonly UserWrite[], dropped: Set<WriteRequest>): Promise<void> {
  if (written.length === 0) return;
  try {
    const { cutoffs, requests } = await findTombstones(run.erasure, written, run.deadline);
    run.stats.requests += requests;
    const undo: WriteRequest[] = [];
    for (const w of written) {
      const cutoff = cutoffs.get(tombstoneKey(w.sourceId, w.userId).pk);
      if (cutoff === undefined || !isErased(w.timestamp, cutoff)) continue;
      undo.push({ ...w.write, item: { pk: w.write.item.pk, sk: w.write.item.sk }, action: 'delete' });
      dropped.add(w.write);
    }
    if (undo.length === 0) return;
    const undone = await writeItems(run.write, undo, run.deadline);
    absorbWrites(run, { ...undone, retries: 0 });
    run.stats.droppedByErasure += undone.written;
  } catch (error) {
    written.forEach((w) => w.write.owners.forEach((owner) => run.failed.add(owner)));
    run.log.warn('tombstone check failed; messages will be retried', { error: (error as Error).name, events: written.length });
  }
}

/**
 * Time the sweeps leave before the deadline for the audit write: a sweep cut short by the budget
 * still adds what it erased to the audit record, instead of sending it with no time left.
 */
const AUDIT_RESERVE_MS = 500;

/**
 * Sweeps each erased user's partitions and adds the run to the audit record. An erasure that
 * cannot finish in time fails its message, and SQS redelivers it; erasure is idempotent.
 */
export async function eraseUsers(run: BatchRun, erasures: readonly PendingErasure[], skipped: ReadonlySet<PendingErasure>): Promise<void> {
  const sweepDeadline = run.deadline - AUDIT_RESERVE_MS;
  for (const erasure of erasures) {
    if (skipped.has(erasure)) continue;
    const { record, owner, cutoff } = erasure;
    try {
      const result = await sweepUser(run.erasure, record.sourceId, record.event.userId ?? '', cutoff, owner, sweepDeadline);
      await recordAudit(run.erasure, record, cutoff, result, run.deadline);
      run.stats.erasedItems += Object.values(result.erased).reduce((sum, n) => sum + n, 0);
      if (result.complete) run.stats.erasures++;
      else run.failed.add(owner);
      const message = result.complete ? 'erasure done' : 'erasure incomplete; the delete will be retried';
      run.log.info(message, { sourceId: record.sourceId, messageId: record.event.messageId, cutoff, erased: result.erased });
    } catch (error) {
      run.failed.add(owner);
      run.log.warn('erasure failed; the delete will be retried', {
        sourceId: record.sourceId,
        messageId: record.event.messageId,
        error: (error as Error).name,
      });
    }
  }
}
