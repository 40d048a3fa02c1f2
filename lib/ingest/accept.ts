/**
 * What the ingest function does with a request: read it within the limits, find out who sent it,
 * check each event against the Segment Spec, and put the accepted events and the quarantined ones
 * into the queue. It answers 200 only after SQS has taken every record.
 */
import { EVENT_TYPES, type EventType } from '../../infra';
import type { Authenticator, Principal } from './auth';
import { credentialsFromHeader } from './auth';
import type { Config } from '../shared/config';
import { BadRequestError, NotFoundError, PayloadTooLargeError, UnauthorizedError } from './http-errors';
import { jsonResponse, parseJson, readBody, type HttpRequest, type HttpResponse, type JsonParse } from './http';
import type { Log } from '../shared/log';
import { reasonCategory, type Meter } from '../shared/metrics';
import type { Enqueue } from './enqueue';
import type { RateLimiter } from './rate-limit';
import { RAW_TEXT_LIMIT, serializeEventRecord, serializeRecord, type RejectedRecord, type SerializedRecord } from '../message/format';
import { createRouter, type Route } from './router';
import { describeJsonType, normalizeEvent } from '../spec/normalize';
import type { SpecType } from '../spec/schemas';

export interface IngestDeps {
  config: Pick<Config, 'limits'>;
  auth: Authenticator;
  enqueue: Enqueue;
  log: Log;
  meter: Meter;
  rateLimiter: RateLimiter;
}

export interface EventItemError {
  index: number;
  messageId?: string;
  message: string;
}

export interface IngestAnswer {
  success: boolean;
  accepted: number;
  rejected: number;
  errors: EventItemError[];
  /** Problems with the request that did not stop its events (e.g. unreadable `X-Segment-Settings`). */
  warnings?: string[];
}

/** The context of one request's events, carried into every record it produces. */
export interface Delivery {
  request: HttpRequest;
  principal: Principal;
  /** Route name stored with quarantined records, e.g. `/v1/batch`. */
  route: string;
}

export interface AcceptOptions {
  /** One event per request: an invalid one answers 400 instead of 200 with errors. */
  single: boolean;
  routeType?: SpecType;
  allowedTypes: readonly SpecType[];
  defaults?: { context?: unknown; integrations?: unknown };
  /** Added to the answer, so the sender sees them (Segment shows answers in its debugger). */
  warnings?: readonly string[];
}

/**
 * Validates `items`, enqueues the valid events and the quarantine records of the invalid ones
 * together, and builds the answer. Throws `QueueUnavailableError` (503) when SQS does not take them.
 */
