/**
 * AWS requests and dollars per million events for one traffic shape, from what the in-process run
 * observed (request sizes, SQS requests and payloads, handler times, item sizes) and PRICES.
 *
 * Assumptions, each visible here: full worker batches (DEPLOYMENT.workerBatchSize messages per
 * invocation, gathered by receives of 10 and deleted 10 at a time, as under steady traffic); a receive is billed per 64 KB chunk of
 * the messages it returns; Lambda duration is billed as it is in AWS: the handler's measured CPU at
 * its function's memory's share of a vCPU (bench/prices.ts: the worker's, and for the ingest that of
 * the function the shape's route goes to, `ingestMemoryMbOf`) plus the wait for SQS and DynamoDB at the latencies of the
 * capacity model (bench/capacity.ts, `LAMBDA_DURATION_MODEL`), rounded up to the billing step; the
 * idle long polls of the trigger are a fixed monthly cost, not
 * a cost per event, and are left out.
 */
import { cpuShareOf, DYNAMODB_LATENCY_MS, ingestRequestSeconds, SDK_SOCKETS, SQS_LATENCY_MS, workerInvocationSeconds } from './capacity';
import type { IngestMeasurement, WorkerMeasurement } from './in-process';
import type { NaiveMeasurement } from './naive';
import { DEPLOYMENT, ingestMemoryMbOf, PRICES } from './prices';
import type { ShapeId } from './shapes';

export interface CostLine {
  /** AWS requests per 1000 events. */
  apiRequests: number;
  lambdaInvocations: number;
  sqsRequests: number;
  dynamoWriteUnits: number;
  dynamoReadUnits: number;
  /** Dollars per million events. */
  dollars: { api: number; lambda: number; sqs: number; dynamodb: number; total: number };
}

export interface ShapeCost {
  ours: CostLine;
  floor: CostLine;
  /**
   * The floor if each item must hold what docs/spec.md section 5 asks for (the event, its key, sourceId,
   * the ingest time), priced from the items as written less our other attributes.
   */
  specFloor: CostLine;
  naive: CostLine;
  /** CloudWatch Logs for our own log lines, dollars per million events (not in the totals). */
  logsDollars: number;
  /** Lambda GB-seconds per million events (ingest + worker), from measured handler time alone (information). */
  gbSeconds: number;
  /**
   * Lambda GB-seconds per million events as billed, the figure the dollars use: handler CPU at the
   * deployed memory's share of a vCPU plus the wait for SQS and DynamoDB (bench/capacity.ts).
   * Absent in runs before 2026-12-07, whose Lambda dollars were handler time alone.
   */
  billedGbSeconds?: number;
  /**
   * What the profiles add to `ours` (lib/worker/profiles/): write and read units per 1000 events and
   * DynamoDB dollars per million events.
   */
  profiles?: ProfileCost & {
    /** The same for the events regrouped into users of many events (WorkerMeasurement `sessions`). */
    sessions?: ProfileCost;
  };
}

export interface ProfileCost {
  writeUnits: number;
  readUnits: number;
  dollars: number;
}

/** GB of the worker, and of the ingest function a shape's requests go to. */
const WORKER_GB = DEPLOYMENT.workerMemoryMb / 1024;
const ingestGb = (shape: ShapeId) => ingestMemoryMbOf(shape) / 1024;
const chunks = (bytes: number) => Math.max(1, Math.ceil(bytes / PRICES.sqsChunkBytes));
const billedSeconds = (us: number) => (Math.ceil(us / 1000 / PRICES.lambdaBillingStepMs) * PRICES.lambdaBillingStepMs) / 1000;
const dynamoReads = (ingest: IngestMeasurement) =>
  Object.entries(ingest.awsPerRequest).reduce((sum, [operation, n]) => sum + (operation.startsWith('DynamoDB.') ? n : 0), 0);

