/**
 * The ingest function's memory on the largest requests it accepts: the bundle `npm run build`
 * makes, loaded in a fresh `node` process per case and called with API Gateway v2 events as Lambda
 * calls it, against the emulators (DynamoDB Local and the SQS emulator, local/emulators.ts, in this
 * process). Each case runs twice: with V8's own heap limits, and with the limits Lambda's Node.js
 * runtime sets for the function's memory (`lambdaNodeFlags`): the memory of the function the
 * case's route goes to (`caseMemoryMb`: Webhooks arrays on `webhooks`, the rest on `ingest`, as
 * serverless.yml deploys them), or `--memory` for every case. `caseFailures` says when a case
 * fails, and the run exits 1 if one does. Not part of `npm run bench`; docs/operations.md (function
 * memory) has the figures and the choice they support.
 *
 *   npm run bench:memory [-- --memory=256] [-- --node=/path/to/node] [-- --steady=200]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildFunction } from '../scripts/build';
import { startEmulators, useLocalCredentials } from '../local/emulators';
import { startPipeline } from '../local/pipeline';
import { freePort } from '../local/ports';
import type { loadConfig } from '../lib/shared/config';
import { apiGatewayEvent, makeEvents, type BenchEvent } from './fixtures';
import { DEPLOYMENT } from './prices';

/** The function a case's requests go to (infra/routes.ts): the Webhooks route to `webhooks`, every other route to `ingest`. */
export type IngestFunction = 'ingest' | 'webhooks';

/** The memory a case runs at: `forced` (`--memory`) when given, else that of its function as deployed (bench/prices.ts). */
export function caseMemoryMb(fn: IngestFunction, forced?: number): number {
  return forced ?? (fn === 'webhooks' ? DEPLOYMENT.webhooksMemoryMb : DEPLOYMENT.ingestMemoryMb);
}

/**
 * The V8 flags Lambda's Node.js runtime starts `node` with for a function of `memoryMb` (its
 * bootstrap script, /var/runtime/bootstrap, unless NODE_OPTIONS sets either): a tenth of the memory
 * for the young generation, half of that a semi-space, the rest for the old generation.
 */
export function lambdaNodeFlags(memoryMb: number): string[] {
  const newSpace = Math.floor(memoryMb / 10);
  return [`--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memoryMb - newSpace}`];
}

/** What one case measured in its process. */
export interface CaseResult {
  name: string;
  /** The function memory the case ran at (`caseMemoryMb`), whose Lambda flags it ran with and whose bounds hold it. */
  memoryMb: number;
  /** `v8 defaults` or the Lambda flags it ran with. */
  flags: string;
  /** Whether it ran with Lambda's flags (`lambdaNodeFlags`); only those runs are held to the memory bounds. */
  lambdaFlags: boolean;
  requestBytes: number;
  events: number;
  requests: number;
  /** process.resourceUsage().maxRSS, MB (1 MB = 1,048,576 bytes). */
  peakRssMb: number;
  /** The largest heapUsed seen, sampled every millisecond the event loop is free and after each request, MB. */
  peakHeapMb: number;
  /** The largest `external` (Buffers and other memory V8 objects hold outside the heap), sampled alike, MB. */
  peakExternalMb: number;
  /** Heap after a full GC: after the first tenth of the requests and after the last (steady cases), MB. */
  heapAfterGcEarlyMb?: number;
  heapAfterGcEndMb?: number;
  /** Median handler time per request, ms, on this machine (not Lambda's CPU share). */
  msPerRequest: number;
  /** Status codes other than 200, and the process's own failure, if any. */
  problems: string[];
}

/** Heap a steady case may keep after a full GC beyond what it kept after its first tenth of requests, MB. */
export const HEAP_GROWTH_MB = 5;

/**
 * Why a case fails. Every run: a request not answered 200, or a process that died. Runs with
 * Lambda's flags also: one request whose peak RSS passes half the function's memory (the rest is
 * room for the garbage collector and Lambda's runtime client); requests in a row whose peak RSS
 * passes 90% of it (V8 may use its limits between collections; past the memory Lambda ends the
 * instance), or whose heap after a full GC grew by more than `HEAP_GROWTH_MB`. Runs with V8's own
 * limits (those of this machine's memory) are shown as information.
 */
