/**
 * What the worker does with a batch of SQS messages, phase by phase:
 *
 * 1. parse the messages into planned writes (parse.ts); unreadable ones are quarantined;
 * 2. record the tombstones of the batch's deletes, and drop events they cover (erasure-phases.ts);
 * 3. write every item with BatchWriteItem (write.ts);
 * 4. check what was written against the erasure watermarks and tombstones, and undo what an
 *    erasure covers;
 * 5. erase: sweep the partitions of the batch's deleted users;
 * 6. quarantine the items DynamoDB refused;
 * 7. update the profiles of the users, anonymous ids and groups the stored events touch (profiles/;
 *    unless the stage turns profiles off);
 * 8. learn the shapes of the batch's events, never their values (schemas/learn.ts; best effort);
 * 9. map failures back to their messages: only those are reported to SQS (partial batch response).
 *
 * Steps 2-8 are `PHASES`, an ordered list of `{ name, run }`: a new phase is one entry there. The
 * time each may take is budget.ts's: the batch's deadline, and named slices after it.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Config } from '../shared/config';
import type { Log } from '../shared/log';
import type { Meter } from '../shared/metrics';
import { systemClock, type Clock } from '../shared/retry';
import { reportUnexpected } from '../shared/unexpected';
import type { EventType } from '../spec/event-types';
import { absorbWrites, type BatchRun, type PhaseStats, type WorkerStats } from './batch-run';
import { BUDGET, CHECK_RESERVE_MS } from './budget';
import { coveredByBatch, eraseUsers, recordTombstones, undoErasedWrites } from './erasure-phases';
import { parseMessages, type BatchPlan, type PendingErasure } from './parse';
import { updateProfiles } from './profiles/phase';
import { refusedItem } from './quarantine';
import type { Requeue } from './requeue';
import type { SchemaLearner } from './schemas/learn';
import { SeenLinks } from './profiles/seen-links';
import { identityOf, writeItems, type WriteDeps, type WriteOutcome, type WriteRequest } from './write';

export type { WorkerStats } from './batch-run';

export interface WorkerDeps {
  documents: WriteDeps['documents'];
  /** Sends the batch writes (lib/shared/clients.ts `createWriteClient`). */
  writer: WriteDeps['writer'];
  config: Pick<Config, 'tables' | 'rejectedRetentionDays' | 'writeConcurrency'> &
    Partial<Pick<Config, 'eventRetentionDays'>> & { erasureHashKey: string; profiles?: boolean };
  /** Sends a delete back to the queue to continue its erasure (requeue.ts); without it, an unfinished erasure fails its message. */
  requeue?: Requeue;
  /** The instance's memory of stored anonymous-id links (profiles/seen-links.ts); by default each worker has its own. */
  seenLinks?: SeenLinks;
  /** Records the observed schemas (schemas/learn.ts); without it, nothing is learned. */
  schemas?: SchemaLearner;
  log: Log;
  meter: Meter;
  clock?: Clock;
}

export type ProcessBatch = (event: SQSEvent, remainingMs?: number) => Promise<SQSBatchResponse & { stats: WorkerStats }>;

/** What the phases hand on to each other: the parsed batch, then what each phase found. */
interface BatchState {
  plan: BatchPlan;
  /** Deletes whose tombstone could not be written: nothing of them is swept. */
  tombstonesFailed: ReadonlySet<PendingErasure>;
  /** Writes an erasure covers: never written, or deleted again. */
  dropped: Set<WriteRequest>;
  outcome: WriteOutcome;
  /** Each source's `profileErasures` count as the erasure check read it (profiles/seen-links.ts). */
  profileErasures?: ReadonlyMap<string, number>;
}

/**
 * A phase of the batch: `run` does its part and may return stats of its own, which the batch
 * keeps under the phase's name. Failures are the phase's to handle (they fail the messages
 * concerned); a phase throws only a bug.
 */
interface Phase {
  name: string;
  run(run: BatchRun, state: BatchState, deps: WorkerDeps): Promise<PhaseStats | undefined | void>;
}

