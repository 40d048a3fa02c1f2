/**
 * Capacity a user can plan with (issue 15), from this run's measurements: how long a Segment replay
 * drains at a worker concurrency, what it costs, and what steady traffic costs a month.
 *
 * The model, every assumption named:
 * - A worker invocation takes its measured CPU time scaled to Lambda's share of a vCPU at the
 *   worker's memory (a full vCPU at 1,769 MB, proportionally less below), plus the DynamoDB wait:
 *   its BatchWriteItem and BatchGetItem calls at `DYNAMODB_LATENCY_MS` each, `WRITE_CONCURRENCY`
 *   (4) in flight at once. DynamoDB answers a BatchWriteItem of 25 items in single-digit
 *   milliseconds in-region; 10 ms leaves room for the network and a retried unprocessed item.
 * - The same durations price Lambda (bench/cost.ts), each at its function's memory (bench/prices.ts:
 *   the worker's; for an ingest request, that of the function its route goes to, `ingestMemoryMbOf`).
 *   An ingest request waits one SQS round trip
 *   (`SQS_LATENCY_MS`; its SendMessageBatch calls go in parallel) and its DynamoDB reads, a worker
 *   invocation its DynamoDB calls as above (`LAMBDA_DURATION_MODEL` says it in words).
 * - Drain time is the events over what the concurrent invocations store per second. DynamoDB
 *   on-demand also caps a table: a new table serves up to 4,000 write units/s at first (AWS raises
 *   it as traffic grows), so the busiest table (track, half the events here) bounds a replay into
 *   a fresh stage; the table shows that bound beside.
 * - Costs are this run's dollars per million events for the shape a replay or traffic arrives in.
 */
import type { WorkerMeasurement } from './in-process';
import { DEPLOYMENT } from './prices';

export const DYNAMODB_LATENCY_MS = 10;
/**
 * A SendMessageBatch round trip in-region (SQS answers in single-digit to low tens of
 * milliseconds); the ingest's 200 waits for it, so every HTTP request pays one.
 */
export const SQS_LATENCY_MS = 15;
export const WRITE_CONCURRENCY = 4;
/** Connections the SDK's HTTP agent opens to one host (its default maxSockets): parallel calls beyond it queue. */
export const SDK_SOCKETS = 50;
export const FULL_VCPU_MB = 1769;
/** Lambda's CPU at a function's memory, as a share of one vCPU: measured CPU time is divided by it. */
export function cpuShareOf(memoryMb: number): number {
  return Math.min(memoryMb, FULL_VCPU_MB) / FULL_VCPU_MB;
}
/** Initial on-demand throughput of a new table, write units per second. */
export const NEW_TABLE_WRITE_UNITS = 4000;
/** Share of events the busiest table gets in the bench's traffic mix (track). */
const BUSIEST_TABLE_SHARE = 0.5;
export const REPLAY_EVENTS = [10_000_000, 1_000_000_000] as const;
export const CONCURRENCIES = [5, 20, 100] as const;
export const STEADY_RATES = [100, 1000, 10_000] as const;
const SECONDS_PER_MONTH = 30 * 86_400;

/** Events one worker invocation stores per second of its own time in Lambda. */
export function workerEventsPerSecond(worker: WorkerMeasurement): number {
  return worker.eventsPerInvocation / workerInvocationSeconds(worker);
}

/**
 * A worker invocation's duration in Lambda: its measured CPU at the worker's memory's share of a
 * vCPU, plus its DynamoDB calls at `DYNAMODB_LATENCY_MS`, `WRITE_CONCURRENCY` in flight at once.
 * `dynamoRequestsPer1000Events` defaults to the measurement's own (the site-day pass passes its own).
 */
export function workerInvocationSeconds(
  worker: WorkerMeasurement,
  dynamoRequestsPer1000Events = worker.dynamoRequestsPer1000Events,
): number {
  const cpuSeconds = (worker.cpuUsPerEvent * worker.eventsPerInvocation) / 1e6 / cpuShareOf(DEPLOYMENT.workerMemoryMb);
  const dynamoCalls = (dynamoRequestsPer1000Events / 1000) * worker.eventsPerInvocation;
  return cpuSeconds + (dynamoCalls / WRITE_CONCURRENCY) * (DYNAMODB_LATENCY_MS / 1000);
}

/**
 * An ingest request's duration in Lambda: its measured CPU at `memoryMb`'s share of a vCPU (the
 * memory of the function its route goes to: `ingestMemoryMbOf`), plus its SendMessageBatch calls (sent in parallel, `SDK_SOCKETS` at a time) at `SQS_LATENCY_MS`
 * and its DynamoDB reads (the key and the source, one after the other, cached by the instance: the
 * accounting pass's count per request) at `DYNAMODB_LATENCY_MS`.
 */
export function ingestRequestSeconds(
  cpuUsPerRequest: number,
  sendsPerRequest: number,
  dynamoReadsPerRequest: number,
  memoryMb: number,
): number {
  const sqsRoundTrips = sendsPerRequest > 0 ? Math.ceil(sendsPerRequest / SDK_SOCKETS) : 0;
  return (
    cpuUsPerRequest / 1e6 / cpuShareOf(memoryMb) + (sqsRoundTrips * SQS_LATENCY_MS + dynamoReadsPerRequest * DYNAMODB_LATENCY_MS) / 1000
  );
}

/** The Lambda-duration assumptions, in words, for the report and docs/performance.md. */
export const LAMBDA_DURATION_MODEL =
  `Lambda duration is billed as the handler's measured CPU at its function's memory's share of a vCPU (1,769 MB = 1 vCPU) ` +
  `plus the wait for AWS: each ingest request one SQS round trip of ${SQS_LATENCY_MS} ms (its SendMessageBatch calls go in parallel, ` +
  `${SDK_SOCKETS} at a time) and ${DYNAMODB_LATENCY_MS} ms per DynamoDB read it makes (key and source, cached per instance); ` +
  `each worker invocation ${DYNAMODB_LATENCY_MS} ms per DynamoDB call, ${WRITE_CONCURRENCY} in flight at once; rounded up to Lambda's 1 ms step`;

/** Seconds to drain `events` at `concurrency` workers, and the bound a fresh table sets. */
export function drainSeconds(worker: WorkerMeasurement, events: number, concurrency: number): { workers: number; freshTable: number } {
  return {
    workers: events / (workerEventsPerSecond(worker) * concurrency),
    freshTable: (events * BUSIEST_TABLE_SHARE * worker.wruPerEvent) / NEW_TABLE_WRITE_UNITS,
  };
}

/** Dollars of steady traffic of `eventsPerSecond` for 30 days, at `dollarsPerMillion`. */
export function monthlyDollars(eventsPerSecond: number, dollarsPerMillion: number): number {
  return ((eventsPerSecond * SECONDS_PER_MONTH) / 1e6) * dollarsPerMillion;
}

/** Worker invocations running at once to keep up with `eventsPerSecond`. */
export function concurrencyFor(worker: WorkerMeasurement, eventsPerSecond: number): number {
  return eventsPerSecond / workerEventsPerSecond(worker);
}