export function caseFailures(result: CaseResult, memoryMb: number): string[] {
  const failures = [...result.problems];
  if (!result.lambdaFlags) return failures;
  const bound = result.requests > 1 ? 0.9 : 0.5;
  if (result.peakRssMb > memoryMb * bound) {
    failures.push(`peak RSS ${result.peakRssMb.toFixed(1)} MB is over ${bound * 100}% of ${memoryMb} MB`);
  }
  const growth = (result.heapAfterGcEndMb ?? 0) - (result.heapAfterGcEarlyMb ?? 0);
  if (growth > HEAP_GROWTH_MB) failures.push(`the heap after GC grew ${growth.toFixed(1)} MB over the requests`);
  return failures;
}

/** The child: loads the bundle, then sends the event file's requests `BENCH_REPEAT` times. Plain JS, so nothing but node and the bundle is in its memory. */
const CHILD = `
const { readFileSync, writeFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
const mb = (bytes) => bytes / 1048576;
const { handler } = require(process.env.BENCH_BUNDLE);
const repeat = Number(process.env.BENCH_REPEAT);
let peakHeap = 0;
let peakExternal = 0;
const sample = () => {
  const usage = process.memoryUsage();
  if (usage.heapUsed > peakHeap) peakHeap = usage.heapUsed;
  if (usage.external > peakExternal) peakExternal = usage.external;
};
sample();
const sampler = setInterval(sample, 1);
const problems = [];
const times = [];
const heapAfterGc = () => { global.gc(); return mb(process.memoryUsage().heapUsed); };
let early;
(async () => {
  for (let i = 0; i < repeat && process.env.BENCH_EVENTS; i++) {
    // The runtime receives the invocation as JSON text and parses it for every call.
    const event = JSON.parse(readFileSync(process.env.BENCH_EVENTS, 'utf8'));
    event.requestContext.requestId = 'memory-' + i;
    const t0 = performance.now();
    const response = await handler(event, { getRemainingTimeInMillis: () => 10000, awsRequestId: 'memory-' + i });
    times.push(performance.now() - t0);
    sample();
    if (response.statusCode !== 200) problems.push('request ' + i + ': ' + response.statusCode + ' ' + String(response.body).slice(0, 200));
    else {
      // Every event accepted, none quarantined (answers that count them say so).
      const answer = JSON.parse(response.body);
      const expected = Number(process.env.BENCH_EXPECTED);
      if ((answer.rejected ?? 0) > 0 || (answer.accepted !== undefined && answer.accepted !== expected)) {
        problems.push('request ' + i + ': accepted ' + answer.accepted + ' of ' + expected + ', ' + JSON.stringify(answer).slice(0, 200));
      }
    }
    if (repeat >= 10 && i === Math.ceil(repeat / 10) - 1) early = heapAfterGc();
  }
  clearInterval(sampler);
  sample();
  times.sort((a, b) => a - b);
  writeFileSync(process.env.BENCH_OUT, JSON.stringify({
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    peakHeapMb: mb(peakHeap),
    peakExternalMb: mb(peakExternal),
    ...(early === undefined ? {} : { heapAfterGcEarlyMb: early, heapAfterGcEndMb: heapAfterGc() }),
    msPerRequest: times.length ? times[Math.floor(times.length / 2)] : 0,
    problems,
  }));
})().catch((error) => { console.error(error); process.exit(1); });
`;

interface Case {
  name: string;
  fn: IngestFunction;
  /** Absent for the idle case: the bundle is loaded and nothing is sent. */
  event?: ReturnType<typeof apiGatewayEvent>;
  requestBytes: number;
  events: number;
  repeat: number;
}

/**
 * `count` site events (bench/fixtures.ts), each passed through `shape`, whose JSON array takes
 * exactly `bytes` bytes: each event gets a `properties.note` string padding it to its share, so the
 * request is as large as the limit allows and every event is still a real one. Throws if the
 * events alone are larger.
 */
export function eventsFilling(
  count: number,
  bytes: number,
  seed: number,
  shape: (event: BenchEvent) => BenchEvent = (e) => e,
): BenchEvent[] {
  const notes: Array<{ note: string }> = [];
  const events = makeEvents(count, seed).map((event) => {
    const shaped = shape(event);
    const properties = { ...(shaped.properties as Record<string, unknown> | undefined), note: '' };
    notes.push(properties);
    return { ...shaped, properties };
  });
  const base = Buffer.byteLength(JSON.stringify(events));
  if (base > bytes) throw new Error(`${count} events take ${base} bytes, over ${bytes}`);
  const share = Math.floor((bytes - base) / count);
  const left = bytes - base - share * count;
  notes.forEach((properties, i) => (properties.note = 'x'.repeat(share + (i < left ? 1 : 0))));
  return events;
}