/** The phases after parsing, in order (the file comment says why this order). */
const PHASES: readonly Phase[] = [
  {
    name: 'tombstones',
    async run(run, state) {
      state.tombstonesFailed = await recordTombstones(run, state.plan.erasures);
      state.dropped = coveredByBatch(state.plan.erasures, state.plan.userWrites);
      run.stats.droppedByErasure += state.dropped.size;
    },
  },
  {
    name: 'write',
    async run(run, state) {
      const { plan, dropped } = state;
      const toWrite = dropped.size > 0 ? plan.writes.filter((w) => !dropped.has(w)) : plan.writes;
      state.outcome = await writeItems(run.write, toWrite, run.deadline - CHECK_RESERVE_MS);
      absorbWrites(run, state.outcome);
    },
  },
  {
    name: 'check-erasures',
    async run(run, state) {
      const { plan, dropped } = state;
      state.profileErasures = await undoErasedWrites(
        run,
        plan.userWrites.filter((w) => !dropped.has(w.write)),
        dropped,
      );
    },
  },
  // Erasures after the events, so the common path is not held up behind them.
  { name: 'erase', run: (run, state, deps) => eraseUsers(run, state.plan.erasures, state.tombstonesFailed, deps.requeue) },
  { name: 'quarantine', run: (run, state) => quarantineRefused(run, state.outcome) },
  {
    name: 'profiles',
    async run(run, state, deps) {
      if (deps.config.profiles === false) return undefined;
      // A batch that erases users neither uses nor adds to the link memory.
      const counts = state.plan.erasures.length === 0 ? state.profileErasures : undefined;
      const memory = counts && deps.seenLinks ? { seen: deps.seenLinks, profileErasures: counts } : undefined;
      return updateProfiles(run, state.plan.eventWrites, state.dropped, state.outcome, memory);
    },
  },
  {
    name: 'schemas',
    async run(run, state, deps) {
      await deps.schemas?.learn(state.plan.eventWrites, run.deadline - (deps.clock ?? systemClock).now());
    },
  },
];

export function createWorker(deps: WorkerDeps): ProcessBatch {
  const clock = deps.clock ?? systemClock;
  const write: WriteDeps = {
    documents: deps.documents,
    writer: deps.writer,
    concurrency: deps.config.writeConcurrency,
    log: deps.log,
    clock,
  };
  const erasure = {
    documents: deps.documents,
    tables: deps.config.tables,
    write,
    log: deps.log,
    clock,
    hashKey: deps.config.erasureHashKey,
  };

  // This worker's own memory of stored links, kept from batch to batch (one per Lambda instance).
  const phaseDeps: WorkerDeps = { ...deps, seenLinks: deps.seenLinks ?? new SeenLinks() };

  return async (event, remainingMs) => {
    const run = startRun(deps, { write, erasure }, event, remainingMs);
    const plan = parseMessages(event.Records, {
      tables: run.tables,
      expiresAt: run.expiresAt,
      eventRetentionSeconds: (deps.config.eventRetentionDays ?? 0) * 86_400,
      log: deps.log,
    });
    run.stats.quarantined += plan.quarantined;
    const state: BatchState = { plan, tombstonesFailed: new Set(), dropped: new Set(), outcome: noWrites() };
    for (const phase of PHASES) {
      const stats = await phase.run(run, state, phaseDeps);
      if (stats) Object.assign(run.stats, { [phase.name]: stats });
    }
    countStored(run, plan, state.dropped, state.outcome);
    report(deps, run, state.outcome, plan);
    return { batchItemFailures: [...run.failed].map((itemIdentifier) => ({ itemIdentifier })), stats: run.stats };
  };
}

/** The outcome of a write phase that has not run yet. */
function noWrites(): WriteOutcome {
  return { failedOwners: new Set(), refused: [], requests: 0, retries: 0, written: 0, configurationErrors: [], unexpectedErrors: [] };
}

function startRun(
  deps: WorkerDeps,
  clients: Pick<BatchRun, 'write' | 'erasure'>,
  event: SQSEvent,
  remainingMs: number | undefined,
): BatchRun {
  const startedAt = (deps.clock ?? systemClock).now();
  return {
    ...clients,
    tables: deps.config.tables,
    log: deps.log,
    startedAt,
    deadline: BUDGET.deadline(startedAt, remainingMs),
    expiresAt: Math.floor(startedAt / 1000) + deps.config.rejectedRetentionDays * 86_400,
    stats: {
      messages: event.Records.length,
      events: {},
      stored: {},
      quarantined: 0,
      erasures: 0,
      erasedItems: 0,
      continuedErasures: 0,
      droppedByErasure: 0,
      failedMessages: 0,
      requests: 0,
      retries: 0,
    },
    failed: new Set(),
    configurationErrors: [],
    unexpectedErrors: [],
  };
}

