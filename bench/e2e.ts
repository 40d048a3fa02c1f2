/**
 * End to end on the local stack: autocannon against the ingest function served by the local
 * pipeline on the emulators (bench/e2e-server.ts, started here), for single events and batches,
 * beside a bare Node.js HTTP server answering 200 to the same requests. Loopback only, each case
 * bounded in time; the worker drains into DynamoDB Local while the load runs and for a bounded
 * time after it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import autocannon from 'autocannon';
import type { Command, DrainStats } from './e2e-server';
import { SHAPES, type ShapeId } from './shapes';

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  failed: number;
}

export interface EndToEnd {
  shape: ShapeId;
  connections: number;
  seconds: number;
  pipeline: LoadResult;
  bare: LoadResult;
  /** Events the worker stored per second, first batch to last, and whether it caught up in time. */
  drain: DrainStats & { eventsPerSecond: number; accepted: number };
}

function request(child: ChildProcess, command: Command, answer: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: Record<string, unknown>) => {
      if (message.type !== answer) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message);
    };
    const onExit = (code: number | null) => reject(new Error(`the e2e server exited (${String(code)})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(command);
  });
}

async function load(url: string, key: string, shape: ShapeId, connections: number, seconds: number): Promise<LoadResult> {
  const authorization = `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
  const requests = SHAPES[shape].requests(shape === 'single' ? 200 : 10).map((r) => ({
    method: 'POST' as const,
    path: r.path,
    headers: { 'content-type': 'application/json', authorization },
    body: r.body,
  }));
  const result = await autocannon({ url, connections, duration: seconds, pipelining: 1, requests, timeout: 10 });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

export async function measureEndToEnd(options: {
  seconds: number;
  drainTimeoutMs: number;
  log: (line: string) => void;
}): Promise<EndToEnd[]> {
  const child = fork(path.join(__dirname, 'e2e-server.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`the e2e server exited (${String(code)}) before it was ready`)));
    });
    const cases: Array<{ shape: ShapeId; connections: number }> = [
      { shape: 'single', connections: 8 },
      { shape: 'batch', connections: 4 },
    ];
    const results: EndToEnd[] = [];
    for (const [i, { shape, connections }] of cases.entries()) {
      options.log(`e2e: ${shape}, ${connections} connections, ${options.seconds} s`);
      const started = (await request(child, { cmd: 'start', stage: `bench${i}${Date.now() % 100000}` }, 'started')) as {
        url: string;
        key: string;
        bareUrl: string;
      };
      const pipeline = await load(started.url, started.key, shape, connections, options.seconds);
      const accepted = pipeline.ok * SHAPES[shape].eventsPerRequest;
      const drain = (await request(
        child,
        { cmd: 'drain', expected: accepted, timeoutMs: options.drainTimeoutMs },
        'drained',
      )) as unknown as DrainStats;
      await request(child, { cmd: 'stopStage' }, 'stopped');
      const bare = await load(started.bareUrl, started.key, shape, connections, options.seconds);
      results.push({
        shape,
        connections,
        seconds: options.seconds,
        pipeline,
        bare,
        drain: { ...drain, accepted, eventsPerSecond: drain.spanMs > 0 ? (drain.written / drain.spanMs) * 1000 : 0 },
      });
    }
    child.send({ cmd: 'exit' } satisfies Command);
    await new Promise((resolve) => child.once('exit', resolve));
    return results;
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}