/** Billed GB-seconds per event of the ingest and the worker (see `workerInvocationSeconds`, `ingestRequestSeconds`). */
export function billedGbSecondsPerEvent(
  ingest: IngestMeasurement,
  worker: WorkerMeasurement,
  workerDynamoRequestsPer1000Events = worker.dynamoRequestsPer1000Events,
): number {
  const sendsPerRequest = ingest.sendPayloads.length / ingest.requestsInPass;
  const ingestSeconds = ingestRequestSeconds(ingest.cpuUsPerRequest, sendsPerRequest, dynamoReads(ingest), ingestMemoryMbOf(ingest.shape));
  const workerSeconds = workerInvocationSeconds(worker, workerDynamoRequestsPer1000Events);
  return (
    (billedSeconds(ingestSeconds * 1e6) * ingestGb(ingest.shape)) / ingest.eventsPerRequest +
    (billedSeconds(workerSeconds * 1e6) * WORKER_GB) / worker.eventsPerInvocation
  );
}

/**
 * The naive design's billed GB-seconds per event: a SendMessage per event in parallel, a PutItem per
 * event in parallel; its ingest at the same memory as ours for the shape, its worker as ours.
 */
function naiveBilledGbSecondsPerEvent(naive: NaiveMeasurement, eventsPerRequest: number, shape: ShapeId): number {
  const ingestSeconds =
    (naive.ingestCpuUsPerEvent * eventsPerRequest) / 1e6 / cpuShareOf(ingestMemoryMbOf(shape)) +
    (Math.ceil(eventsPerRequest / SDK_SOCKETS) * SQS_LATENCY_MS) / 1000;
  const workerSeconds =
    (naive.workerCpuUsPerEvent * naive.workerBatch) / 1e6 / cpuShareOf(DEPLOYMENT.workerMemoryMb) +
    (Math.ceil(naive.workerBatch / SDK_SOCKETS) * DYNAMODB_LATENCY_MS) / 1000;
  return (
    (billedSeconds(ingestSeconds * 1e6) * ingestGb(shape)) / eventsPerRequest +
    (billedSeconds(workerSeconds * 1e6) * WORKER_GB) / naive.workerBatch
  );
}

function line(perEvent: { api: number; invocations: number; gbSeconds: number; sqs: number; wru: number; rru?: number }): CostLine {
  const m = 1e6;
  const api = perEvent.api * PRICES.httpApiPerRequest * m;
  const lambda = (perEvent.invocations * PRICES.lambdaPerInvocation + perEvent.gbSeconds * PRICES.lambdaPerGbSecondArm) * m;
  const sqs = perEvent.sqs * PRICES.sqsPerRequest * m;
  const rru = perEvent.rru ?? 0;
  const dynamodb = (perEvent.wru * PRICES.dynamoPerWriteUnit + rru * PRICES.dynamoPerReadUnit) * m;
  return {
    apiRequests: perEvent.api * 1000,
    lambdaInvocations: perEvent.invocations * 1000,
    sqsRequests: perEvent.sqs * 1000,
    dynamoWriteUnits: perEvent.wru * 1000,
    dynamoReadUnits: rru * 1000,
    dollars: { api, lambda, sqs, dynamodb, total: api + lambda + sqs + dynamodb },
  };
}

