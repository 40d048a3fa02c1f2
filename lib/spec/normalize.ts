/**
 * Turns one incoming item into a normalised Segment event, or the list of reasons it cannot be one.
 * Normalisation is what makes storage idempotent and queries simple: ids become strings, the
 * timestamp becomes ISO-8601 UTC, and a missing `messageId` becomes one derived from the content.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../shared/canonical-json';
import { mainReason, type Problem, type RefusalReason } from '../shared/reasons';
import type { SegmentEvent, SpecType } from './event-types';
import { resolveEventTime, type EventClock, type EventTime } from './event-time';
import { parseTimestamp } from './timestamps';
import { validateAgainstSpec } from './validate';

export interface NormalizeOptions {
  /** The type the route implies (`/v1/track`); a different `type` in the body is an error. */
  routeType?: SpecType;
  /** Types this route accepts. */
  allowedTypes: readonly SpecType[];
  /** Batch-level `context` and `integrations`, merged under the item's own, and the batch's `sentAt`. */
  defaults?: { context?: unknown; integrations?: unknown; sentAt?: unknown };
  /** Whose clock `timestamp` is on: `library` on the Tracking API, `segment` on /segment and /webhook. */
  clock: EventClock;
  receivedAtMs: number;
  maxEventBytes: number;
  /** The request's source address: `context.ip` when the event has none, as Segment fills it. */
  sourceIp?: string;
  /**
   * Applied to a valid event just before it is serialized (a source's privacy policy,
   * lib/ingest/privacy.ts), so the event is serialized once: what to store instead, that it is
   * withheld (accepted, not stored), or why it is refused.
   */
  finish?: (event: Record<string, unknown>) => Finished;
}

export type Finished = { event: Record<string, unknown> } | { withheld: true } | { problem: Problem };

export type Verdict =
  | { ok: true; event: SegmentEvent; json: string; keyTime: string; warning?: string; withheld?: true }
  | { ok: false; reasons: string[]; reason: RefusalReason; messageId?: string };

/** The verdict on an invalid event: every reason, and the category of the most fundamental one. */
function refuse(problems: readonly Problem[], messageId?: string): Verdict {
  const reported = messageId !== undefined && messageId.length > MAX_MESSAGE_ID ? `${messageId.slice(0, MAX_MESSAGE_ID)}…` : messageId;
  return { ok: false, reasons: problems.map((p) => p.message), reason: mainReason(problems), messageId: reported };
}

const ID_FIELDS = ['userId', 'anonymousId', 'groupId', 'previousId'] as const;

/**
 * The longest user, anonymous, group or previous id, in UTF-8 bytes. Ids go into DynamoDB keys
 * (a partition key holds at most 2,048 bytes: the source id, a separator and the id must fit, and
 * the profile and group keys add a prefix), so a longer one is refused here, where the sender is
 * told, rather than refused by DynamoDB after a 200.
 */
export const MAX_ID_BYTES = 1024;
/** The longest `messageId`, in characters (the Spec's schema); at most 400 bytes in a sort key. */
const MAX_MESSAGE_ID = 100;

/**
 * An event nested deeper than DynamoDB's 32 levels is still stored (as JSON text); one nested so
 * deep that JSON.stringify runs out of stack (thousands of levels) cannot be, and is refused. The
 * depth is not walked beforehand: that walk cost about 5% of batched ingest's CPU (bench/profile.ts).
 */
const TOO_DEEP = 'the event nests too deeply to be serialized (thousands of levels)';
/** Fields that never reach storage: `writeKey` is a credential. */
const DROPPED_FIELDS = ['writeKey'] as const;

/** Validates and normalises one item. Never throws for bad input; never mutates `input`. */
export function normalizeEvent(input: unknown, options: NormalizeOptions): Verdict {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return refuse([{ reason: 'bad-shape', message: `each event must be a JSON object, got ${describeJsonType(input)}` }]);
  }
  const rawMessageId = (input as Record<string, unknown>).messageId;
  const messageId = typeof rawMessageId === 'string' || typeof rawMessageId === 'number' ? String(rawMessageId) : undefined;
  const event = prepareEvent(input as Record<string, unknown>, options);
  const type = resolveType(event.type, options);
  if (typeof type !== 'string') return refuse([{ reason: 'bad-type', message: type.error }], messageId);
  event.type = type;

  const problems = checkEvent(type, event);
  if (problems.length > 0) return refuse(problems, messageId);

  for (const field of ID_FIELDS) {
    if (typeof event[field] === 'number') event[field] = String(event[field]);
  }
  // Derived from the content as sent (before the times are rewritten), so a retry with a new sentAt gets the same id.
  const id = messageId ?? deriveOrUndefined(event);
  if (id === undefined) return refuse([{ reason: 'too-large', message: TOO_DEEP }], messageId);
  event.messageId = id;
  const time = applyEventTime(event, options);
  // After the id is derived: a retry from another address is still the same event.
  if (options.sourceIp !== undefined) fillIp(event, options.sourceIp);
  const finished = options.finish ? options.finish(event) : { event };
  if ('problem' in finished) return refuse([finished.problem], messageId);
  if ('withheld' in finished) return { ok: true, event: event as SegmentEvent, json: '', keyTime: time.keyTime, withheld: true };
  const json = stringifyOrUndefined(finished.event);
  if (json === undefined) return refuse([{ reason: 'too-large', message: TOO_DEEP }], messageId);
  // A string of n UTF-16 units is at most 3n UTF-8 bytes: count exactly only near the limit.
  if (json.length * 3 > options.maxEventBytes) {
    const bytes = Buffer.byteLength(json);
    if (bytes > options.maxEventBytes) {
      return refuse(
        [{ reason: 'too-large', message: `event is ${bytes} bytes serialized; the limit is ${options.maxEventBytes}` }],
        messageId,
      );
    }
  }
  const verdict: Verdict = { ok: true, event: finished.event as SegmentEvent, json, keyTime: time.keyTime };
  if (time.warning) verdict.warning = time.warning;
  return verdict;
}

