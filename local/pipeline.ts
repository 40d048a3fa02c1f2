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
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { lakeBucketName } from '../infra';
import { createLakeHandler, loadLakeDeps, type LakeDeps } from '../lib/lake/handler';
import { EVENT_TYPES } from '../lib/spec/event-types';
import { startStreamTrigger, type StreamTrigger } from './stream-trigger';
import { startApiServer, type ApiServer } from './api-server';
import { provisionLakeBucket, provisionQueues, provisionTables, type StageQueues } from './provision';
import { startSqsTrigger, type SqsTrigger, type SqsTriggerOptions } from './sqs-trigger';

export interface PipelineOptions {
  stage: string;
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  /** The S3 emulator; with it (and `lake` not false) the stage has a lake fed by its tables' streams. */
  s3Endpoint?: string;
  /** The lake (stage parameter `lake`, on by default); needs `s3Endpoint`. */
  lake?: boolean;
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
  /** The lake's function dependencies and its stream trigger, when the stage has a lake. */
  lake: { deps: LakeDeps; trigger: StreamTrigger } | undefined;
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
  const lakeOn = options.lake !== false && options.s3Endpoint !== undefined;
  if (lakeOn) Object.assign(env, { S3_ENDPOINT: options.s3Endpoint ?? '', LAKE_BUCKET: lakeBucketName(options.stage) });
  for (const [name, value] of Object.entries(options.env ?? {})) if (value !== undefined) env[name] = value;

  const bootstrap = loadConfig(env);
  const clients = createClients(bootstrap);
  await provisionTables(clients.dynamodb, options.stage, { streams: lakeOn });
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

  const lake = lakeOn ? await startLake(env, config, clients.dynamodb, log) : undefined;

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
    lake,
    env,
    async stop() {
      await trigger?.stop();
      await lake?.trigger.stop();
      lake?.deps.s3.destroy();
      await api.close();
      clients.sqs.destroy();
      clients.dynamodb.destroy();
      writer.destroy();
    },
  };
}

/** The lake as Lambda runs it: its bucket, its dependencies from the stage's environment, its stream trigger. */
async function startLake(
  env: Record<string, string>,
  config: Config,
  dynamodb: DynamoDBClient,
  log: Log,
): Promise<{ deps: LakeDeps; trigger: StreamTrigger }> {
  const deps: LakeDeps = { ...loadLakeDeps(env), log, meter: noMeter };
  await provisionLakeBucket(deps.s3, deps.bucket);
  const streams = new DynamoDBStreamsClient({ region: config.region, endpoint: config.dynamodbEndpoint });
  const handler = createLakeHandler(deps);
  const trigger = startStreamTrigger({ dynamodb, streams, tables: EVENT_TYPES.map((type) => config.tables[type]), handler });
  return {
    deps,
    trigger: {
      idle: trigger.idle,
      async stop() {
        await trigger.stop();
        streams.destroy();
      },
    },
  };
}
