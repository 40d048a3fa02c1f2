/**
 * The worker's erasure phases around the writes of a batch (the protocol is in erasure.ts):
 * tombstones of the batch's deletes before anything is written, the check of what was written
 * against every tombstone after, and the sweeps of the erased users last.
 */
import type { WriteRequest } from './write';
import { writeItems } from './write';
import { absorbWrites, noteFailure, type BatchRun } from './batch-run';
import { countProfileErasure, coveringCutoff, findTombstones, isErased, recordAudit, recordTombstone } from '../tables/erasures';
import { sweepUser } from './erasure';
import type { PendingErasure, UserWrite } from './parse';
import type { Requeue } from './requeue';
import { createProfileEraser } from './profiles/erase';
import { profileStore } from './profiles/phase';
import { BUDGET } from './budget';

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
      run.log.warn('erasure tombstone not written; the delete will be retried', {
        messageId: erasure.owner,
        error: noteFailure(run, error),
      });
    }
  }
  return failed;
}

/** Events of this batch that a delete of this batch covers: they are never written. */
export function coveredByBatch(erasures: readonly PendingErasure[], userWrites: readonly UserWrite[]): Set<WriteRequest> {
  const dropped = new Set<WriteRequest>();
  if (erasures.length === 0) return dropped;
  const cutoffs = new Map<string, string>();
  const userOf = (sourceId: string, userId: string) => JSON.stringify([sourceId, userId]);
  for (const { record, cutoff } of erasures) {
    const user = userOf(record.sourceId, record.event.userId ?? '');
    const known = cutoffs.get(user);
    if (known === undefined || known < cutoff) cutoffs.set(user, cutoff);
  }
  for (const w of userWrites) {
    const cutoff = cutoffs.get(userOf(w.sourceId, w.userId));
    if (cutoff !== undefined && isErased(w.timestamp, cutoff)) dropped.add(w.write);
  }
  return dropped;
}

/**
 * After the writes: any event just written that a tombstone covers is deleted again (and added to
 * `dropped`). When the check itself fails, the messages of those events are retried: without it we
 * cannot tell whether an erased user's data was just written back, and writing again is idempotent.
 * Returns the sources' `profileErasures` counts it read (for the profiles' link memory), or
 * undefined when it read none.
 */
export async function undoErasedWrites(
  run: BatchRun,
  written: readonly UserWrite[],
  dropped: Set<WriteRequest>,
): Promise<ReadonlyMap<string, number> | undefined> {
  if (written.length === 0) return undefined;
  try {
    const { cutoffs, profileErasures, requests } = await findTombstones(run.erasure, written, run.deadline);
    run.stats.requests += requests;
    // Live traffic: no event is at or before its source's watermark, so no tombstone was read.
    if (cutoffs.size === 0) return profileErasures;
    const undo: WriteRequest[] = [];
    for (const w of written) {
      const cutoff = coveringCutoff(cutoffs, w.sourceId, w.userId, run.erasure.hashKey);
      if (cutoff === undefined || !isErased(w.timestamp, cutoff)) continue;
      undo.push({ ...w.write, item: { pk: w.write.item.pk, sk: w.write.item.sk }, action: 'delete' });
      dropped.add(w.write);
    }
    if (undo.length === 0) return profileErasures;
    const undone = await writeItems(run.write, undo, run.deadline);
    absorbWrites(run, { ...undone, retries: 0 });
    run.stats.droppedByErasure += undone.written;
    return profileErasures;
  } catch (error) {
    written.forEach((w) => w.write.owners.forEach((owner) => run.failed.add(owner)));
    run.log.warn('tombstone check failed; messages will be retried', { error: noteFailure(run, error), events: written.length });
    return undefined;
  }
}

/**
 * Sweeps each erased user's partitions and adds the run to the audit record. An erasure that ran
 * out of time (no table failed) but made progress is continued in a later invocation (`requeue`) without spending
 * its message's receive count, so a user with millions of items is erased in as many runs as it
 * takes; one that made no progress, or cannot be requeued, fails its message, and SQS redelivers
 * it (after maxReceiveCount, to the dead-letter queue). Erasure is idempotent.
 */
export async function eraseUsers(
  run: BatchRun,
  erasures: readonly PendingErasure[],
  skipped: ReadonlySet<PendingErasure>,
  requeue?: Requeue,
): Promise<void> {
  for (const erasure of erasures) {
    if (skipped.has(erasure)) continue;
    const { record, owner, cutoff } = erasure;
    const context = { sourceId: record.sourceId, messageId: record.event.messageId, continuation: record.continuation ?? 0 };
    try {
      const userId = record.event.userId ?? '';
      // The profile first: it goes even when the sweep of a long history takes several runs.
      const profiles = createProfileEraser(profileStore(run), record.sourceId, userId, run.deadline);
      await profiles.eraseProfile();
      // Instances forget the links they remember of the source (profiles/seen-links.ts).
      await countProfileErasure(run.erasure, record.sourceId, run.deadline);
      run.stats.requests++;
      const result = await sweepUser(run.erasure, record.sourceId, userId, cutoff, owner, run.deadline, profiles.onPage);
      result.profiles = profiles.totals;
      // The sweep may have used the whole budget: the audit has a slice of its own (budget.ts).
      await recordAudit(run.erasure, record, cutoff, result, BUDGET.until('audit', run.deadline, run.erasure.clock.now()));
      const erased = Object.values(result.erased).reduce((sum, n) => sum + n, 0);
      run.stats.erasedItems += erased;
      if (result.complete) {
        run.stats.erasures++;
        run.log.info('erasure done', { ...context, cutoff, erased: result.erased });
      } else if (result.outOfTime && erased > 0 && requeue && (await continueLater(run, erasure, requeue))) {
        run.log.info('erasure continues in a later run', { ...context, cutoff, erased: result.erased });
      } else {
        run.failed.add(owner);
        run.log.info('erasure incomplete; the delete will be retried', { ...context, cutoff, erased: result.erased });
      }
    } catch (error) {
      run.failed.add(owner);
      run.log.warn('erasure failed; the delete will be retried', { ...context, error: noteFailure(run, error) });
    }
  }
}

/** Requeues the delete; false when SQS did not take it (the message then fails instead). */
async function continueLater(run: BatchRun, erasure: PendingErasure, requeue: Requeue): Promise<boolean> {
  try {
    await requeue(erasure.record);
    run.stats.continuedErasures++;
    return true;
  } catch (error) {
    run.log.warn('erasure continuation not queued; the delete will be retried', {
      messageId: erasure.owner,
      error: noteFailure(run, error),
    });
    return false;
  }
}