export async function acceptEvents(deps: IngestDeps, delivery: Delivery, items: readonly unknown[], options: AcceptOptions): Promise<HttpResponse> {
  const { request, principal } = delivery;
  // The source is cached by the authenticator, so this costs no read on a warm instance.
  const source = await deps.auth.getSource(principal.sourceId);
  deps.rateLimiter.admit(principal.sourceId, source?.rateLimitPerSecond, items.length);
  const meta = { sourceId: principal.sourceId, receivedAt: new Date(request.receivedAtMs).toISOString(), requestId: request.requestId };
  const records: SerializedRecord[] = [];
  const errors: EventItemError[] = [];

  items.forEach((item, index) => {
    const verdict = normalizeEvent(item, {
      routeType: options.routeType,
      allowedTypes: options.allowedTypes,
      defaults: options.defaults,
      receivedAtMs: request.receivedAtMs,
      maxEventBytes: deps.config.limits.maxEventBytes,
    });
    if (verdict.ok) {
      records.push(serializeEventRecord(meta, verdict.json));
      return;
    }
    errors.push({ index, messageId: verdict.messageId, message: verdict.reasons.join('; ') });
    records.push(serializeRecord(rejectedRecord(delivery, safeStringify(item), verdict.reasons, options.single ? undefined : index, verdict.messageId)));
  });

  const result = await deps.enqueue(records);
  const accepted = items.length - errors.length;
  const rejectedReasons = errors.map((e) => reasonCategory(e.message));
  deps.meter.count('EventsAccepted', accepted);
  deps.meter.count('EnqueueRetries', result.retries);
  rejectedReasons.forEach((reason) => deps.meter.count('EventsRejected', 1, ['reason', reason]));
  // A clean request is only counted (metrics) unless DEBUG is on: at INFO, a line per request would
  // cost more in CloudWatch Logs than the rest of a single event's path beside SQS.
  const logLine = errors.length > 0 ? deps.log.info : deps.log.debug;
  logLine.call(deps.log, 'events enqueued', {
    requestId: request.requestId,
    sourceId: principal.sourceId,
    route: delivery.route,
    accepted,
    rejected: errors.length,
    messages: result.messages,
    enqueueRetries: result.retries,
    rejectedReasons: [...new Set(rejectedReasons)],
  });

  const answer: IngestAnswer = { success: accepted > 0, accepted, rejected: errors.length, errors };
  if (options.warnings && options.warnings.length > 0) answer.warnings = [...options.warnings];
  if (accepted > 0) return jsonResponse(200, answer);
  const message = options.single
    ? `invalid ${options.routeType ?? 'event'}: ${errors[0]?.message ?? 'invalid event'}`
    : `every event in the batch is invalid (${errors.length} of ${items.length}); see errors`;
  return jsonResponse(400, { message, ...answer });
}

/**
 * Quarantines a whole body that could not be read as events (not JSON, wrong shape), then throws
 * the 400 that names the problem. Nothing a sender authenticated for is dropped unseen.
 */
export async function quarantineBody(deps: IngestDeps, delivery: Delivery, text: string, problem: string): Promise<never> {
  const result = await deps.enqueue([serializeRecord(rejectedRecord(delivery, text, [problem]))]);
  deps.meter.count('EventsRejected', 1, ['reason', reasonCategory(problem)]);
  deps.meter.count('EnqueueRetries', result.retries);
  deps.log.info('body quarantined', { requestId: delivery.request.requestId, sourceId: delivery.principal.sourceId, route: delivery.route, reason: reasonCategory(problem) });
  throw new BadRequestError(problem);
}

function rejectedRecord(delivery: Delivery, raw: string, reasons: string[], index?: number, messageId?: string): RejectedRecord {
  const rawBytes = Buffer.byteLength(raw);
  const truncated = raw.length > RAW_TEXT_LIMIT;
  return {
    kind: 'rejected',
    sourceId: delivery.principal.sourceId,
    receivedAt: new Date(delivery.request.receivedAtMs).toISOString(),
    requestId: delivery.request.requestId,
    route: delivery.route,
    ...(index === undefined ? {} : { index }),
    ...(messageId === undefined ? {} : { messageId }),
    raw: truncated ? raw.slice(0, RAW_TEXT_LIMIT) : raw,
    rawBytes,
    truncated,
    reasons,
  };
}