export function shapeCost(ingest: IngestMeasurement, worker: WorkerMeasurement, measuredNaive?: NaiveMeasurement): ShapeCost {
  const events = ingest.eventsPerRequest;
  const perRequest = (n: number) => n / events;
  const apiUnits = Math.max(1, Math.ceil(ingest.requestBytes / PRICES.httpApiMeterBytes));

  // SQS, from the accounting pass: sends as observed; the trigger's receives and deletes per full batch.
  const sends = ingest.sendPayloads.reduce((sum, bytes) => sum + chunks(bytes), 0);
  let receives = 0;
  let deletes = 0;
  // ReceiveMessage and DeleteMessageBatch take at most 10 messages, whatever the trigger's batch size.
  const perCall = Math.min(10, DEPLOYMENT.workerBatchSize);
  for (let i = 0; i < ingest.messageBytes.length; i += perCall) {
    const batch = ingest.messageBytes.slice(i, i + perCall);
    receives += chunks(batch.reduce((a, b) => a + b, 0));
    deletes += 1;
  }
  const sqsPerEvent = (sends + receives + deletes) / (ingest.requestsInPass * events);

  const workerInvocationsPerEvent = 1 / worker.eventsPerInvocation;
  const ingestGbSeconds = perRequest(billedSeconds(ingest.wallUsPerRequest) * ingestGb(ingest.shape));
  const workerGbSeconds = workerInvocationsPerEvent * billedSeconds(worker.wallUsPerInvocation) * WORKER_GB;

  const profiles = profileCost(worker);
  const billed = billedGbSecondsPerEvent(ingest, worker);
  const ours = line({
    api: perRequest(apiUnits),
    invocations: perRequest(1) + workerInvocationsPerEvent,
    gbSeconds: billed,
    sqs: sqsPerEvent,
    wru: worker.wruPerEvent + (worker.profileWruPerEvent ?? 0),
    rru: worker.rruPerEvent + (worker.profileRruPerEvent ?? 0),
  });
  // What any design pays: the API request, one invocation per HTTP request, one write unit per KB of event.
  const floor = line({ api: perRequest(apiUnits), invocations: perRequest(1), gbSeconds: 0, sqs: 0, wru: worker.floorWruPerEvent });
  const specFloor = line({ api: perRequest(apiUnits), invocations: perRequest(1), gbSeconds: 0, sqs: 0, wru: worker.leanWruPerEvent });
  // One SQS message and one PutItem per event: a send per event, a receive and a delete per 10 messages,
  // a worker invocation per 10 events, the same items. Its compute as measured in the same run
  // (bench/naive.ts), billed with the same waits; without that measurement, ours, which flatters it.
  const naiveBatch = measuredNaive?.workerBatch ?? DEPLOYMENT.workerBatchSize;
  const naive = line({
    api: perRequest(apiUnits),
    invocations: perRequest(1) + 1 / naiveBatch,
    gbSeconds: measuredNaive ? naiveBilledGbSecondsPerEvent(measuredNaive, events, ingest.shape) : billed,
    sqs: 1 + 2 / naiveBatch,
    wru: worker.wruPerEvent,
  });

  const logBytesPerEvent = perRequest(ingest.logBytesPerRequest) + workerInvocationsPerEvent * worker.logBytesPerInvocation;
  return {
    ours,
    floor,
    specFloor,
    naive,
    logsDollars: (logBytesPerEvent * 1e6 * PRICES.logsPerGb) / 1024 ** 3,
    gbSeconds: (ingestGbSeconds + workerGbSeconds) * 1e6,
    billedGbSeconds: billed * 1e6,
    ...(profiles ? { profiles } : {}),
  };
}

function profileCost(worker: WorkerMeasurement): ShapeCost['profiles'] {
  if (worker.profileWruPerEvent === undefined) return undefined;
  const of = (wru: number, rru: number): ProfileCost => ({
    writeUnits: wru * 1000,
    readUnits: rru * 1000,
    dollars: (wru * PRICES.dynamoPerWriteUnit + rru * PRICES.dynamoPerReadUnit) * 1e6,
  });
  const { sessions } = worker;
  return {
    ...of(worker.profileWruPerEvent, worker.profileRruPerEvent ?? 0),
    ...(sessions ? { sessions: of(sessions.profileWruPerEvent, sessions.profileRruPerEvent) } : {}),
  };
}

/** The parts of a site-day measurement (bench/site-day-pass.ts) that price a day of live traffic. */
export interface SiteDayUnits {
  wruPerEvent: number;
  leanWruPerEvent: number;
  rruPerEvent: number;
  floorWruPerEvent: number;
  profileWruPerEvent: number;
  profileRruPerEvent: number;
}

/**
 * The shape's cost on the site-day model: its requests, messages and Lambda time as measured on the
 * bench's own events (whose worker makes the most DynamoDB calls: each event a new user, an upper
 * bound on the wait), with the DynamoDB units of the site day: its event items, erasure checks and
 * profiles, and the floor of its events.
 */
export function siteDayCost(ingest: IngestMeasurement, worker: WorkerMeasurement, day: SiteDayUnits): ShapeCost {
  return shapeCost(ingest, {
    ...worker,
    wruPerEvent: day.wruPerEvent,
    leanWruPerEvent: day.leanWruPerEvent,
    rruPerEvent: day.rruPerEvent,
    floorWruPerEvent: day.floorWruPerEvent,
    profileWruPerEvent: day.profileWruPerEvent,
    profileRruPerEvent: day.profileRruPerEvent,
    sessions: undefined,
  });
}
