/**
 * The whole pipeline on the emulators: a stage's resources provisioned from infra/, the ingest
 * handler served over HTTP, and the worker driven by an SQS trigger. `npm start` and the
 * integration tests both build on this, so what the tests exercise is what a developer runs.
 */
import { randomBytes } from 'node:crypto';
import { createClients, createWriteClient, type Clients } from '../lib/shared/clients';
import { loadConfig, type Config } from '../lib/shared/config';
import { createIngestHandler, ingestDepsFrom } from '../lib/ingest/handler';
import type { IngestDeps } from '../lib/ingest/accept';
import { silentLog, type Log } from '../lib/shared/log';
import { noMeter } from '../lib/shared/metrics';
import { createSourceAdmin, type SourceAdmin } from '../lib/admin/sources';
import { workerDepsFrom } from '../lib/worker/handler';
import { createWorker, type WorkerDeps } from '../lib/worker/process-batch';
import { startApiServer, type ApiServer } from './api-server';
import { provisionQueues, provisionTables, type StageQueues } from './provision';
import { startSqsTrigger, type SqsTrigger, type SqsTriggerOptions } from './sqs-trigger';

export interface PipelineOptions {
  stage: string;
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  /** HTTP port; 0 picks a free one. */
  port: number;
  /** Further environment for the functions (limits, budgets); the same names as in Lambda. */
  env?: Record<string, string | undefined>;
  visibilityTimeoutSeconds?: number;
  maxReceiveCount?: number;
  trigger?: Partial<Pick<SqsTriggerOptions, 'batchSize' | 'windowMs' | 'concurrency' | 'onBatch'>>;
  /** Start the SQS trigger (default true); tests of the worker alone turn it off. */
  startWorker?: boolean;
  log?: Log;
  onResponse?: (line: string) => void;
  /**
   * Runs once the tables and queues exist and before the endpoint listens, so the first answer of
   * `/health` means what it provisions (the local stack's source, key and secret) exists too.
   */
  prepare?: (admin: SourceAdmin) => Promise<void>;
}

export interface Pipeline {
  config: Config;
  clients: Clients;
  queues: StageQueues;
  url: string;
  admin: SourceAdmin;
  ingestDeps: IngestDeps;
  workerDeps: WorkerDeps;
  api: ApiServer;
  trigger: SqsTrigger | undefined;
  /** The environment a Lambda of this stage would see. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const env: Record<string, string> = {
    STAGE: options.stage,
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    DYNAMODB_ENDPOINT: options.dynamodbEndpoint,
    SQS_ENDPOINT: options.sqsEndpoint,
    // A stage's own secret for the erasure records; `npm start` passes the one it keeps in .data/.
    ERASURE_HASH_KEY: randomBytes(32).toString('hex'),
    // And the one privacy policies hash with (lib/shared/privacy-hash.ts).
    PRIVACY_HASH_KEY: `1:${randomBytes(32).toString('hex')}`,
  };
  for (const [name, value] of Object.entries(options.env ?? {})) if (value !== undefined) env[name] = value;

  const bootstrap = loadConfig(env);
  const clients = createClients(bootstrap);
  await provisionTables(clients.dynamodb, options.stage);
  const queues = await provisionQueues(clients.sqs, options.stage, {
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    maxReceiveCount: options.maxReceiveCount,
  });
  env.QUEUE_URL = queues.queueUrl;
  const config = loadConfig(env);
  const log = options.log ?? silentLog;

  const admin = createSourceAdmin({ documents: clients.documents, tables: config.tables });
  await options.prepare?.(admin);
  const ingestDeps = ingestDepsFrom(config, clients, log);
  const api = await startApiServer(createIngestHandler(ingestDeps), options.port, options.onResponse);
  // Wired as lib/worker/handler.ts wires it in Lambda, so the tests exercise the same write path.
  const writer = createWriteClient(config);
  const workerDeps: WorkerDeps = workerDepsFrom(config, { ...clients, writer }, log, noMeter);
  const processBatch = createWorker(workerDeps);
  const trigger =
    options.startWorker === false
      ? undefined
      : startSqsTrigger({
          sqs: clients.sqs,
          queueUrl: queues.queueUrl,
          handler: (event, remainingMs) => processBatch(event, remainingMs),
          batchSize: options.trigger?.batchSize ?? 10,
          windowMs: options.trigger?.windowMs ?? 100,
          concurrency: options.trigger?.concurrency ?? 2,
          onBatch: options.trigger?.onBatch,
        });

  return {
    config,
    clients,
    queues,
    url: api.url,
    admin,
    ingestDeps,
    workerDeps,
    api,
    trigger,
    env,
    async stop() {
      await trigger?.stop();
      await api.close();
      clients.sqs.destroy();
      clients.dynamodb.destroy();
      writer.destroy();
    },
  };
}
