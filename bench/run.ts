/**
 * `npm run bench` (and `npm run bench:quick`): speed, cold start and AWS cost per million events of
 * every traffic shape, printed as one report and written under .bench/ (git-ignored) as JSON and
 * Markdown, and (a full run only) as docs/performance.md, the one page that holds the figures.
 * Options: --quick (shorter rounds, the smaller site day), --only=ingest,worker,siteday,cold,e2e,lake.
 *
 * Numbers depend on the machine and on what else runs on it: the report starts with the load
 * average at start and end; compare runs taken at similar load.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { measureColdStarts } from './cold-start';
import { shapeCost, siteDayCost } from './cost';
import { measureEndToEnd } from './e2e';
import { measureLakeCost } from './lake-cost';
import type { IngestMeasurement, WorkerMeasurement } from './in-process';
import type { NaiveMeasurement } from './naive';
import { writePerformancePage } from './performance-page';
import { renderReport, type BenchResult } from './report';
import type { PrivacyRatio } from './privacy-ratio';
import { DEPLOYMENT } from './prices';
import { SHAPES, type ShapeId } from './shapes';
import { SITE_DAY, SITE_DAY_QUICK } from './site-day';
import type { SiteDayMeasurement } from './site-day-pass';

const root = path.resolve(__dirname, '..');
const outDir = path.join(root, '.bench');

type Section = 'ingest' | 'worker' | 'siteday' | 'cold' | 'e2e' | 'lake';
const SECTIONS: Section[] = ['ingest', 'worker', 'siteday', 'cold', 'e2e', 'lake'];

/** A trigger batch size to compare with the deployed one, for single events. */
const LARGE_BATCH = 100;

function parseArgs(argv: string[]) {
  const quick = argv.includes('--quick');
  const only = argv
    .find((a) => a.startsWith('--only='))
    ?.slice(7)
    .split(',') as Section[] | undefined;
  return {
    quick,
    sections: new Set<Section>(only ?? SECTIONS),
    rounds: quick ? 3 : 5,
    roundMs: quick ? 500 : 1200,
    coldStartRuns: quick ? 5 : 15,
    e2eSeconds: quick ? 2 : 4,
    lakeEvents: quick ? 5000 : 20_000,
  };
}

