/**
 * Wiring for the ingest Lambda: its dependencies built from the environment once, and API Gateway
 * events adapted to the route table (`routes.ts`), every answer with its CORS headers (`cors.ts`).
 * Tests call `createIngestHandler` with their own dependencies.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createClients, type ClientOptions, type Clients } from '../shared/clients';
import { ANSWER_MARGIN_MS, loadConfig, type Config } from '../shared/config';
import { ConfigError, DependencyError, isAwsError } from '../shared/errors';
import { describeError } from '../shared/unexpected';
import { createLogger, type Log } from '../shared/log';
import { createMeter, noMeter, type Meter } from '../shared/metrics';
import type { IngestDeps } from './accept';
import { createAuthenticator } from './auth';
import { withCorsHeaders } from './cors';
import { createEnqueuer } from './enqueue';
import { createHealthCheck } from './health';
import { createPlanLoader } from './plan-checks';
import { createPrivacyLoader } from './privacy';
import { QueueUnavailableError, ServiceError } from './http-errors';
import { errorResponse, requestFromApiGateway, type HttpRequest, type HttpResponse } from './http';
import { createRateLimiter } from './rate-limit';
import { createIngest } from './routes';

/** `clientOptions` replace the SDK's HTTP layer in the benchmark; Lambda passes none. */
export function loadIngestDeps(env: Record<string, string | undefined> = process.env, clientOptions: ClientOptions = {}): IngestDeps {
  const config = loadConfig(env);
  if (!config.queueUrl) throw new ConfigError(['QUEUE_URL is required by the ingest function']);
  const clients = createClients(config, { sqsRequestTimeoutMs: config.enqueueBudgetMs, ...clientOptions });
  return ingestDepsFrom(
    config,
    clients,
    createLogger(config.serviceName, config.logLevel),
    createMeter(config.metricsNamespace, config.serviceName, 'ingest'),
  );
}

export function ingestDepsFrom(config: Config, clients: Clients, log: Log, meter: Meter = noMeter): IngestDeps {
  return {
    config,
    log,
    meter,
    rateLimiter: createRateLimiter(),
    plans: createPlanLoader(log),
    privacy: createPrivacyLoader(log, config.privacyHashKeys),
    auth: createAuthenticator({
      documents: clients.documents,
      tables: config.tables,
      cacheSeconds: config.keyCacheSeconds,
      lookupTimeoutMs: config.lookupTimeoutMs,
    }),
    enqueue: createEnqueuer({
      sqs: clients.sqs,
      queueUrl: config.queueUrl ?? '',
      messageBytes: config.queueMessageBytes,
      budgetMs: config.enqueueBudgetMs,
    }),
    health: createHealthCheck({
      sqs: clients.sqs,
      queueUrl: config.queueUrl ?? '',
      documents: clients.documents,
      keysTable: config.tables.keys,
      log,
    }),
  };
}

/**
 * `receivedAt` is the clock stamped on records as their receive time (tests and the bench fix it);
 * deadlines and latency always run on the real clock, which the SDK's timeouts use too.
 */
export function createIngestHandler(deps: IngestDeps, receivedAt: () => number = Date.now) {
  const ingest = createIngest(deps);
  return async (event: APIGatewayProxyEventV2, context?: Context): Promise<HttpResponse> => {
    const started = Date.now();
    if (context) deps.log.addContext?.(context);
    // Segment waits about 5 s; the invocation may have less left than the budget: the earlier wins,
    // with a margin to answer 503 ourselves before Lambda cuts the function off.
    const remaining = context ? context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS : Infinity;
    const request = requestFromApiGateway(event, receivedAt(), started + Math.max(0, Math.min(deps.config.requestBudgetMs, remaining)));
    try {
      return withCorsHeaders(request, await ingest(request));
    } catch (error) {
      const response = errorResponse(error);
      logFailure(deps, request, error, response.statusCode);
      return withCorsHeaders(request, response);
    } finally {
      deps.meter.latency(Date.now() - started);
      deps.meter.flush();
    }
  };
}

/** One log line per refused or failed request: its category and error names, never its message (it may quote the body). */
function logFailure(deps: IngestDeps, request: HttpRequest, error: unknown, status: number): void {
  if (error instanceof QueueUnavailableError) {
    deps.meter.count('EnqueueFailures', 1);
    deps.log.error('queue did not take the events', { requestId: request.requestId, status, error: describe(error) });
  } else if (status >= 500) {
    if (error instanceof DependencyError && error.kind === 'configuration') deps.meter.count('DependencyErrors', 1, ['kind', error.kind]);
    // A bug (no AWS call threw it): counted for its own alarm, its stack on the same line.
    const unexpected = !isAwsError(error) && !(error instanceof ServiceError);
    if (unexpected) deps.meter.count('UnexpectedErrors', 1);
    deps.log.error('request failed; answered 503, nothing was accepted', {
      requestId: request.requestId,
      status,
      error: describe(error),
      ...(unexpected && { unexpected: true, stack: describeError(error).stack }),
    });
  } else {
    const reason = error instanceof ServiceError ? error.reason : undefined;
    deps.log.info('request refused', { requestId: request.requestId, status, reason: reason ?? 'other' });
  }
}

/** An error's name and its cause's name: enough to find the problem, never a payload. */
function describe(error: unknown): Record<string, unknown> {
  if (error instanceof DependencyError) return { name: error.name, kind: error.kind, service: error.service, code: error.code };
  if (error instanceof Error) return { name: error.name, cause: error.cause instanceof Error ? error.cause.name : undefined };
  return { name: typeof error };
}
