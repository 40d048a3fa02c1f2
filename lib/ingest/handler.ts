/**
 * Wiring for the ingest Lambda: build its dependencies from the environment once, and adapt API
 * Gateway events to `lib/ingest/accept.ts`. Tests call `createIngestHandler` with their own dependencies.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createAuthenticator } from './auth';
import { createClients, type ClientOptions } from '../shared/clients';
import { loadConfig, type Config } from '../shared/config';
import { ConfigError, QueueUnavailableError } from './http-errors';
import { errorResponse, requestFromApiGateway, type HttpResponse } from './http';
import { directRoutes } from './direct';
import { createIngest, type IngestDeps } from './accept';
import { createLogger, type Log } from '../shared/log';
import { createMeter, noMeter, reasonCategory, type Meter } from '../shared/metrics';
import { createEnqueuer } from './enqueue';
import { createRateLimiter } from './rate-limit';
import { webhookRoutes } from './webhook';

/** `clientOptions` replace the SDK's HTTP layer in the benchmark; Lambda passes none. */
export function loadIngestDeps(env: Record<string, string | undefined> = process.env, clientOptions: ClientOptions = {}): IngestDeps {
  const config = loadConfig(env);
  if (!config.queueUrl) throw new ConfigError(['QUEUE_URL is required by the ingest function']);
  const clients = createClients(config, { sqsRequestTimeoutMs: config.enqueueBudgetMs, ...clientOptions });
  return ingestDepsFrom(config, clients, createLogger(config.serviceName, config.logLevel), createMeter(config.metricsNamespace, config.serviceName));
}

export function ingestDepsFrom(config: Config, clients: ReturnType<typeof createClients>, log: Log, meter: Meter = noMeter): IngestDeps {
  return {
    config,
    log,
    meter,
    rateLimiter: createRateLimiter(),
    auth: createAuthenticator({ documents: clients.documents, tables: config.tables, cacheSeconds: config.keyCacheSeconds }),
    enqueue: createEnqueuer({ sqs: clients.sqs, queueUrl: config.queueUrl ?? '', messageBytes: config.queueMessageBytes, budgetMs: config.enqueueBudgetMs }),
  };
}

export function createIngestHandler(deps: IngestDeps, now: () => number = Date.now) {
  const ingest = createIngest(deps, [...directRoutes(deps), ...webhookRoutes(deps)]);
  return async (event: APIGatewayProxyEventV2, _context?: Context): Promise<HttpResponse> => {
    const request = requestFromApiGateway(event, now());
    try {
      return await ingest(request);
    } catch (error) {
      const response = errorResponse(error);
      if (error instanceof QueueUnavailableError) {
        deps.meter.count('EnqueueFailures', 1);
        deps.log.error('queue did not take the events', { requestId: request.requestId, status: response.statusCode, error: describe(error) });
      } else if (response.statusCode >= 500) {
        deps.log.error('request failed', { requestId: request.requestId, status: response.statusCode, error: describe(error) });
      } else {
        // The message itself may quote the body (a JSON parse error can); log only its category.
        deps.log.info('request refused', { requestId: request.requestId, status: response.statusCode, reason: reasonCategory((error as Error).message) });
      }
      return response;
    } finally {
      deps.meter.latency(now() - request.receivedAtMs);
      deps.meter.flush();
    }
  };
}

/** An error's name and its cause's name: enough to find the problem, never a payload. */
function describe(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { name: error.name, cause: error.cause instanceof Error ? error.cause.name : undefined };
  return { name: typeof error };
}
