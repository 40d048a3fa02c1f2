/**
 * Wiring for the ingest Lambda: build its dependencies from the environment once, and adapt API
 * Gateway events to `lib/ingest.ts`. Tests call `createIngestHandler` with their own dependencies.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createAuthenticator } from './auth';
import { createClients, type ClientOptions } from './clients';
import { loadConfig, type Config } from './config';
import { ConfigError } from './errors';
import { errorResponse, requestFromApiGateway, type HttpResponse } from './http';
import { createIngest, type IngestDeps } from './ingest';
import { createLogger, type Log } from './log';
import { createEnqueuer } from './queue';

/** `clientOptions` replace the SDK's HTTP layer in the benchmark; Lambda passes none. */
export function loadIngestDeps(env: Record<string, string | undefined> = process.env, clientOptions: ClientOptions = {}): IngestDeps {
  const config = loadConfig(env);
  if (!config.queueUrl) throw new ConfigError(['QUEUE_URL is required by the ingest function']);
  const clients = createClients(config, { sqsRequestTimeoutMs: config.enqueueBudgetMs, ...clientOptions });
  return ingestDepsFrom(config, clients, createLogger('segment-ingest', config.logLevel));
}

export function ingestDepsFrom(config: Config, clients: ReturnType<typeof createClients>, log: Log): IngestDeps {
  return {
    config,
    log,
    auth: createAuthenticator({ documents: clients.documents, tables: config.tables, cacheSeconds: config.keyCacheSeconds }),
    enqueue: createEnqueuer({ sqs: clients.sqs, queueUrl: config.queueUrl ?? '', messageBytes: config.queueMessageBytes, budgetMs: config.enqueueBudgetMs }),
  };
}

export function createIngestHandler(deps: IngestDeps, now: () => number = Date.now) {
  const ingest = createIngest(deps);
  return async (event: APIGatewayProxyEventV2, _context?: Context): Promise<HttpResponse> => {
    const request = requestFromApiGateway(event, now());
    try {
      return await ingest(request);
    } catch (error) {
      const response = errorResponse(error);
      if (response.statusCode >= 500) {
        deps.log.error('request failed', { requestId: request.requestId, status: response.statusCode, error: describe(error) });
      } else {
        deps.log.info('request refused', { requestId: request.requestId, status: response.statusCode, reason: (error as Error).message });
      }
      return response;
    }
  };
}

/** An error's name and message, without the cause chain's payloads. */
function describe(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { name: error.name, message: error.message, cause: error.cause instanceof Error ? error.cause.name : undefined };
  return { name: typeof error };
}
