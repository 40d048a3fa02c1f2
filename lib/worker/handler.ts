/**
 * Wiring for the worker Lambda: its dependencies built from the environment once, and the SQS
 * event handed to `process-batch.ts`, whose answer is the partial batch response.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createDynamoClients, createWriteClient, type ClientOptions } from '../shared/clients';
import { loadConfig } from '../shared/config';
import { createLogger } from '../shared/log';
import { createMeter } from '../shared/metrics';
import { createWorker, type WorkerDeps } from './process-batch';

/** `clientOptions` replace the SDK's HTTP layer in the benchmark; Lambda passes none. */
export function loadWorkerDeps(env: Record<string, string | undefined> = process.env, clientOptions: ClientOptions = {}): WorkerDeps {
  const config = loadConfig(env);
  const { documents } = createDynamoClients(config, clientOptions);
  return {
    documents,
    writer: createWriteClient(config, clientOptions),
    config,
    log: createLogger(config.serviceName, config.logLevel),
    meter: createMeter(config.metricsNamespace, config.serviceName, 'worker'),
  };
}

export function createWorkerHandler(deps: WorkerDeps) {
  const processBatch = createWorker(deps);
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    const started = Date.now();
    try {
      const { batchItemFailures } = await processBatch(event, context?.getRemainingTimeInMillis());
      return { batchItemFailures };
    } finally {
      deps.meter.latency(Date.now() - started);
      deps.meter.flush();
    }
  };
}