/**
 * A shallow copy of the item, with absent ids dropped, credentials removed and the batch's
 * `context` and `integrations` merged in. This runs once per event on the ingest hot path: no
 * closures, each field read once, and the object's shape left alone unless a field has to go.
 */
function prepareEvent(input: Record<string, unknown>, options: NormalizeOptions): Record<string, unknown> {
  const event: Record<string, unknown> = { ...input };
  // Analytics libraries send `userId: null` for anonymous visitors; an absent id is what they mean.
  if (event.userId === null || event.userId === '') delete event.userId;
  if (event.anonymousId === null || event.anonymousId === '') delete event.anonymousId;
  for (const field of DROPPED_FIELDS) if (field in event) delete event[field];
  if (options.defaults) {
    mergeDefault(event, 'context', options.defaults.context);
    mergeDefault(event, 'integrations', options.defaults.integrations);
  }
  return event;
}

/** The Spec's rules, an identity, and ids that fit a key. */
function checkEvent(type: SpecType, event: Record<string, unknown>): Problem[] {
  const problems = validateAgainstSpec(type, event);
  if (type !== 'delete' && event.userId === undefined && event.anonymousId === undefined) {
    problems.push({ reason: 'missing-identity', message: 'either "userId" or "anonymousId" is required' });
  }
  for (const field of ID_FIELDS) {
    const value = event[field];
    // n UTF-16 units are at most 3n UTF-8 bytes: count exactly only near the limit.
    if (typeof value !== 'string' || value.length * 3 <= MAX_ID_BYTES) continue;
    const bytes = Buffer.byteLength(value);
    if (bytes > MAX_ID_BYTES)
      problems.push({ reason: 'invalid-field', message: `"${field}" must be at most ${MAX_ID_BYTES} bytes (UTF-8); it is ${bytes}` });
  }
  return problems;
}

/** Writes the event's `timestamp` (and `originalTimestamp`, `rawTimestamp`) by Segment's rules; see event-time.ts. */
function applyEventTime(event: Record<string, unknown>, options: NormalizeOptions): EventTime {
  const time = resolveEventTime(event, options.clock, options.receivedAtMs, options.defaults?.sentAt);
  if (event.timestamp !== undefined && parseTimestamp(event.timestamp) === undefined) event.rawTimestamp = event.timestamp;
  if (time.originalTimestamp !== undefined) event.originalTimestamp = time.originalTimestamp;
  event.timestamp = time.timestamp;
  return time;
}

/** `JSON.stringify`, or `undefined` for a value nested too deeply for it: a RangeError caught rather than a crash. */
function stringifyOrUndefined(event: Record<string, unknown>): string | undefined {
  try {
    return JSON.stringify(event);
  } catch (error) {
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

/** The derived messageId, or `undefined` for an event nested too deeply for its canonical form. */
function deriveOrUndefined(event: Record<string, unknown>): string | undefined {
  try {
    return deriveMessageId(event);
  } catch (error) {
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

function resolveType(bodyType: unknown, options: NormalizeOptions): SpecType | { error: string } {
  if (options.routeType) {
    if (bodyType === undefined || bodyType === null || bodyType === options.routeType) return options.routeType;
    return { error: `"type" is ${quote(bodyType)} but this route takes ${options.routeType} events` };
  }
  if (typeof bodyType === 'string' && options.allowedTypes.includes(bodyType as SpecType)) return bodyType as SpecType;
  const allowed = options.allowedTypes.join(', ');
  if (bodyType === undefined || bodyType === null) return { error: `missing required field "type" (one of ${allowed})` };
  if (bodyType === 'delete' && !options.allowedTypes.includes('delete')) {
    return {
      error:
        '"type" "delete" is not accepted here: the Tracking API has no delete; Segment sends erasure requests to /segment (Direct) or /webhook/{sourceId}',
    };
  }
  return { error: `"type" must be one of ${allowed}, got ${quote(bodyType)}` };
}

/** `context.ip` from the request when the event has none; the context is copied, never changed in place (it may be the item's or the batch's). */
function fillIp(event: Record<string, unknown>, ip: string): void {
  const context = event.context;
  if (context === undefined) event.context = { ip };
  else if (typeof context === 'object' && context !== null && !Array.isArray(context) && (context as { ip?: unknown }).ip === undefined)
    event.context = { ...context, ip };
}

function mergeDefault(event: Record<string, unknown>, field: 'context' | 'integrations', fallback: unknown): void {
  if (typeof fallback !== 'object' || fallback === null || Array.isArray(fallback)) return;
  const own = event[field];
  if (own === undefined || own === null) event[field] = { ...fallback };
  else if (typeof own === 'object' && !Array.isArray(own)) event[field] = { ...fallback, ...own };
}

/**
 * The same payload always yields the same id, so a sender's retry of an event without a
 * `messageId` overwrites the first copy instead of duplicating it. `sentAt` is left out because
 * SDKs refresh it on every retry.
 */
function deriveMessageId(event: Record<string, unknown>): string {
  const { sentAt: _sentAt, ...content } = event;
  return `auto-${createHash('sha256').update(canonicalJson(content)).digest('hex').slice(0, 32)}`;
}

export function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A sender's value quoted in a reason, cut short: reasons are stored and shown, and must stay small. */
function quote(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value) : describeJsonType(value);
  return text;
}
