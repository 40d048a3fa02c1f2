/** What every phase of one worker invocation shares: its dependencies, deadline and counts. */
import type { EventType } from '../spec/event-types';
import type { Log } from '../shared/log';
import type { ErasureDeps } from './erasure';
import type { WriteDeps, WriteOutcome } from './write';
import type { TableName } from '../../infra';

export interface WorkerStats {
  messages: number;
  /** Events of each type in the batch. */
  events: Partial<Record<EventType, number>>;
  /** Events of each type written and kept (not failed, refused or covered by an erasure). */
  stored: Partial<Record<EventType, number>>;
  quarantined: number;
  /** Erasures (delete events) finished in this batch, and the items they deleted. */
  erasures: number;
  erasedItems: number;
  /** Events not stored, or deleted again, because an erasure covers them. */
  droppedByErasure: number;
  failedMessages: number;
  requests: number;
  retries: number;
}

export interface BatchRun {
  tables: Record<TableName, string>;
  log: Log;
  write: WriteDeps;
  erasure: ErasureDeps;
  /** Epoch ms by which every request of the batch must be done. */
  deadline: number;
  startedAt: number;
  /** Epoch seconds at which quarantine items of this batch expire. */
  expiresAt: number;
  stats: WorkerStats;
  /**
   * Owners (SQS message ids) to report as failed, so SQS redelivers them; every phase adds to it.
   * The same set as the write outcome's `failedOwners`.
   */
  failed: Set<string>;
}

/** Adds a write call's counts and failed owners to the run. */
export function absorbWrites(run: BatchRun, outcome: WriteOutcome): void {
  run.stats.requests += outcome.requests;
  run.stats.retries += outcome.retries;
  for (const owner of outcome.failedOwners) run.failed.add(owner);
}
