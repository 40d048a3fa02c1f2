/**
 * The acceptance core every route shares: admit the request under its source's rate limit, judge
 * each event against the Segment Spec, put the accepted events and the quarantine records of the
 * invalid ones into the queue together, count and log what happened, and answer. It answers 200
 * only after SQS has taken every record. The routes (tracking-api.ts, direct.ts, webhook.ts) read
 * and authenticate their requests and hand the events here.
 */
import type { EventClock } from '../spec/event-time';
import type { SpecType } from '../spec/event-types';
import { normalizeEvent } from '../spec/normalize';
import { serializeEventRecord, serializeRecord, type RejectedRecord, type SerializedRecord } from '../message/format';
import { RAW_TEXT_LIMIT, type Config } from '../shared/config';
import type { Log } from '../shared/log';
import type { Meter } from '../shared/metrics';
import type { Problem, RefusalReason } from '../shared/reasons';
import type { Authenticator, Principal } from './auth';
import { assertOriginAllowed } from './cors';
import type { Enqueue, EnqueueResult } from './enqueue';
import type { HealthCheck } from './health';
import { BadRequestError, ForbiddenError } from './http-errors';
import { jsonResponse, type HttpRequest, type HttpResponse } from './http';
import { applyPlan, planReport, type ActivePlan, type PlanLoader } from './plan-checks';
import {
  applyPrivacy,
  finishPrivacyRun,
  privacyFinisher,
  quarantinedBody,
  quarantinedText,
  startPrivacyRun,
  type PrivacyLoader,
  type PrivacyRun,
} from './privacy';
import type { RateLimiter } from './rate-limit';
import type { SourceRecord } from '../tables/sources';

export interface IngestDeps {
  config: Pick<Config, 'limits' | 'requestBudgetMs'>;
  auth: Authenticator;
  enqueue: Enqueue;
  log: Log;
  meter: Meter;
  rateLimiter: RateLimiter;
  /** `GET /health?deep=1` (health.ts); without it the deep check answers 503. */
  health?: HealthCheck;
  /** The sources' tracking plans, compiled once per version (plan-checks.ts). */
  plans: PlanLoader;
  /** The sources' privacy policies, compiled once per version (privacy.ts). */
  privacy: PrivacyLoader;
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
  /** Which of the request's events may be a `delete` (an erasure request). */
  deletes: DeletePermission;
}

/**
 * Who may erase (docs/keys-and-scopes.md): `all` when the credentials cover every event of the
 * request (a destination or unscoped key, a whole-body webhook signature), `first` when only the
 * first element was signed, `none` otherwise; `refusal` is the sentence a refused delete gets.
 */
export type DeletePermission = { allowed: 'all' } | { allowed: 'first' | 'none'; refusal: string };

/**
 * What a key's scope allows: `destination` and `unscoped` keys (which always could) may erase; an
 * `events` key, or a principal without a key, may not.
 */
export function keyDeletePermission(principal: Principal): DeletePermission {
  if (principal.scope === 'destination' || principal.scope === 'unscoped') return { allowed: 'all' };
  const scope =
    principal.scope === undefined
      ? 'no key'
      : `key ${principal.keyPrefix}… has scope "${principal.scope}", which sends events but never erases`;
  return { allowed: 'none', refusal: `a delete (erasure request) needs a key of scope "destination": ${scope}` };
}

export interface AcceptOptions {
  /** One event per request: an invalid one answers 400 instead of 200 with errors. */
  single: boolean;
  routeType?: SpecType;
  allowedTypes: readonly SpecType[];
  /** Whose clock the events' `timestamp` is on (lib/spec/event-time.ts). */
  clock: EventClock;
  /** The batch's `context`, `integrations` and `sentAt`. */
  defaults?: { context?: unknown; integrations?: unknown; sentAt?: unknown };
  /** Added to the answer, so the sender sees them (Segment shows answers in its debugger). */
  warnings?: readonly string[];
}

/**
 * The delivery of an authenticated request, once its source accepts the page it comes from:
 * throws `ForbiddenError` (403) for an `Origin` outside the source's allowed origins (cors.ts).
 * Routes call it right after authentication, before anything is enqueued. `deletes` defaults to
 * what the key's scope allows.
 */
export async function authorizeDelivery(
  deps: IngestDeps,
  request: HttpRequest,
  principal: Principal,
  route: string,
  deletes: DeletePermission = keyDeletePermission(principal),
): Promise<Delivery> {
  if (request.headers.origin !== undefined) assertOriginAllowed(request, await deps.auth.getSource(principal.sourceId));
  return { request, principal, route, deletes };
}