/** The item's JSON for its quarantine record; an item too deep to serialize is named, not lost silently. */
function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch (error) {
    return `(the item could not be serialized: ${(error as Error).name})`;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Authenticates a Tracking API request: a Basic or Bearer key in the header, else `writeKey` in a
 * JSON body. Returns the principal and the parsed body (parsed at most once).
 */
export async function authenticateTrackingRequest(deps: IngestDeps, request: HttpRequest, text: string): Promise<{ principal: Principal; parsed: JsonParse }> {
  const header = credentialsFromHeader(request.headers.authorization);
  let parsed: JsonParse | undefined;
  let key = header.kind === 'key' ? header.key : undefined;
  if (key === undefined && header.kind === 'none' && header.problem === undefined) {
    parsed = parseJson(text);
    if (parsed.ok && isObject(parsed.value) && typeof parsed.value.writeKey === 'string' && parsed.value.writeKey !== '') {
      key = parsed.value.writeKey;
    }
  }
  if (key === undefined) {
    throw new UnauthorizedError(
      header.kind === 'none' && header.problem
        ? header.problem
        : 'no credentials: send the API key as the Basic auth username, as a Bearer token, or as "writeKey" in the body',
    );
  }
  const principal = await deps.auth.authenticateKey(key);
  return { principal, parsed: parsed ?? parseJson(text) };
}

/** `POST /v1/{type}`: one event of the type the path names. */
async function trackSingle(deps: IngestDeps, request: HttpRequest, type: string): Promise<HttpResponse> {
  if (!EVENT_TYPES.includes(type as EventType)) {
    throw new NotFoundError(`no route for POST /v1/${type}; event routes are ${EVENT_TYPES.map((t) => `/v1/${t}`).join(', ')} and /v1/batch`);
  }
  const route = `/v1/${type}`;
  const text = readBody(request, deps.config.limits.maxEventBytes);
  const { principal, parsed } = await authenticateTrackingRequest(deps, request, text);
  const delivery: Delivery = { request, principal, route };
  if (!parsed.ok) return quarantineBody(deps, delivery, text, parsed.problem);
  if (!isObject(parsed.value)) return quarantineBody(deps, delivery, text, `body must be a JSON object (one ${type} event), got ${describeJsonType(parsed.value)}`);
  return acceptEvents(deps, delivery, [parsed.value], { single: true, routeType: type as EventType, allowedTypes: EVENT_TYPES });
}

/** `POST /v1/batch` and `/v1/import`: `{"batch":[...], "context"?, "integrations"?}`. */
async function trackBatch(deps: IngestDeps, request: HttpRequest, route: string): Promise<HttpResponse> {
  const { limits } = deps.config;
  const text = readBody(request, limits.maxBatchBytes);
  const { principal, parsed } = await authenticateTrackingRequest(deps, request, text);
  const delivery: Delivery = { request, principal, route };
  if (!parsed.ok) return quarantineBody(deps, delivery, text, parsed.problem);
  const body = parsed.value;
  if (!isObject(body)) return quarantineBody(deps, delivery, text, `body must be a JSON object with a "batch" array, got ${describeJsonType(body)}`);
  if (!Array.isArray(body.batch)) {
    return quarantineBody(deps, delivery, text, body.batch === undefined ? 'body has no "batch" array' : `"batch" must be an array, got ${describeJsonType(body.batch)}`);
  }
  if (body.batch.length === 0) throw new BadRequestError('"batch" is empty; send at least one event');
  if (body.batch.length > limits.maxBatchEvents) {
    throw new PayloadTooLargeError(`"batch" has ${body.batch.length} events; the limit is ${limits.maxBatchEvents}`);
  }
  return acceptEvents(deps, delivery, body.batch, {
    single: false,
    allowedTypes: EVENT_TYPES,
    defaults: { context: body.context, integrations: body.integrations },
  });
}

/**
 * Every route of the ingest function. `extraRoutes` lets other protocols (Direct destination,
 * Webhooks) slot in beside the Tracking API without touching it.
 */
export function ingestRoutes(deps: IngestDeps, extraRoutes: readonly Route[] = []): Route[] {
  return [
    { path: '/health', methods: ['GET', 'HEAD'], handler: async () => jsonResponse(200, { status: 'ok' }) },
    { path: '/v1/batch', methods: ['POST'], handler: (request) => trackBatch(deps, request, '/v1/batch') },
    { path: '/v1/import', methods: ['POST'], handler: (request) => trackBatch(deps, request, '/v1/import') },
    { path: '/v1/{type}', methods: ['POST'], handler: (request, params) => trackSingle(deps, request, params.type ?? '') },
    ...extraRoutes,
  ];
}

export function createIngest(deps: IngestDeps, extraRoutes: readonly Route[] = []): (request: HttpRequest) => Promise<HttpResponse> {
  return createRouter(ingestRoutes(deps, extraRoutes));
}
