/**
 * Capacity a user can plan with (issue 15), from this run's measurements: how long a Segment replay
 * drains at a worker concurrency, what it costs, and what steady traffic costs a month.
 *
 * The model, every assumption named:
 * - A worker invocation takes its measured CPU time scaled to Lambda's share of a vCPU at the
 *   deployed memory (a full vCPU at 1,769 MB, proportionally less below), plus the DynamoDB wait:
 *   its BatchWriteItem and BatchGetItem calls at `DYNAMODB_LATENCY_MS` each, `WRITE_CONCURRENCY`
 *   (4) in flight at once. DynamoDB answers a BatchWriteItem of 25 items in single-digit
 *   milliseconds in-region; 10 ms leaves room for the network and a retried unprocessed item.
 * - Drain time is the events over what the concurrent invocations store per second. DynamoDB
 *   on-demand also caps a table: a new table serves up to 4,000 write units/s at first (AWS raises
 *   it as traffic grows), so the busiest table (track, half the events here) bounds a replay into
 *   a fresh stage; the table shows that bound beside.
 * - Costs are this run's dollars per million events for the shape a replay or traffic arrives in.
 */
import type { WorkerMeasurement } from './in-process';
import { DEPLOYMENT } from './prices';

export const DYNAMODB_LATENCY_MS = 10;
const WRITE_CONCURRENCY = 4;
const FULL_VCPU_MB = 1769;
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
  const cpuSeconds =
    ((worker.cpuUsPerEvent * worker.eventsPerInvocation) / 1e6) * (FULL_VCPU_MB / Math.min(DEPLOYMENT.memoryMb, FULL_VCPU_MB));
  const dynamoCalls = (worker.dynamoRequestsPer1000Events / 1000) * worker.eventsPerInvocation;
  const waitSeconds = (dynamoCalls / WRITE_CONCURRENCY) * (DYNAMODB_LATENCY_MS / 1000);
  return worker.eventsPerInvocation / (cpuSeconds + waitSeconds);
}

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
