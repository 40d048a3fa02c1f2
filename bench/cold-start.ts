/**
 * Cold start: each function bundle's size, and the time a fresh `node` process takes to load it
 * and build its dependencies (the module scope of the handler: config, clients, logger), beside
 * an empty handler and beside a bundle holding only the AWS SDK clients that function uses, all
 * built with the same esbuild settings as `npm run build`.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { bundleOptions, CHUNKS, FUNCTIONS } from '../scripts/build';
import { BENCH_QUEUE_URL } from './fixtures';
import { benchPlan } from './plan';

const root = path.resolve(__dirname, '..');

interface BundleSpec {
  entry?: string;
  contents?: string;
}

const SDK_INGEST = `
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
const sqs = new SQSClient({ region: process.env.AWS_REGION });
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ region: process.env.AWS_REGION }));
export const handler = async () => [sqs, documents].length;
`;

export const BUNDLES: Record<string, BundleSpec> = {
  ingest: { entry: FUNCTIONS.ingest },
  // Both functions use both clients: the worker sends to SQS to continue long erasures.
  'sdk-only (SQS + DynamoDB)': { contents: SDK_INGEST },
  worker: { entry: FUNCTIONS.worker },
  'empty handler': { contents: 'export const handler = async () => ({ statusCode: 200 });' },
};

export interface ColdStart {
  name: string;
  bytes: number;
  /** `require()` of the bundle: parse, evaluate, build dependencies. Median and best of the runs, ms. */
  loadMs: number;
  loadMsBest: number;
  /** From process start until the handler exists, median, ms. */
  readyMs: number;
  /** The same load with `--enable-source-maps` (serverless.yml sets it in NODE_OPTIONS), median, ms. */
  loadMsSourceMaps?: number;
  runs: number;
}

const LOADER = `
const { performance } = require('node:perf_hooks');
const t0 = performance.now();
const handler = require(process.env.BENCH_BUNDLE).handler;
const t1 = performance.now();
if (typeof handler !== 'function') throw new Error('the bundle exports no handler');
process.stdout.write(JSON.stringify({ load: t1 - t0, ready: t1 }));
`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * The first requests of an instance for a source with a tracking plan: loading the Ajv compiler
 * file beside the ingest bundle and compiling the schemas of the event keys they carry (each is
 * compiled when its first event is checked, lib/spec/plan-compiler.ts): one key, and all 50 keys
 * of the bench's plan (bench/plan.ts).
 */
const PLAN_LOADER = `
const { performance } = require('node:perf_hooks');
const t0 = performance.now();
const { compilePlan } = require(process.env.BENCH_BUNDLE);
const plan = JSON.parse(process.env.BENCH_PLAN);
const compiled = compilePlan(plan);
const keys = Object.keys(plan.events).slice(0, Number(process.env.BENCH_PLAN_KEYS));
for (const key of keys) if (compiled.check({ type: 'track', event: key }).broken) throw new Error('a schema did not compile');
const t1 = performance.now();
process.stdout.write(JSON.stringify({ load: t1 - t0, ready: t1 }));
`;
/** Cold-start rows of the plan compiler, with the number of schemas each compiles. */
export const PLAN_COMPILES: Record<string, number> = {
  'ingest plan compiler: loaded, 1 schema compiled': 1,
  'ingest plan compiler: loaded, all 50 schemas compiled': 50,
};

function loadOnce(file: string, sourceMaps: boolean, planKeys?: number): { load: number; ready: number } {
  const loader = planKeys === undefined ? LOADER : PLAN_LOADER;
  const result = spawnSync(process.execPath, [...(sourceMaps ? ['--enable-source-maps'] : []), '-e', loader], {
    env: {
      BENCH_PLAN_KEYS: String(planKeys ?? 0),
      PATH: process.env.PATH,
      BENCH_BUNDLE: file,
      BENCH_PLAN: JSON.stringify(benchPlan()),
      STAGE: 'bench',
      AWS_REGION: 'us-east-1',
      QUEUE_URL: BENCH_QUEUE_URL,
      // Required by the worker since erasure records are keyed (lib/worker/handler.ts).
      ERASURE_HASH_KEY: 'bench-erasure-hash-key-0123456789',
      LOG_LEVEL: 'INFO',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`loading ${file} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as { load: number; ready: number };
}

/** Builds every bundle into `outDir` and loads each `runs` times, interleaved so noise falls on all alike. */
export async function measureColdStarts(outDir: string, runs: number): Promise<ColdStart[]> {
  const files: Record<string, string> = {};
  for (const [name, spec] of Object.entries(BUNDLES)) {
    const outfile = path.join(outDir, name.replace(/[^a-z0-9]+/gi, '-'), 'index.js');
    const options = bundleOptions(outfile);
    await build(
      spec.entry
        ? { ...options, entryPoints: [path.join(root, spec.entry)] }
        : { ...options, stdin: { contents: spec.contents ?? '', resolveDir: root, loader: 'ts', sourcefile: `${name}.ts` } },
    );
    files[name] = outfile;
  }
  // Beside the ingest bundle, as scripts/build.ts puts it in dist/ingest/.
  const chunk = path.join(path.dirname(files.ingest ?? ''), 'plan-compiler.js');
  await build({ ...bundleOptions(chunk), entryPoints: [path.join(root, CHUNKS.ingest['plan-compiler'] ?? '')] });
  for (const name of Object.keys(PLAN_COMPILES)) files[name] = chunk;

  const loads: Record<string, number[]> = {};
  const readies: Record<string, number[]> = {};
  const withMaps: Record<string, number[]> = {};
  for (const [name, file] of Object.entries(files)) loadOnce(file, false, PLAN_COMPILES[name]); // warm the file cache
  for (let run = 0; run < runs; run++) {
    for (const [name, file] of Object.entries(files)) {
      const { load, ready } = loadOnce(file, false, PLAN_COMPILES[name]);
      (loads[name] ??= []).push(load);
      (readies[name] ??= []).push(ready);
      if (name === 'ingest' || name === 'worker') (withMaps[name] ??= []).push(loadOnce(file, true).load);
    }
  }
  return Object.entries(files).map(([name, file]) => ({
    name,
    bytes: statSync(file).size,
    loadMs: median(loads[name] ?? []),
    loadMsBest: Math.min(...(loads[name] ?? [])),
    readyMs: median(readies[name] ?? []),
    ...(withMaps[name] ? { loadMsSourceMaps: median(withMaps[name]) } : {}),
    runs,
  }));
}