/** A site event without its context and properties, one id: the events of a /v1/batch of 2,500 within 500 KB are small. */
function bare(event: BenchEvent): BenchEvent {
  const { type, messageId, anonymousId, userId, timestamp } = event;
  const kept: BenchEvent = { type, messageId, timestamp, ...(userId === undefined ? { anonymousId } : { userId }) };
  for (const name of ['event', 'name', 'previousId', 'groupId']) if (event[name] !== undefined) kept[name] = event[name];
  return kept;
}

/** Events in the largest `/v1/batch` by bytes: site events of about 1,100 bytes filling `MAX_BATCH_BYTES`. */
const SITE_EVENT_BYTES = 1100;

function cases(limits: ReturnType<typeof loadConfig>['limits'], sourceId: string, authorization: string, steady: number): Case[] {
  const make = (name: string, routePath: string, body: string, events: number, repeat = 1, headers: Record<string, string> = {}): Case => ({
    name,
    fn: routePath.startsWith('/webhook/') ? 'webhooks' : 'ingest',
    event: apiGatewayEvent({ path: routePath, body, headers: { authorization, ...headers }, requestId: name }),
    requestBytes: Buffer.byteLength(body),
    events,
    repeat,
  });
  const batchEvents = Math.floor(limits.maxBatchBytes / SITE_EVENT_BYTES);
  // JSON.stringify({ batch: [...] }) adds 10 bytes around the array.
  const batchOfBytes = JSON.stringify({ batch: eventsFilling(batchEvents, limits.maxBatchBytes - 10, 2) });
  const batchOfEvents = JSON.stringify({ batch: eventsFilling(limits.maxBatchEvents, limits.maxBatchBytes - 10, 3, bare) });
  const webhook = JSON.stringify(eventsFilling(limits.maxWebhookEvents, limits.maxRequestBytes, 4));
  // One event of the single-event limit; the 2 bytes are the array's brackets.
  const single = JSON.stringify(eventsFilling(1, limits.maxEventBytes - 200 + 2, 5)[0]);
  const gzipped = gzipSync(Buffer.from(webhook));
  const webhookPath = `/webhook/${sourceId}`;
  const gzipCase = make('Webhooks array, largest, gzip', webhookPath, '', limits.maxWebhookEvents, 1, { 'content-encoding': 'gzip' });
  return [
    { name: 'idle after load', fn: 'ingest', requestBytes: 0, events: 0, repeat: 0 },
    make('single event, /v1/track', '/v1/track', single, 1),
    make('/v1/batch, largest by bytes', '/v1/batch', batchOfBytes, batchEvents),
    make('/v1/batch, largest by events', '/v1/batch', batchOfEvents, limits.maxBatchEvents),
    make('Webhooks array, largest', webhookPath, webhook, limits.maxWebhookEvents),
    {
      ...gzipCase,
      event: gzipCase.event && { ...gzipCase.event, body: gzipped.toString('base64'), isBase64Encoded: true },
      requestBytes: gzipped.length,
    },
    make(`/v1/batch largest by bytes, ${steady} in a row`, '/v1/batch', batchOfBytes, batchEvents, steady),
    make(`Webhooks array largest, ${Math.ceil(steady / 4)} in a row`, webhookPath, webhook, limits.maxWebhookEvents, Math.ceil(steady / 4)),
  ];
}