/** Items DynamoDB refused for good go to `rejected` with the reason, so nothing is lost. */
async function quarantineRefused(run: BatchRun, outcome: WriteOutcome): Promise<void> {
  if (outcome.refused.length === 0) return;
  const fallbackReceivedAt = new Date(run.startedAt).toISOString();
  const quarantines: WriteRequest[] = outcome.refused.map(({ write, reason }) => ({
    table: run.tables.rejected,
    item: refusedItem(write, identityOf(write), reason, fallbackReceivedAt, run.expiresAt),
    owners: write.owners,
  }));
  const reasons = [...new Set(outcome.refused.map((r) => r.reason))].slice(0, 3);
  run.log.warn('items refused by DynamoDB quarantined', { count: quarantines.length, reasons });
  const second = await writeItems(run.write, quarantines, run.deadline);
  absorbWrites(run, { ...second, retries: 0 });
  // A quarantine item refused in turn cannot be stored anywhere: its message fails.
  second.refused.forEach(({ write }) => write.owners.forEach((owner) => run.failed.add(owner)));
  run.stats.quarantined += quarantines.length;
}

/** Events written and kept: not dropped by an erasure, not refused, and their message not failed. */
function countStored(run: BatchRun, plan: BatchPlan, dropped: ReadonlySet<WriteRequest>, outcome: WriteOutcome): void {
  const refused = new Set(outcome.refused.map(({ write }) => identityOf(write)));
  run.stats.events = plan.events;
  for (const { type, write } of plan.eventWrites) {
    if (dropped.has(write) || write.owners.some((owner) => run.failed.has(owner))) continue;
    if (refused.has(identityOf(write))) continue;
    run.stats.stored[type as EventType] = (run.stats.stored[type] ?? 0) + 1;
  }
  run.stats.failedMessages = run.failed.size;
}

/** Request ids in a batch's log line: one per message of a full batch of single events. */
const LOGGED_REQUEST_IDS = 100;

/**
 * The batch's metrics and its one log line. The line lists the request ids of its records, so a
 * request id from the API access log or a sender leads to the batch that stored it.
 */
function report(deps: WorkerDeps, run: BatchRun, outcome: WriteOutcome, plan: BatchPlan): void {
  const { stats } = run;
  for (const [type, count] of Object.entries(stats.stored)) deps.meter.count('EventsStored', count, ['type', type]);
  deps.meter.count('WriteRetries', stats.retries);
  deps.meter.count('QuarantinedRecords', stats.quarantined);
  deps.meter.count('Erasures', stats.erasures);
  deps.meter.count('EventsRejected', outcome.refused.length, ['reason', 'refused-by-dynamodb']);
  const refusedProfiles = Number(stats.profiles?.refused ?? 0);
  if (refusedProfiles > 0) deps.meter.count('ProfileWritesRefused', refusedProfiles);
  if (run.configurationErrors.length > 0) {
    deps.meter.count('DependencyErrors', run.configurationErrors.length, ['kind', 'configuration']);
    // Not the events' fault: their messages are retried (and wait in the dead-letter queue after
    // maxReceiveCount) until the permissions, credentials, tables or keys are fixed.
    deps.log.error('DynamoDB refused requests for a configuration or permission problem; the messages will be retried', {
      errors: [...new Set(run.configurationErrors.map((e) => e.code))].slice(0, 5),
      count: run.configurationErrors.length,
    });
  }
  reportUnexpected(deps.log, deps.meter, run.unexpectedErrors, 'worker batch');
  const durationMs = (deps.clock ?? systemClock).now() - run.startedAt;
  deps.log.info('batch processed', {
    ...stats,
    failedMessageIds: [...run.failed].slice(0, 10),
    requestIds: [...plan.requestIds].slice(0, LOGGED_REQUEST_IDS),
    durationMs,
  });
}