/** The refusal of item `index` when it is a `delete` the request's credentials do not cover. */
function deleteRefusal(delivery: Delivery, item: unknown, index: number): string | undefined {
  const { deletes } = delivery;
  if (deletes.allowed === 'all' || !isObject(item) || item.type !== 'delete') return undefined;
  if (deletes.allowed === 'first' && index === 0) return undefined;
  return deletes.refusal;
}

/** What judging a request's events produced: the records to enqueue and the answer's errors. */
interface Judgement {
  records: SerializedRecord[];
  errors: EventItemError[];
  /** What was changed in accepted events, for the answer (a timestamp clamped). */
  warnings: string[];
  /** The category of each rejected event, in the order of `errors`. */
  reasons: RefusalReason[];
}

/**
 * Validates `items`, enqueues the valid events and the quarantine records of the invalid ones
 * together, and answers. Throws `TooManyRequestsError` (429) over the source's rate limit,
 * `QueueUnavailableError` (503) when SQS does not take the records, and `BadRequestError` (400,
 * with the answer's fields) when no event is valid: those were quarantined first.
 */
export async function acceptEvents(
  deps: IngestDeps,
  delivery: Delivery,
  items: readonly unknown[],
  options: AcceptOptions,
): Promise<HttpResponse> {
  const source = await admitSource(deps, delivery, items.length);
  const plan = await deps.plans.planFor(source);
  const policy = await deps.privacy.policyFor(source);
  const privacy = policy && startPrivacyRun(policy, deps.config.limits.maxEventBytes);
  const judgement = judgeEvents(deps, delivery, items, options, plan, privacy);
  if (privacy) finishPrivacyRun(privacy, deps.meter, judgement.warnings);
  const result = await deps.enqueue(judgement.records, delivery.request.deadline);
  const accepted = items.length - judgement.errors.length;
  recordOutcome(deps, delivery, judgement, accepted, result);

  const answer: IngestAnswer = { success: accepted > 0, accepted, rejected: judgement.errors.length, errors: judgement.errors };
  const warnings = [...(options.warnings ?? []), ...judgement.warnings];
  if (warnings.length > 0) answer.warnings = warnings;
  if (accepted > 0) return jsonResponse(200, answer);
  const { errors } = judgement;
  // Refused for its credentials, not its content: a 403, as for any other thing a key may not do.
  if (judgement.reasons.every((reason) => reason === 'forbidden')) {
    throw new ForbiddenError(
      options.single ? (errors[0]?.message ?? 'forbidden') : 'no event of the batch may be sent with these credentials; see errors',
      {
        ...answer,
      },
    );
  }
  const message = options.single
    ? `invalid ${options.routeType ?? 'event'}: ${errors[0]?.message ?? 'invalid event'}`
    : `every event in the batch is invalid (${errors.length} of ${items.length}); see errors`;
  throw new BadRequestError(message, judgement.reasons[0] ?? 'other', { ...answer });
}

/** Applies the source's rate limit; the source is cached by the authenticator, so this costs no read when warm. */
async function admitSource(deps: IngestDeps, delivery: Delivery, events: number): Promise<SourceRecord | undefined> {
  const { sourceId } = delivery.principal;
  const source = await deps.auth.getSource(sourceId, delivery.request.deadline);
  deps.rateLimiter.admit(sourceId, source?.rateLimitPerSecond, events);
  return source;
}

/** Normalises each item (and checks it against the source's tracking plan) into an event record, or a quarantine record and an error. */
function judgeEvents(
  deps: IngestDeps,
  delivery: Delivery,
  items: readonly unknown[],
  options: AcceptOptions,
  plan?: ActivePlan,
  privacy?: PrivacyRun,
): Judgement {
  const { request, principal } = delivery;
  const meta = { sourceId: principal.sourceId, receivedAt: new Date(request.receivedAtMs).toISOString(), requestId: request.requestId };
  const normalizeOptions = {
    routeType: options.routeType,
    allowedTypes: options.allowedTypes,
    defaults: options.defaults,
    clock: options.clock,
    receivedAtMs: request.receivedAtMs,
    maxEventBytes: deps.config.limits.maxEventBytes,
    // The Tracking API's senders (clock `library`) are the users' browsers and apps or the
    // customer's servers; /segment and /webhook requests come from Segment's servers, whose
    // address is nobody's `context.ip`.
    sourceIp: options.clock === 'library' ? request.sourceIp : undefined,
    // Without a plan the policy applies inside normalize, so each event is serialized once; with
    // one, the plan judges the event as sent and the policy applies after it.
    finish: privacy && !plan ? privacyFinisher(privacy) : undefined,
  };
  const judgement: Judgement = { records: [], errors: [], warnings: [], reasons: [] };
  const report = plan && planReport(deps.meter, judgement.warnings, options.single, plan);
  items.forEach((item, index) => {
    const refusal = deleteRefusal(delivery, item, index);
    if (refusal !== undefined) {
      const messageId = isObject(item) && typeof item.messageId === 'string' ? item.messageId.slice(0, 100) : undefined;
      refuseItem(judgement, delivery, item, { index, single: options.single, reasons: [refusal], reason: 'forbidden', messageId }, privacy);
      return;
    }
    const normalized = normalizeEvent(item, normalizeOptions);
    const planned = plan && report ? applyPlan(plan, normalized, index, report) : normalized;
    const verdict = privacy && plan ? applyPrivacy(privacy, planned) : planned;
    if (verdict === undefined || (verdict.ok && verdict.withheld)) return;
    if (verdict.ok) {
      judgement.records.push(serializeEventRecord(meta, verdict.json, verdict.keyTime));
      if (verdict.warning) judgement.warnings.push(options.single ? verdict.warning : `event ${index}: ${verdict.warning}`);
      return;
    }
    const { reasons, reason, messageId } = verdict;
    refuseItem(judgement, delivery, item, { index, single: options.single, reasons, reason, messageId }, privacy);
  });
  return judgement;
}

