/**
 * The deep health check behind `GET /health?deep=1`, for a synthetic canary: can this function
 * still enqueue (the events queue answers) and authenticate (the keys table answers a read)? Each
 * probe has a short timeout, and one result serves every request for a few seconds (concurrent
 * requests share the probe in flight), so the unauthenticated route cannot multiply load on SQS or
 * DynamoDB however often it is called. Plain `/health` calls nothing: it says the function runs.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { awsCall } from '../shared/aws-call';
import { DependencyError, type Service } from '../shared/errors';
import type { Log } from '../shared/log';
import { jsonResponse, type HttpRequest, type HttpResponse } from './http';

/** How long each probe may take before the check reports it unhealthy. */
export const HEALTH_TIMEOUT_MS = 1000;
/** How long one result is served before the probes run again. */
export const HEALTH_CACHE_MS = 5000;
/** Read by the keys probe: not a SHA-256 in hex, so it never names a real key. */
const PROBE_KEY_HASH = 'health-check';

export interface HealthDeps {
  sqs: SQSClient;
  queueUrl: string;
  documents: DynamoDBDocumentClient;
  keysTable: string;
  log: Log;
  timeoutMs?: number;
  cacheMs?: number;
  now?: () => number;
}

export interface ProbeResult {
  ok: boolean;
  ms: number;
  /** Why the probe failed, in our words (the AWS error code goes to the log, not to the caller). */
  problem?: string;
}

export interface HealthReport {
  status: 'ok' | 'unhealthy';
  checks: { queue: ProbeResult; keys: ProbeResult };
  checkedAt: string;
  /** True when this answer is the result of an earlier request's probes. */
  cached: boolean;
}

export type HealthCheck = () => Promise<HealthReport>;

/** Returns the cached deep check; never throws (a failing dependency is a report, not an error). */
export function createHealthCheck(deps: HealthDeps): HealthCheck {
  const now = deps.now ?? Date.now;
  const cacheMs = deps.cacheMs ?? HEALTH_CACHE_MS;
  let latest: { startedAt: number; report: Promise<HealthReport> } | undefined;
  return async () => {
    const started = now();
    if (latest && started - latest.startedAt < cacheMs) return { ...(await latest.report), cached: true };
    const current = { startedAt: started, report: runProbes(deps, now) };
    latest = current;
    return current.report;
  };
}

async function runProbes(deps: HealthDeps, now: () => number): Promise<HealthReport> {
  const timeoutMs = deps.timeoutMs ?? HEALTH_TIMEOUT_MS;
  const probe = async (name: string, service: Service, send: (signal: AbortSignal) => Promise<unknown>): Promise<ProbeResult> => {
    const started = now();
    try {
      // The door's deadline answers on time even when a request ignores its abort signal.
      await awsCall({ service, timeoutMs, abortable: true }, (signal) => send(signal ?? AbortSignal.timeout(timeoutMs)));
      return { ok: true, ms: now() - started };
    } catch (error) {
      const ms = now() - started;
      const problem = describeFailure(error, service, timeoutMs);
      deps.log.warn('health check failed', { check: name, ms, kind: problem.kind, code: problem.code });
      return { ok: false, ms, problem: problem.text };
    }
  };
  const [queue, keys] = await Promise.all([
    probe('queue', 'SQS', (abortSignal) =>
      deps.sqs.send(new GetQueueAttributesCommand({ QueueUrl: deps.queueUrl, AttributeNames: ['QueueArn'] }), { abortSignal }),
    ),
    probe('keys', 'DynamoDB', (abortSignal) =>
      deps.documents.send(
        new GetCommand({ TableName: deps.keysTable, Key: { keyHash: PROBE_KEY_HASH }, ProjectionExpression: 'keyHash' }),
        { abortSignal },
      ),
    ),
  ]);
  return {
    status: queue.ok && keys.ok ? 'ok' : 'unhealthy',
    checks: { queue, keys },
    checkedAt: new Date(now()).toISOString(),
    cached: false,
  };
}

/** What the door reports for a probe that did not answer in time: ours, the SDK's, the abort signal's. */
const TIMEOUTS = new Set(['DeadlineError', 'TimeoutError', 'AbortError']);

function describeFailure(error: unknown, service: Service, timeoutMs: number): { kind: string; code: string; text: string } {
  if (!(error instanceof DependencyError)) {
    return {
      kind: 'unexpected',
      code: error instanceof Error ? error.name : typeof error,
      text: 'an unexpected error in the check itself',
    };
  }
  if (TIMEOUTS.has(error.code)) return { kind: 'timeout', code: error.code, text: `no answer within ${timeoutMs} ms` };
  const failure = error;
  const text =
    failure.kind === 'configuration'
      ? `${service} refused the request: check the function's permissions and the stage's queue and tables`
      : `${service} is unavailable (throttled, failing or unreachable)`;
  return { kind: failure.kind, code: failure.code, text };
}

/** True for `?deep=1` (or any value but `0` and `false`). */
export function wantsDeepCheck(request: HttpRequest): boolean {
  const deep = request.query?.deep;
  return deep !== undefined && deep !== '0' && deep.toLowerCase() !== 'false';
}

/**
 * The answer of `/health`: `{"status":"ok"}` without touching anything, or with `?deep=1` the deep
 * check's report, 200 when every probe passed, else 503 with a `message` naming what failed.
 */
export async function answerHealth(request: HttpRequest, check: HealthCheck | undefined): Promise<HttpResponse> {
  if (!wantsDeepCheck(request)) return jsonResponse(200, { status: 'ok' });
  if (!check) return jsonResponse(503, { status: 'unhealthy', message: 'the deep health check is not configured in this function' });
  const report = await check();
  const headers = { 'cache-control': 'no-store' };
  if (report.status === 'ok') return jsonResponse(200, report, headers);
  const failed = Object.entries(report.checks)
    .filter(([, result]) => !result.ok)
    .map(([name, result]) => `${name}: ${result.problem ?? 'failed'}`);
  return jsonResponse(503, { message: `unhealthy: ${failed.join('; ')}`, ...report }, headers);
}
