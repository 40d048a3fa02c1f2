/**
 * Wiring for the worker Lambda: its dependencies built from the environment once, and the SQS
 * event handed to `process-batch.ts`, whose answer is the partial batch response.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createDynamoClients, createSqsClient, createWriteClient, type ClientOptions } from '../shared/clients';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadConfig, type Config } from '../shared/config';
import { ConfigError } from '../shared/errors';
import { createLogger, type Log } from '../shared/log';
import { createMeter, type Meter } from '../shared/metrics';
import { createWorker, type WorkerDeps } from './process-batch';
import { createRequeue } from './requeue';
import { createSchemaLearner } from './schemas/learn';

/** `clientOptions` replace the SDK's HTTP layer in the benchmark; Lambda passes none. */
export function loadWorkerDeps(env: Record<string, string | undefined> = process.env, clientOptions: ClientOptions = {}): WorkerDeps {
  const config = loadConfig(env);
  const { documents } = createDynamoClients(config, clientOptions);
  const clients = { documents, sqs: createSqsClient(config, clientOptions), writer: createWriteClient(config, clientOptions) };
  return workerDepsFrom(
    config,
    clients,
    createLogger(config.serviceName, config.logLevel),
    createMeter(config.metricsNamespace, config.serviceName, 'worker'),
  );
}

/** The worker's dependencies from a configuration and clients (the local stack passes its own). */
export function workerDepsFrom(
  config: Config,
  clients: { documents: DynamoDBDocumentClient; sqs: SQSClient; writer: DynamoDBClient },
  log: Log,
  meter: Meter,
): WorkerDeps {
  const problems = [];
  if (!config.erasureHashKey) problems.push('ERASURE_HASH_KEY is required by the worker (the secret erasure records name users with)');
  if (!config.queueUrl) problems.push('QUEUE_URL is required by the worker (to continue long erasures)');
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    documents: clients.documents,
    writer: clients.writer,
    requeue: createRequeue(clients.sqs, config.queueUrl ?? ''),
    schemas: createSchemaLearner({
      documents: clients.documents,
      table: config.tables.schemas,
      log,
      meter,
      cacheBytes: config.schemaCacheMb * 1024 * 1024,
    }),
    config: { ...config, erasureHashKey: config.erasureHashKey ?? '' },
    log,
    meter,
  };
}

export function createWorkerHandler(deps: WorkerDeps) {
  const processBatch = createWorker(deps);
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    const started = Date.now();
    if (context) deps.log.addContext?.(context);
    try {
      const { batchItemFailures } = await processBatch(event, context?.getRemainingTimeInMillis());
      return { batchItemFailures };
    } finally {
      deps.meter.latency(Date.now() - started);
      deps.meter.flush();
    }
  };
}