/** `extra`: the worker's batch size when not the deployed one, the ingest's tracking plan, the worker's schema learning or profiles off. */
function runChild<T>(
  task: 'ingest' | 'worker' | 'naive' | 'siteday' | 'privacy',
  shape: ShapeId | string,
  rounds: number,
  roundMs: number,
  extra: { batchSize?: number; plan?: boolean; privacy?: boolean; learn?: boolean; profiles?: boolean; quick?: boolean } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'child.ts'), [JSON.stringify({ task, shape, rounds, roundMs, ...extra })], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let result: T | undefined;
    child.on('message', (message) => {
      result = message as T;
    });
    child.on('exit', (code) =>
      result !== undefined ? resolve(result) : reject(new Error(`${task} ${shape}: the measuring process exited (${String(code)})`)),
    );
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const result: BenchResult = {
    startedAt: new Date(started).toISOString(),
    command: `npm run bench${args.quick ? ':quick' : ''}`,
    machine: {
      node: process.versions.node,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      loadAtStart: os.loadavg(),
      loadAtEnd: [],
    },
    settings: {
      rounds: args.rounds,
      roundMs: args.roundMs,
      coldStartRuns: args.coldStartRuns,
      e2eSeconds: args.e2eSeconds,
      memoryMb: { ingest: DEPLOYMENT.ingestMemoryMb, webhooks: DEPLOYMENT.webhooksMemoryMb, worker: DEPLOYMENT.workerMemoryMb },
    },
    shapes: {},
    seconds: 0,
  };
  log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} on ${os.cpus().length} cores`,
  );

  for (const id of Object.keys(SHAPES) as ShapeId[]) {
    const shape: BenchResult['shapes'][ShapeId] = {};
    if (args.sections.has('ingest')) {
      log(`ingest, in process: ${SHAPES[id].label}`);
      shape.ingest = await runChild<IngestMeasurement>('ingest', id, args.rounds, args.roundMs);
      log(`ingest, in process: ${SHAPES[id].label}, 50-event tracking plan on`);
      shape.ingestWithPlan = await runChild<IngestMeasurement>('ingest', id, args.rounds, args.roundMs, { plan: true });
      log(`ingest, in process: ${SHAPES[id].label}, ten-rule privacy policy off and on in alternating rounds`);
      shape.privacyRatio = await runChild<PrivacyRatio>('privacy', id, Math.max(args.rounds, 5), args.roundMs);
    }
    if (args.sections.has('worker')) {
      log(`worker, in process: ${SHAPES[id].label}`);
      shape.worker = await runChild<WorkerMeasurement>('worker', id, args.rounds, args.roundMs);
      log(`worker, in process: ${SHAPES[id].label}, schema learning off`);
      shape.workerWithoutSchemas = await runChild<WorkerMeasurement>('worker', id, args.rounds, args.roundMs, { learn: false });
      log(`worker, in process: ${SHAPES[id].label}, profiles off`);
      shape.workerWithoutProfiles = await runChild<WorkerMeasurement>('worker', id, args.rounds, args.roundMs, { profiles: false });
      if (id === 'single') {
        // Single events make one-event messages: how much a larger trigger batch would help.
        log(`worker, in process: ${SHAPES[id].label}, ${LARGE_BATCH} messages per invocation`);
        shape.workerLargeBatch = await runChild<WorkerMeasurement>('worker', id, args.rounds, args.roundMs, { batchSize: LARGE_BATCH });
      }
    }
    if (args.sections.has('ingest') && args.sections.has('worker')) {
      log(`naive design, in process: ${SHAPES[id].label}`);
      shape.naive = await runChild<NaiveMeasurement>('naive', id, args.rounds, args.roundMs);
    }
    if (shape.ingest && shape.worker) shape.cost = shapeCost(shape.ingest, shape.worker, shape.naive);
    result.shapes[id] = shape;
  }
  if (args.sections.has('siteday')) await siteDay(result, args.quick, log);
  if (args.sections.has('cold')) {
    log('cold start');
    result.coldStart = await measureColdStarts(path.join(outDir, 'bundles'), args.coldStartRuns);
  }
  if (args.sections.has('e2e')) {
    result.endToEnd = await measureEndToEnd({ seconds: args.e2eSeconds, drainTimeoutMs: args.quick ? 8000 : 15000, log });
  }

  if (args.sections.has('lake')) {
    log(`lake: ${args.lakeEvents.toLocaleString('en-US')} events through the lake function, in process`);
    result.lake = await measureLakeCost(args.lakeEvents);
  }

  result.machine.loadAtEnd = os.loadavg();
  result.seconds = (Date.now() - started) / 1000;
  const report = renderReport(result);
  mkdirSync(outDir, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, '-');
  writeFileSync(path.join(outDir, `bench-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(outDir, 'latest.md'), `${report}\n`);
  // Only a full run is published: --quick and --only rounds are too short, or leave sections out.
  const full = !args.quick && args.sections.size === SECTIONS.length;
  if (full) writePerformancePage(result);
  const written = `.bench/latest.json, .bench/latest.md${full ? ', docs/performance.md' : ''} and .bench/bench-${stamp}.json`;
  process.stdout.write(`${report}\n\nWritten to ${written}\n`);
}

/**
 * The site-day pass (bench/site-day-pass.ts) for every shape, in one child with its own DynamoDB
 * Local; each shape's cost on it when the shape's ingest and worker were measured in this run.
 */
async function siteDay(result: BenchResult, quick: boolean, log: (line: string) => void): Promise<void> {
  const model = quick ? SITE_DAY_QUICK : SITE_DAY;
  result.siteDayModel = model;
  const ids = Object.keys(SHAPES) as ShapeId[];
  log(`site day: ${model.visitors} visitors at ${model.ratePerSecond} events/s, every shape, profiles on DynamoDB Local`);
  const measured = await runChild<Partial<Record<ShapeId, SiteDayMeasurement>>>('siteday', ids.join(','), 0, 0, { quick });
  for (const id of ids) {
    const day = measured[id];
    if (!day) continue;
    const shape = (result.shapes[id] ??= {});
    const cost = shape.ingest && shape.worker ? siteDayCost(shape.ingest, shape.worker, day) : undefined;
    shape.siteDay = { ...day, ...(cost ? { costRatio: cost.ours.dollars.total / cost.floor.dollars.total, cost } : {}) };
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
