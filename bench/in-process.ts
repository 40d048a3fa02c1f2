/**
 * The ingest and worker handlers measured in process: the real handlers built the way Lambda builds
 * them (config, real SDK clients, Powertools logger at INFO), with AWS answered by `FakeAws`.
 *
 * Each measurement first runs an accounting pass (every AWS request parsed and counted, every SQS
 * message kept, every DynamoDB item sized), then timed rounds that repeat exactly the same requests
 * with AWS's answers replayed, so the timed figures hold our code and the SDK, not the fake.
 * Runs in a child process of its own (bench/child.ts), one shape at a time.
 */
import { openSync, writeSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { SQSEvent } from 'aws-lambda';
import { hashKey } from '../lib/tables/sources';
import { createIngestHandler, loadIngestDeps } from '../lib/ingest/handler';
import { createWorkerHandler, loadWorkerDeps } from '../lib/worker/handler';
import { parseMessages } from '../lib/worker/parse';
import type { SchemaLearner } from '../lib/worker/schemas/learn';
import { silentLog } from '../lib/shared/log';
import { eventItemBytes, FakeAws, type Observed } from './fake-aws';
import { apiGatewayEvent, BENCH_QUEUE_URL } from './fixtures';
import { benchPlan } from './plan';
import { benchPrivacyPolicy } from './privacy';
import { ingestPasses, timedRound, workerPasses, type PassesRound } from './passes';
import { loadConfig } from '../lib/shared/config';
import { DEPLOYMENT } from './prices';
import { SHAPES, type BenchRequest, type ShapeId } from './shapes';
import type { BenchEvent } from './fixtures';

export const BENCH_KEY = 'sk_benchBENCHbenchBENCHbenchBENCHbenchBENC';
/** Fixed receive time, so a request's queue messages are the same bytes every time it is sent. */
const RECEIVED_AT = Date.UTC(2026, 2, 14, 12, 0, 0);

export interface TimingOptions {
  rounds: number;
  roundMs: number;
}

export interface Round {
  cpuUs: number;
  wallUs: number;
  /** Handler calls in the round. */
  calls: number;
  /** Time spent inside the fake AWS, already taken out of cpuUs and wallUs. */
  fakeUs: number;
}

export interface IngestMeasurement {
  shape: ShapeId;
  eventsPerRequest: number;
  requestBytes: number;
  rounds: Round[];
  cpuUsPerRequest: number;
  wallUsPerRequest: number;
  floorCpuUsPerEvent: number;
  /** The floor and the handler timed round by round, interleaved: see `Interleaved`. */
  interleaved: Interleaved;
  /** AWS requests per HTTP request, from the accounting pass. */
  awsPerRequest: Record<string, number>;
  /** SQS messages one request produced, and their bodies' sizes, in order. */
  messagesPerRequest: number;
  messageBytes: number[];
  /** Body bytes of each SendMessageBatch request of the accounting pass. */
  sendPayloads: number[];
  requestsInPass: number;
  logBytesPerRequest: number;
  /** Whether the source had the 50-event tracking plan of bench/plan.ts (absent in older runs: off). */
  plan?: boolean;
  /** Whether the source had the ten-rule privacy policy of bench/privacy.ts (absent in older runs: off). */
  privacy?: boolean;
}

export interface WorkerMeasurement {
  shape: ShapeId;
  messagesPerInvocation: number;
  eventsPerInvocation: number;
  rounds: Round[];
  cpuUsPerEvent: number;
  wallUsPerInvocation: number;
  dynamoRequestsPer1000Events: number;
  itemBytesMean: number;
  wruPerEvent: number;
  /** Read units per event: the erasure tombstone check, one per distinct user of a batch. */
  rruPerEvent: number;
  /** Write units per event if items did not carry LEAN_OMITS (attributes beyond what docs/spec.md asks for). */
  leanWruPerEvent: number;
  floorWruPerEvent: number;
  eventBytesMean: number;
  logBytesPerInvocation: number;
  /**
   * Requests to the schemas table (lib/worker/schemas/): in the accounting pass, a fresh instance
   * learning every shape; per 1,000 events in the last timed round, the same traffic again.
   */
  schemaRequestsFirstPass?: number;
  schemaRequestsPer1000Steady?: number;
  /** CPU of the schema-learning phase alone per event, once the instance knows the shapes (the hot-path cost). */
  schemaLearnCpuUsPerEvent?: number;
  /** The parse+stringify floor of the same events, timed between the worker's rounds. */
  floorCpuUsPerEvent: number;
  interleaved: Interleaved;
  /** The profiles (lib/worker/profiles/), apart from the event items above: write and read units per event. */
  profileWruPerEvent?: number;
  profileRruPerEvent?: number;
  /** Profile items written, mean bytes. */
  profileItemBytesMean?: number;
  /** The same events regrouped into users of `eventsPerUser` events in a row (`sessionRequests`). */
  sessions?: {
    eventsPerUser: number;
    cpuUsPerEvent: number;
    dynamoRequestsPer1000Events: number;
    profileWruPerEvent: number;
    profileRruPerEvent: number;
  };
}

/**
 * A handler and its floor timed alternately, round by round (floor, handler, floor, handler, …),
 * so a change of load between them moves both: the ratio of each pair, their median and spread,
 * and the machine's load average (1, 5, 15 min) when the rounds started and ended.
 */
export interface Interleaved {
  floorCpuUsPerEvent: number[];
  handlerCpuUsPerEvent: number[];
  ratios: number[];
  ratioMedian: number;
  ratioMin: number;
  ratioMax: number;
  loadAtStart: number[];
  loadAtEnd: number[];
  /**
   * The design's own passes over the same events (bench/passes.ts), timed in the same rounds
   * (floor, passes, handler, …), and their ratio to each round's floor: what the handler's ratio
   * could approach. Always measured now; absent in the latest.json of runs before 2026-12-02.
   */
  passesCpuUsPerEvent?: number[];
  passesRatios?: number[];
  passesRatioMedian?: number;
  passesRatioMin?: number;
  passesRatioMax?: number;
}

/**
 * Counts what the Powertools logger writes to stdout and sends it to /dev/null with a synchronous
 * write, as a Lambda's stdout (a pipe) is written: the system call stays in the measured time.
 */
export function installLogSink(): { take(): number } {
  let bytes = 0;
  const devNull = openSync('/dev/null', 'w');
  process.stdout.write = ((chunk: string | Uint8Array) => {
    bytes += typeof chunk === 'string' ? writeSync(devNull, chunk) : writeSync(devNull, chunk);
    return true;
  }) as typeof process.stdout.write;
  return {
    take() {
      const taken = bytes;
      bytes = 0;
      return taken;
    },
  };
}

export function functionEnv(shape: ShapeId, extra: Record<string, string> = {}): Record<string, string> {
  return {
    STAGE: 'bench',
    QUEUE_URL: BENCH_QUEUE_URL,
    AWS_REGION: 'us-east-1',
    LOG_LEVEL: 'INFO',
    ERASURE_HASH_KEY: 'bench-erasure-hash-key-0123456789',
    PRIVACY_HASH_KEY: '1:bench-privacy-hash-key-0123456789',
    ...SHAPES[shape].env,
    ...extra,
  };
}

export function fakeAws(plan = false, privacy = false): FakeAws {
  const trackingPlan = plan ? { trackingPlan: JSON.stringify(benchPlan()), trackingPlanVersion: 'bench-plan-50' } : {};
  const policy = privacy ? { privacyPolicy: JSON.stringify(benchPrivacyPolicy()), privacyPolicyVersion: 'bench-privacy-10' } : {};
  return new FakeAws({
    keepMessages: true,
    items: {
      '-keys': { keyHash: hashKey(BENCH_KEY), sourceId: 'bench', keyPrefix: BENCH_KEY.slice(0, 7), createdAt: '2026-01-01T00:00:00.000Z' },
      '-sources': { sourceId: 'bench', name: 'Benchmark', disabled: false, ...trackingPlan, ...policy },
    },
  });
}

/**
 * The ingest handler wired as functions/ingest/handler.ts wires it, with AWS answered by the fake.
 * Every request is received at RECEIVED_AT (so its queue messages are the same bytes each time);
 * deadlines run on the real clock (lib/ingest/handler.ts), as in Lambda.
 */
export function ingestRig(shape: ShapeId, plan = false, privacy = false) {
  const fake = fakeAws(plan, privacy);
  const handler = createIngestHandler(loadIngestDeps(functionEnv(shape), { requestHandler: fake as never }), () => RECEIVED_AT);
  return { fake, handler };
}

export function httpEvents(shape: ShapeId, count: number) {
  const requests = SHAPES[shape].requests(count);
  return { requests, events: apiEvents(shape, requests) };
}

export function apiEvents(shape: ShapeId, requests: readonly BenchRequest[]) {
  const authorization = `Basic ${Buffer.from(`${BENCH_KEY}:`).toString('base64')}`;
  return requests.map((request, i) =>
    apiGatewayEvent({ path: request.path, body: request.body, headers: { authorization }, requestId: `bench-${shape}-${i}` }),
  );
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

/** Runs `cycle` (which makes `callsPerCycle` handler calls) for about `roundMs`, `rounds` times. */
async function timeRounds(fake: FakeAws, options: TimingOptions, callsPerCycle: number, cycle: () => Promise<void>): Promise<Round[]> {
  const rounds: Round[] = [];
  for (let r = 0; r < options.rounds; r++) {
    fake.reset();
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    let calls = 0;
    do {
      await cycle();
      calls += callsPerCycle;
    } while (performance.now() - wall0 < options.roundMs);
    const wall = (performance.now() - wall0) * 1000;
    const cpu = process.cpuUsage(cpu0);
    const fakeUs = fake.observed.overheadMs * 1000;
    rounds.push({ cpuUs: cpu.user + cpu.system - fakeUs, wallUs: wall - fakeUs, calls, fakeUs });
  }
  return rounds;
}

/** One round of JSON.parse + JSON.stringify of the same bodies, for `roundMs`: what any JSON service pays per event. */
function floorRound(bodies: readonly string[], eventsPerBody: number, roundMs: number): number {
  return timedRound(bodies.length * eventsPerBody, () => {
    let sink = 0;
    for (const body of bodies) sink += JSON.stringify(JSON.parse(body)).length;
    return sink;
  })(roundMs);
}

/**
 * Times the handler (`cycle`, `callsPerCycle` calls of `eventsPerCall` events) and the floor of
 * `bodies` alternately, `options.rounds` times each. A round of the floor lasts half a handler round.
 */
async function timeInterleaved(
  fake: FakeAws,
  options: TimingOptions,
  callsPerCycle: number,
  eventsPerCall: number,
  cycle: () => Promise<void>,
  floor: { bodies: readonly string[]; eventsPerBody: number },
  passes: PassesRound,
): Promise<{ rounds: Round[]; interleaved: Interleaved }> {
  const rounds: Round[] = [];
  const floors: number[] = [];
  const passed: number[] = [];
  const loadAtStart = os.loadavg();
  for (let r = 0; r < options.rounds; r++) {
    floors.push(floorRound(floor.bodies, floor.eventsPerBody, options.roundMs / 2));
    passed.push(passes(options.roundMs / 2));
    rounds.push(...(await timeRounds(fake, { rounds: 1, roundMs: options.roundMs }, callsPerCycle, cycle)));
  }
  const handler = rounds.map((round) => round.cpuUs / (round.calls * eventsPerCall));
  const ratios = handler.map((us, i) => us / (floors[i] as number));
  const passesRatios = passed.map((us, i) => us / (floors[i] as number));
  return {
    rounds,
    interleaved: {
      floorCpuUsPerEvent: floors,
      handlerCpuUsPerEvent: handler,
      ratios,
      ratioMedian: median(ratios),
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      loadAtStart,
      loadAtEnd: os.loadavg(),
      passesCpuUsPerEvent: passed,
      passesRatios,
      passesRatioMedian: median(passesRatios),
      passesRatioMin: Math.min(...passesRatios),
      passesRatioMax: Math.max(...passesRatios),
    },
  };
}

/** Requests per accounting pass: enough messages to fill worker invocations, few enough to stay fast. */
const PASS_REQUESTS: Record<ShapeId, number> = { single: 400, batch: 20, webhook: 4 };

/**
 * `plan`: the source has the 50-event tracking plan of bench/plan.ts (block mode; every event keeps
 * to it); `privacy`: the ten-rule privacy policy of bench/privacy.ts.
 */
export async function measureIngest(
  shape: ShapeId,
  options: TimingOptions,
  logs: { take(): number },
  plan = false,
  privacy = false,
): Promise<IngestMeasurement> {
  const { requests, events } = httpEvents(shape, PASS_REQUESTS[shape]);
  const { fake, handler } = ingestRig(shape, plan, privacy);
  const expected = SHAPES[shape].eventsPerRequest;

  // Accounting pass: every answer checked, AWS requests counted, answers recorded for replay.
  fake.setMode('record');
  logs.take();
  for (const event of events) {
    const response = await handler(event);
    const body = JSON.parse(response.body) as { accepted?: number };
    if (response.statusCode !== 200 || body.accepted !== expected)
      throw new Error(`ingest answered ${response.statusCode} ${response.body}`);
  }
  const pass: Observed = fake.reset();
  const logBytes = logs.take();

  fake.setMode('replay');
  const cycle = async () => {
    for (const event of events) {
      const response = await handler(event);
      if (response.statusCode !== 200) throw new Error(`ingest answered ${response.statusCode} ${response.body}`);
    }
  };
  // Warm-up: the JIT keeps tiering up for a while, longest where a request makes few calls (batches).
  await timeRounds(fake, { rounds: 2, roundMs: options.roundMs }, events.length, cycle);
  const bodies = requests.map((r) => r.body);
  const passes = ingestPasses(bodies, expected, loadConfig(functionEnv(shape)).queueMessageBytes);
  const { rounds, interleaved } = await timeInterleaved(
    fake,
    options,
    events.length,
    expected,
    cycle,
    { bodies, eventsPerBody: expected },
    passes,
  );
  logs.take();

  const perRequest = (n: number) => n / events.length;
  return {
    shape,
    eventsPerRequest: expected,
    requestBytes: requests.reduce((sum, r) => sum + Buffer.byteLength(r.body), 0) / requests.length,
    rounds,
    cpuUsPerRequest: median(rounds.map((r) => r.cpuUs / r.calls)),
    wallUsPerRequest: median(rounds.map((r) => r.wallUs / r.calls)),
    floorCpuUsPerEvent: median(interleaved.floorCpuUsPerEvent),
    interleaved,
    awsPerRequest: Object.fromEntries(Object.entries(pass.requests).map(([op, n]) => [op, perRequest(n)])),
    messagesPerRequest: perRequest(pass.messages.length),
    messageBytes: pass.messages.map((m) => Buffer.byteLength(m)),
    sendPayloads: pass.sendPayloads,
    requestsInPass: events.length,
    logBytesPerRequest: perRequest(logBytes),
    plan,
    privacy,
  };
}

/** The queue messages the ingest function really writes for `requests`, in SQS trigger batches of `batchSize`. */
async function queueBatches(shape: ShapeId, requests: readonly BenchRequest[], batchSize: number) {
  const ingest = ingestRig(shape);
  for (const event of apiEvents(shape, requests)) await ingest.handler(event);
  const messages = ingest.fake.reset().messages;
  const sqsEvents: SQSEvent[] = [];
  for (let i = 0; i < messages.length; i += batchSize) sqsEvents.push(sqsEventOf(messages.slice(i, i + batchSize), i));
  return { messages, sqsEvents };
}

/** An SQS trigger's event of `messages`, numbered from `first`. */
export function sqsEventOf(messages: readonly string[], first: number): SQSEvent {
  return {
    Records: messages.map((body, j) => ({
      messageId: `00000000-0000-4000-8000-${String(first + j).padStart(12, '0')}`,
      receiptHandle: `rh-${first + j}`,
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(RECEIVED_AT),
        SenderId: 'AIDABENCH',
        ApproximateFirstReceiveTimestamp: String(RECEIVED_AT),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:segment-ingest-bench-events',
      awsRegion: 'us-east-1',
    })),
  };
}

/**
 * The worker handler wired as functions/worker/handler.ts wires it, with AWS answered by `fake`;
 * `learn: false` turns schema learning off (lib/worker/schemas/), to show what it costs.
 */
function workerRig(shape: ShapeId, fake: FakeAws, env: Record<string, string> = {}, learn = true) {
  const deps = loadWorkerDeps(functionEnv(shape, env), { requestHandler: fake as never });
  return { deps, handler: createWorkerHandler(learn ? deps : { ...deps, schemas: undefined }) };
}

/** An accounting pass: every batch through a fresh worker, every AWS request counted and every item sized. */
async function accountingPass(
  shape: ShapeId,
  sqsEvents: readonly SQSEvent[],
  env: Record<string, string> = {},
  learn = true,
): Promise<Observed> {
  const fake = new FakeAws({ account: true });
  const { handler } = workerRig(shape, fake, env, learn);
  for (const event of sqsEvents) {
    const { batchItemFailures } = await handler(event);
    if (batchItemFailures.length > 0) throw new Error(`the worker failed ${batchItemFailures.length} message(s)`);
  }
  return fake.reset();
}

/** A worker over `sqsEvents`, warmed up (one pass and two rounds) with AWS's answers replayed, ready to be timed. */
async function warmWorker(
  shape: ShapeId,
  sqsEvents: readonly SQSEvent[],
  options: TimingOptions,
  learn = true,
  env: Record<string, string> = {},
) {
  const fake = new FakeAws({ account: false });
  const { deps, handler } = workerRig(shape, fake, env, learn);
  for (const event of sqsEvents) await handler(event);
  fake.setMode('replay');
  const cycle = async () => {
    for (const event of sqsEvents) await handler(event);
  };
  await timeRounds(fake, { rounds: 2, roundMs: options.roundMs }, sqsEvents.length, cycle); // warm-up, as for the ingest
  return { fake, deps, cycle };
}

/**
 * `batchSize`: messages per invocation, by default the SQS trigger's batch size in serverless.yml;
 * `env`: function settings beside the deployed ones (e.g. PROFILES=false).
 */
export async function measureWorker(
  shape: ShapeId,
  options: TimingOptions,
  logs: { take(): number },
  batchSize: number = DEPLOYMENT.workerBatchSize,
  learn = true,
  env: Record<string, string> = {},
): Promise<WorkerMeasurement> {
  const requests = SHAPES[shape].requests(PASS_REQUESTS[shape]);
  const { messages, sqsEvents } = await queueBatches(shape, requests, batchSize);
  const sentEvents = requests.flatMap((r) => r.events);
  const eventsPerCycle = sentEvents.length;
  const eventsPerInvocation = eventsPerCycle / sqsEvents.length;

  logs.take();
  const pass = await accountingPass(shape, sqsEvents, env, learn);
  const logBytes = logs.take();
  const { fake, deps, cycle } = await warmWorker(shape, sqsEvents, options, learn, env);
  const floor = { bodies: requests.map((r) => r.body), eventsPerBody: SHAPES[shape].eventsPerRequest };
  const { rounds, interleaved } = await timeInterleaved(
    fake,
    options,
    sqsEvents.length,
    eventsPerInvocation,
    cycle,
    floor,
    workerPasses(sqsEvents),
  );
  const lastRound = fake.observed.requests;
  const learnUs = learn && deps.schemas ? await learnCpuUsPerEvent(deps.schemas, sqsEvents, options) : undefined;
  // The sessions variant shows what profiles cost; with the stage's profiles off there is nothing to show.
  const sessions = deps.config.profiles ? await measureSessions(shape, requests, batchSize, options) : undefined;
  logs.take();

  const schemaRequests = (counts: Record<string, number>) =>
    (counts['DynamoDB.UpdateItem'] ?? 0) + (counts['DynamoDB.Query'] ?? 0) + (counts['DynamoDB.GetItem'] ?? 0);
  const eventSizes = sentEvents.map((e) => eventItemBytes(e));
  return {
    shape,
    messagesPerInvocation: messages.length / sqsEvents.length,
    eventsPerInvocation,
    rounds,
    cpuUsPerEvent: median(rounds.map((r) => r.cpuUs / (r.calls * eventsPerInvocation))),
    wallUsPerInvocation: median(rounds.map((r) => r.wallUs / r.calls)),
    dynamoRequestsPer1000Events: (dynamoRequests(pass) / eventsPerCycle) * 1000,
    rruPerEvent: pass.readUnits / eventsPerCycle,
    itemBytesMean: pass.itemBytes.reduce((a, b) => a + b, 0) / pass.itemBytes.length,
    wruPerEvent: writeUnits(pass.itemBytes) / eventsPerCycle,
    leanWruPerEvent: writeUnits(pass.leanItemBytes) / eventsPerCycle,
    floorWruPerEvent: eventSizes.reduce((sum, bytes) => sum + Math.max(1, Math.ceil(bytes / 1024)), 0) / eventsPerCycle,
    eventBytesMean: eventSizes.reduce((a, b) => a + b, 0) / eventSizes.length,
    logBytesPerInvocation: logBytes / sqsEvents.length,
    floorCpuUsPerEvent: median(interleaved.floorCpuUsPerEvent),
    interleaved,
    schemaRequestsFirstPass: schemaRequests(pass.requests),
    schemaRequestsPer1000Steady: (schemaRequests(lastRound) / ((rounds.at(-1)?.calls ?? 1) * eventsPerInvocation)) * 1000,
    ...(learnUs === undefined ? {} : { schemaLearnCpuUsPerEvent: learnUs }),
    ...profileUnits(pass, eventsPerCycle),
    profileItemBytesMean: pass.profileItemBytes.reduce((a, b) => a + b, 0) / Math.max(1, pass.profileItemBytes.length),
    ...(sessions ? { sessions } : {}),
  };
}

/** The learning phase on the same batches, timed alone: what it adds to each event once the shapes are known. */
async function learnCpuUsPerEvent(learner: SchemaLearner, sqsEvents: SQSEvent[], options: TimingOptions): Promise<number> {
  const context = { tables: loadWorkerDeps(functionEnv('single'), {}).config.tables, expiresAt: 0, log: silentLog };
  const batches = sqsEvents.map((event) => parseMessages(event.Records, context).eventWrites);
  const events = batches.reduce((sum, writes) => sum + writes.length, 0);
  const perEvent: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    let learned = 0;
    do {
      for (const writes of batches) {
        const { requests } = await learner.learn(writes, 10_000);
        if (requests > 0) throw new Error('the learner sent requests for shapes it had learned');
      }
      learned += events;
    } while (performance.now() - wall0 < options.roundMs / 2);
    const cpu = process.cpuUsage(cpu0);
    perEvent.push((cpu.user + cpu.system) / learned);
  }
  return median(perEvent);
}

/** The worker's write, read and statement requests, everything it sends DynamoDB per batch. */
function dynamoRequests(observed: Observed): number {
  return ['BatchWriteItem', 'PutItem', 'BatchGetItem', 'BatchExecuteStatement'].reduce(
    (sum, operation) => sum + (observed.requests[`DynamoDB.${operation}`] ?? 0),
    0,
  );
}

function profileUnits(observed: Observed, events: number) {
  return { profileWruPerEvent: writeUnits(observed.profileItemBytes) / events, profileRruPerEvent: observed.profileReadUnits / events };
}

/** Events of one user in a row in the sessions variant. */
export const SESSION_EVENTS = 20;

/**
 * The same requests with their users regrouped: every `SESSION_EVENTS` events in a row are one
 * visitor (one anonymousId) who is identified on the events that had a userId. The shapes' own
 * events are the worst case for profiles (every event a new user and a new anonymous id).
 */
export function sessionRequests(requests: readonly BenchRequest[]): BenchRequest[] {
  let n = 0;
  const regroup = (event: Record<string, unknown>) => {
    const session = Math.floor(n++ / SESSION_EVENTS);
    const anonymousId = `00000000-0000-4000-a000-${String(session).padStart(12, '0')}`;
    const identified = event.userId !== undefined;
    event.anonymousId = anonymousId;
    if (identified) event.userId = `usr_${String(session).padStart(12, '0')}`;
    if (event.type === 'alias') event.previousId = anonymousId;
  };
  return requests.map((request) => {
    const body = JSON.parse(request.body) as Record<string, unknown> | Record<string, unknown>[];
    const list = Array.isArray(body) ? body : Array.isArray(body.batch) ? (body.batch as Record<string, unknown>[]) : [body];
    list.forEach(regroup);
    return { path: request.path, body: JSON.stringify(body), events: list as BenchEvent[] };
  });
}

async function measureSessions(
  shape: ShapeId,
  requests: readonly BenchRequest[],
  batchSize: number,
  options: TimingOptions,
): Promise<NonNullable<WorkerMeasurement['sessions']>> {
  const regrouped = sessionRequests(requests);
  const { sqsEvents } = await queueBatches(shape, regrouped, batchSize);
  const events = regrouped.reduce((sum, r) => sum + r.events.length, 0);
  const on = await accountingPass(shape, sqsEvents);
  const { fake, cycle } = await warmWorker(shape, sqsEvents, options);
  const rounds = await timeRounds(fake, options, sqsEvents.length, cycle);
  return {
    eventsPerUser: SESSION_EVENTS,
    cpuUsPerEvent: median(rounds.map((r) => (r.cpuUs / (r.calls * events)) * sqsEvents.length)),
    dynamoRequestsPer1000Events: (dynamoRequests(on) / events) * 1000,
    ...profileUnits(on, events),
  };
}

export const writeUnits = (sizes: readonly number[]) => sizes.reduce((sum, bytes) => sum + Math.ceil(bytes / 1024), 0);
