/**
 * The server side of the end-to-end bench, in a process of its own so the load generator does not
 * share its event loop: the emulators (DynamoDB Local in memory, the SQS emulator), a pipeline stage
 * per case with the worker counting what it stores, and a bare Node.js HTTP server answering 200.
 * Loopback only; controlled over IPC by bench/e2e.ts, and gone when its parent goes.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { SQSEvent } from 'aws-lambda';
import { startEmulators } from '../local/emulators';
import { freePort } from '../local/ports';
import { startPipeline, type Pipeline } from '../local/pipeline';
import { createWorker } from '../lib/worker/process-batch';
import { startSqsTrigger, type SqsTrigger } from '../local/sqs-trigger';

export type Command =
  | { cmd: 'start'; stage: string }
  | { cmd: 'drain'; expected: number; timeoutMs: number }
  | { cmd: 'stopStage' }
  | { cmd: 'exit' };

export interface DrainStats {
  written: number;
  /** First worker batch start to last batch end, ms. */
  spanMs: number;
  drained: boolean;
}

function send(message: unknown): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const emulators = await startEmulators({ dynamodbPort: await freePort(), sqsPort: 0, dataDir: null });
  const bare: Server = createHttpServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}'));
  });
  bare.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const bareAddress = bare.address();
  const bareUrl = `http://127.0.0.1:${typeof bareAddress === 'object' && bareAddress ? bareAddress.port : 0}`;

  let pipeline: Pipeline | undefined;
  let trigger: SqsTrigger | undefined;
  const stats = { written: 0, first: 0, last: 0 };

  process.on('message', (message: Command) => {
    void (async () => {
      switch (message.cmd) {
        case 'start': {
          pipeline = await startPipeline({
            stage: message.stage,
            dynamodbEndpoint: emulators.dynamodbEndpoint,
            sqsEndpoint: emulators.sqsEndpoint,
            port: 0,
            startWorker: false,
          });
          await pipeline.admin.createSource('bench', 'Benchmark');
          const { key } = await pipeline.admin.createKey('bench');
          const processBatch = createWorker(pipeline.workerDeps);
          Object.assign(stats, { written: 0, first: 0, last: 0 });
          trigger = startSqsTrigger({
            sqs: pipeline.clients.sqs,
            queueUrl: pipeline.queues.queueUrl,
            batchSize: 10,
            windowMs: 100,
            concurrency: 2,
            handler: async (event: SQSEvent, remainingMs: number) => {
              const started = Date.now();
              const result = await processBatch(event, remainingMs);
              stats.written += Object.values(result.stats.events).reduce((a, b) => a + (b ?? 0), 0);
              if (!stats.first) stats.first = started;
              stats.last = Date.now();
              return result;
            },
          });
          send({ type: 'started', url: pipeline.url, key, bareUrl });
          break;
        }
        case 'drain': {
          const deadline = Date.now() + message.timeoutMs;
          while (stats.written < message.expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
          const result: DrainStats = {
            written: stats.written,
            spanMs: stats.last - stats.first,
            drained: stats.written >= message.expected,
          };
          send({ type: 'drained', ...result });
          break;
        }
        case 'stopStage':
          await trigger?.stop();
          await pipeline?.stop();
          trigger = undefined;
          pipeline = undefined;
          send({ type: 'stopped' });
          break;
        case 'exit':
          await trigger?.stop();
          await pipeline?.stop();
          bare.closeAllConnections();
          bare.close();
          await emulators.stop();
          process.exit(0);
      }
    })().catch((error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    });
  });
  process.on('disconnect', () => {
    void emulators.stop().finally(() => process.exit(0));
  });
  send({ type: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