function option(name: string): string | undefined {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function main(): Promise<void> {
  const forced = option('memory');
  const memoryOf = (fn: IngestFunction) => caseMemoryMb(fn, forced === undefined ? undefined : Number(forced));
  const nodeBinary = option('node') ?? process.env.BENCH_NODE ?? process.execPath;
  const steady = Number(option('steady') ?? 200);
  useLocalCredentials();
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const work = mkdtempSync(path.join(os.tmpdir(), 'ingest-memory-'));
  const nodeVersion = spawnSync(nodeBinary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(
    `ingest bundle memory: ${nodeBinary} (${nodeVersion}), function memory: ingest ${memoryOf('ingest')} MB (Lambda flags ${lambdaNodeFlags(memoryOf('ingest')).join(' ')}), ` +
      `webhooks ${memoryOf('webhooks')} MB (${lambdaNodeFlags(memoryOf('webhooks')).join(' ')})`,
  );
  await buildFunction('ingest', path.join(work, 'ingest'));
  const emulators = await startEmulators({ dynamodbPort: await freePort(), sqsPort: 0, dataDir: null });
  const pipeline = await startPipeline({
    stage: 'memory',
    dynamodbEndpoint: emulators.dynamodbEndpoint,
    sqsEndpoint: emulators.sqsEndpoint,
    lake: false,
    port: 0,
    startWorker: false,
  });
  const results: CaseResult[] = [];
  try {
    const sourceId = 'src-memory';
    await pipeline.admin.createSource(sourceId, 'Memory bench');
    const { key } = await pipeline.admin.createKey(sourceId);
    const authorization = `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
    const env = {
      ...pipeline.env,
      PATH: process.env.PATH ?? '',
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'local',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
      FUNCTION_TIMEOUT_SECONDS: '10',
      LOG_LEVEL: 'INFO',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    for (const c of cases(pipeline.config.limits, sourceId, authorization, steady)) {
      const memoryMb = memoryOf(c.fn);
      const eventsFile = path.join(work, 'event.json');
      if (c.event) writeFileSync(eventsFile, JSON.stringify(c.event));
      for (const flags of [[], lambdaNodeFlags(memoryMb)]) {
        const out = path.join(work, 'out.json');
        rmSync(out, { force: true });
        const child = await run(nodeBinary, ['--expose-gc', '--enable-source-maps', ...flags, '-e', CHILD], {
          ...env,
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
          BENCH_BUNDLE: path.join(work, 'ingest', 'index.js'),
          BENCH_EVENTS: c.event ? eventsFile : '',
          BENCH_REPEAT: String(c.repeat),
          BENCH_EXPECTED: String(c.events),
          BENCH_OUT: out,
        });
        const base = {
          name: c.name,
          memoryMb,
          flags: flags.length ? flags.join(' ') : 'v8 defaults',
          lambdaFlags: flags.length > 0,
          requestBytes: c.requestBytes,
          events: c.events,
          requests: c.repeat,
        };
        let measured: Omit<CaseResult, keyof typeof base>;
        try {
          measured = JSON.parse(readFileSync(out, 'utf8')) as typeof measured;
        } catch {
          measured = {
            peakRssMb: 0,
            peakHeapMb: 0,
            peakExternalMb: 0,
            msPerRequest: 0,
            problems: [`the process exited ${child.status}: ${child.stderr.slice(-400)}`],
          };
        }
        const result = { ...base, ...measured };
        results.push(result);
        printRow(result);
      }
    }
  } finally {
    await pipeline.stop();
    await emulators.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const failed = results.filter((r) => caseFailures(r, r.memoryMb).length > 0);
  console.log(
    failed.length
      ? `${failed.length} of ${results.length} cases failed at their function's memory`
      : `all ${results.length} cases passed at their function's memory (largest peak RSS with Lambda's flags: ${Math.max(...results.filter((r) => r.lambdaFlags).map((r) => r.peakRssMb)).toFixed(1)} MB)`,
  );
  if (failed.length) process.exitCode = 1;
}

/**
 * Runs a child without blocking this process: the SQS emulator the child sends to answers from
 * this event loop. The function's log lines go where Lambda's stdout goes; stderr is kept for failures.
 */
function run(command: string, args: string[], env: Record<string, string>): Promise<{ status: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ status: String(code ?? signal), stderr }));
  });
}

let header = false;
function printRow(r: CaseResult): void {
  const columns = [
    'case',
    'memory MB',
    'V8 flags',
    'request bytes',
    'events',
    'requests',
    'peak RSS MB',
    'peak heap MB',
    'peak external MB',
    'heap after GC MB (early -> end)',
    'ms/request',
    'result',
  ];
  if (!header) {
    console.log(`| ${columns.join(' | ')} |`);
    console.log(`|${columns.map(() => '---').join('|')}|`);
    header = true;
  }
  const failures = caseFailures(r, r.memoryMb);
  const gc = r.heapAfterGcEarlyMb === undefined ? '' : `${r.heapAfterGcEarlyMb.toFixed(1)} -> ${(r.heapAfterGcEndMb ?? 0).toFixed(1)}`;
  const row = [
    r.name,
    String(r.memoryMb),
    r.flags,
    r.requestBytes.toLocaleString('en-US'),
    r.events.toLocaleString('en-US'),
    String(r.requests),
    r.peakRssMb.toFixed(1),
    r.peakHeapMb.toFixed(1),
    r.peakExternalMb.toFixed(1),
    gc,
    r.msPerRequest.toFixed(1),
    failures.length ? `FAILED: ${failures.join('; ')}` : 'ok',
  ];
  console.log(`| ${row.join(' | ')} |`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