/** Adds a refused item to the judgement: its error for the answer, its category, its quarantine record. */
function refuseItem(
  judgement: Judgement,
  delivery: Delivery,
  item: unknown,
  refused: { index: number; single: boolean; reasons: string[]; reason: RefusalReason; messageId: string | undefined },
  privacy: PrivacyRun | undefined,
): void {
  const { index, reasons, messageId } = refused;
  judgement.errors.push({ index, messageId, message: reasons.join('; ') });
  judgement.reasons.push(refused.reason);
  const position = refused.single ? undefined : index;
  // The source's privacy rules apply to the raw text kept in quarantine too.
  const raw = privacy ? quarantinedText(privacy, item) : safeStringify(item);
  judgement.records.push(serializeRecord(rejectedRecord(delivery, raw, reasons, position, messageId)));
}

/** Metrics for every request; a log line for a request with rejections (clean ones only at DEBUG). */
function recordOutcome(deps: IngestDeps, delivery: Delivery, judgement: Judgement, accepted: number, result: EnqueueResult): void {
  deps.meter.count('EventsAccepted', accepted);
  deps.meter.count('EnqueueRetries', result.retries);
  judgement.reasons.forEach((reason) => deps.meter.count('EventsRejected', 1, ['reason', reason]));
  // At INFO, a line per clean request would cost more in CloudWatch Logs than the rest of a
  // single event's path beside SQS.
  const logLine = judgement.errors.length > 0 ? deps.log.info : deps.log.debug;
  logLine.call(deps.log, 'events enqueued', {
    requestId: delivery.request.requestId,
    sourceId: delivery.principal.sourceId,
    route: delivery.route,
    accepted,
    rejected: judgement.errors.length,
    messages: result.messages,
    enqueueRetries: result.retries,
    rejectedReasons: [...new Set(judgement.reasons)],
  });
}

/**
 * Quarantines a whole body that could not be read as events (not JSON, wrong shape), then throws
 * the 400 that names the problem. Nothing a sender authenticated for is dropped unseen. The body
 * counts as one event against the source's rate limit: over it, the 429 comes first and nothing
 * of the body is stored.
 */
export async function quarantineBody(deps: IngestDeps, delivery: Delivery, text: string, problem: Problem): Promise<never> {
  const policy = await deps.privacy.policyFor(await admitSource(deps, delivery, 1));
  const run = policy && startPrivacyRun(policy, deps.config.limits.maxEventBytes);
  const raw = run ? quarantinedBody(run, text) : text;
  const result = await deps.enqueue([serializeRecord(rejectedRecord(delivery, raw, [problem.message]))], delivery.request.deadline);
  if (run) finishPrivacyRun(run, deps.meter, []);
  deps.meter.count('EventsRejected', 1, ['reason', problem.reason]);
  deps.meter.count('EnqueueRetries', result.retries);
  deps.log.info('body quarantined', {
    requestId: delivery.request.requestId,
    sourceId: delivery.principal.sourceId,
    route: delivery.route,
    reason: problem.reason,
  });
  throw new BadRequestError(problem.message, problem.reason);
}

function rejectedRecord(delivery: Delivery, raw: string, reasons: string[], index?: number, messageId?: string): RejectedRecord {
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
    rawBytes: Buffer.byteLength(raw),
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

/** A 400 problem for a body of the wrong shape. */
export function badShape(message: string): Problem {
  return { reason: 'bad-shape', message };
}
