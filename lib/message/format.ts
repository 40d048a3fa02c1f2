/**
 * The queue message format (docs/spec.md section 4), shared by the ingest function that writes it and
 * the worker that reads it. One SQS message holds the records of one request:
 * `{"v":1,"records":[{"kind":"event",...},{"kind":"rejected",...}]}`.
 */
import type { SegmentEvent } from '../spec/event-types';

export type { SegmentEvent } from '../spec/event-types';

export const MESSAGE_VERSION = 1;

interface RecordMeta {
  sourceId: string;
  /** When the ingest function received the request, ISO-8601 UTC. */
  receivedAt: string;
  requestId: string;
}

export interface EventRecord extends RecordMeta {
  kind: 'event';
  event: SegmentEvent;
  /**
   * The time that goes into the item's sort key: the sender's own time for the event, the same on
   * every retry (lib/spec/event-time.ts). Absent in records written before it existed, which are
   * keyed by `event.timestamp`.
   */
  keyTime?: string;
  /** Set on a `delete` the worker re-sent to continue an erasure: how many runs came before. */
  continuation?: number;
}

/** An event (or a whole body) that failed validation, kept with its raw text and every reason. */
export interface RejectedRecord extends RecordMeta {
  kind: 'rejected';
  route: string;
  /** Position in the request's batch, when the request had one. */
  index?: number;
  messageId?: string;
  raw: string;
  rawBytes: number;
  truncated: boolean;
  reasons: string[];
}

export type QueueRecord = EventRecord | RejectedRecord;

/**
 * A record already serialized, with its size, so the ingest function stringifies each event once:
 * the same text serves the size check, the packing and the SQS body.
 */
export interface SerializedRecord {
  json: string;
  bytes: number;
}

/** The JSON text of a request's record fields, made once per request (keyed by its `meta` object). */
const prefixes = new WeakMap<RecordMeta, { text: string; bytes: number }>();

/**
 * Serializes an event record around an event that is already JSON text. `keyTime` is ISO-8601 (or
 * the fixed position of events without a time), so it needs no escaping.
 */
export function serializeEventRecord(meta: RecordMeta, eventJson: string, keyTime?: string): SerializedRecord {
  let prefix = prefixes.get(meta);
  if (!prefix) {
    const text = `{"kind":"event","sourceId":${JSON.stringify(meta.sourceId)},"receivedAt":${JSON.stringify(meta.receivedAt)},"requestId":${JSON.stringify(meta.requestId)},"event":`;
    prefix = { text, bytes: Buffer.byteLength(text) };
    prefixes.set(meta, prefix);
  }
  const tail = keyTime === undefined ? '}' : `,"keyTime":"${keyTime}"}`;
  const json = sqsSafe(eventJson);
  return { json: `${prefix.text}${json}${tail}`, bytes: prefix.bytes + Buffer.byteLength(json) + tail.length };
}

export function serializeRecord(record: QueueRecord): SerializedRecord {
  const json = sqsSafe(JSON.stringify(record));
  return { json, bytes: Buffer.byteLength(json) };
}

/**
 * JSON text SQS will carry. A message body may hold only #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD
 * and #x10000-#x10FFFF; `JSON.stringify` escapes control characters and lone surrogates but writes
 * U+FFFE and U+FFFF raw, and SQS refuses the whole message for one of them. Written as `\uFFFF`
 * they stay in the JSON, so the worker reads back exactly what was sent. Two `indexOf` scans: the
 * common case costs no copy.
 */
export function sqsSafe(json: string): string {
  if (json.indexOf('\uffff') === -1 && json.indexOf('\ufffe') === -1) return json;
  return json.replace(/[\ufffe\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16)}`);
}

const ENVELOPE_HEAD = `{"v":${MESSAGE_VERSION},"records":[`;
const ENVELOPE_TAIL = ']}';
/** Bytes a message spends on its envelope. */
export const ENVELOPE_BYTES = ENVELOPE_HEAD.length + ENVELOPE_TAIL.length;

/** Wraps serialized records in the versioned envelope. */
export function encodeMessage(records: readonly SerializedRecord[]): string {
  if (records.length === 0) return ENVELOPE_HEAD + ENVELOPE_TAIL;
  // One join into one flat string: the SDK then reads it character by character, which is
  // several times slower on a string built by concatenation (a rope) than on a flat one.
  const parts = records.map((r) => r.json);
  parts[0] = ENVELOPE_HEAD + String(parts[0]);
  parts[parts.length - 1] += ENVELOPE_TAIL;
  return parts.join(',');
}

/** Raised for a message the worker can never process; it is quarantined, not retried. */
export class UnreadableMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreadableMessageError';
  }
}

/** Parses a queue message body; throws `UnreadableMessageError` when it is not a v1 message. */
export function decodeMessage(body: string): QueueRecord[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new UnreadableMessageError('queue message is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UnreadableMessageError('queue message is not a JSON object');
  }
  const { v, records } = parsed as { v?: unknown; records?: unknown };
  if (v !== MESSAGE_VERSION) throw new UnreadableMessageError(`queue message version ${JSON.stringify(v)} is not ${MESSAGE_VERSION}`);
  if (!Array.isArray(records)) throw new UnreadableMessageError('queue message has no records array');
  records.forEach((record: unknown, index) => {
    if (!isRecord(record)) throw new UnreadableMessageError(`queue message record ${index} is malformed`);
  });
  return records as QueueRecord[];
}

function isRecord(value: unknown): value is QueueRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  if (typeof r.sourceId !== 'string' || typeof r.receivedAt !== 'string' || typeof r.requestId !== 'string') return false;
  if (r.kind === 'event') {
    const e = r.event as Record<string, unknown> | null;
    return (
      typeof e === 'object' &&
      e !== null &&
      typeof e.type === 'string' &&
      typeof e.messageId === 'string' &&
      typeof e.timestamp === 'string'
    );
  }
  return r.kind === 'rejected' && typeof r.raw === 'string' && Array.isArray(r.reasons);
}
