/** What every phase of one worker invocation shares: its dependencies, deadline and counts. */
import type { EventType } from '../spec/event-types';
import { isAwsError, translateAwsError, type DependencyError } from '../shared/errors';
import type { Log } from '../shared/log';
import type { ErasureDeps } from './erasure';
import type { WriteDeps, WriteOutcome } from './write';
import type { TableName } from '../../infra';

/** What a phase reports of itself, kept in the batch's stats under the phase's name (budget.ts, process-batch.ts). */
export type PhaseStats = Readonly<Record<string, number>>;

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
  /** Erasures that ran out of time after making progress and were requeued to continue. */
  continuedErasures: number;
  /** Events not stored, or deleted again, because an erasure covers them. */
  droppedByErasure: number;
  failedMessages: number;
  requests: number;
  retries: number;
  /** What the profile phase did (profiles/phase.ts `ProfileStats`), when the batch touched any profile. */
  profiles?: PhaseStats;
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
  /**
   * Failures that are nobody's fault in the events (permissions, credentials, a missing table,
   * KMS): the messages are retried, and these are logged and counted for the alarm.
   */
  configurationErrors: DependencyError[];
  /** Errors no AWS call threw (bugs): their messages are retried too, and each is logged with its stack. */
  unexpectedErrors: unknown[];
}

/** Adds a write call's counts, failed owners and configuration errors to the run. */
export function absorbWrites(run: BatchRun, outcome: WriteOutcome): void {
  run.stats.requests += outcome.requests;
  run.stats.retries += outcome.retries;
  for (const owner of outcome.failedOwners) run.failed.add(owner);
  run.configurationErrors.push(...outcome.configurationErrors);
  run.unexpectedErrors.push(...outcome.unexpectedErrors);
}

/**
 * Classifies a failure that made a phase give up on some messages (they are retried either way)
 * and keeps the configuration errors for their alarm and the unexpected ones (not thrown by an AWS
 * call: a bug) for theirs. Returns the error's code or class name, for the log line.
 */
export function noteFailure(run: BatchRun, error: unknown): string {
  if (!isAwsError(error)) {
    run.unexpectedErrors.push(error);
    return error instanceof Error ? error.name : typeof error;
  }
  const failure = translateAwsError(error, 'DynamoDB');
  if (failure.kind === 'configuration') run.configurationErrors.push(failure);
  return failure.code;
}
