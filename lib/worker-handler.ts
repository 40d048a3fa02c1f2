/**
 * Wiring for the worker Lambda: dependencies from the environment once, and the SQS event handed
 * to `lib/worker.ts`, whose answer is the partial batch response.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createClients } from './clients';
import { loadConfig } from './config';
import { createLogger } from './log';
import { createMeter } from './metrics';
import { createWorker, type WorkerDeps } from './worker';

export function loadWorkerDeps(env: Record<string, string | undefined> = process.env): WorkerDeps {
  const config = loadConfig(env);
  const { documents } = createClients(config);
  return { documents, config, log: createLogger(config.serviceName, config.logLevel), meter: createMeter(config.metricsNamespace, config.serviceName) };
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
