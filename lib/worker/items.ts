/**
 * How records become DynamoDB items (SPEC.md section 5). Event tables are keyed so a user's events
 * read back in event-time order and a redelivered event overwrites itself:
 * partition `<sourceId>#<userId | "anon:" + anonymousId>`, sort `<timestamp ISO ms>#<messageId>`.
 */
import { EVENT_TTL_ATTRIBUTE } from '../../infra';
import type { EventRecord } from '../message/format';

export type Item = Record<string, unknown>;

/**
 * Attribute names the service sets itself; an event field with one of these names is stored as
 * `event_<name>`. The expiry attribute is reserved whether or not the stage sets a retention, so
 * turning retention on never lets an event's own field decide when DynamoDB deletes it.
 */
const RESERVED = new Set(['pk', 'sk', 'sourceId', 'receivedAt', 'storedAs', 'json', EVENT_TTL_ATTRIBUTE]);

/** Limits an item must respect to be stored as a map (checked before writing). */
const MAX_DEPTH = 32;
const MIN_NUMBER = 1e-130;
/**
 * DynamoDB holds numbers up to 9.99e125, but the SDK refuses to write any number beyond 2^53
 * (it could not read it back exactly), so larger ones go the JSON-text way too.
 */
const MAX_NUMBER = Number.MAX_SAFE_INTEGER;

export function eventPartitionKey(sourceId: string, userId: string | undefined, anonymousId: string | undefined): string {
  return userId !== undefined ? `${sourceId}#${userId}` : `${sourceId}#anon:${String(anonymousId)}`;
}

export function eventSortKey(timestamp: string, messageId: string): string {
  return `${timestamp}#${messageId}`;
}

/**
 * The item for an event. When a field cannot be held by DynamoDB as a map (nesting deeper than 32
 * levels, numbers out of DynamoDB's range, empty attribute names), the event is stored whole as
 * JSON text in `json` with `storedAs: "json"` instead of being lost.
 *
 * Besides the event's fields, an item holds only `sourceId` and `receivedAt` (when the ingest
 * function received the event), and `expiresAt` when the stage keeps events for a retention
 * (`retentionSeconds` > 0): every byte counts, since DynamoDB bills a write unit per started KB and
 * a typical event is just under one. The request id is in the log lines instead.
 */
export function eventItem(record: EventRecord, retentionSeconds = 0): Item {
  const { event } = record;
  const base: Item = {
    pk: eventPartitionKey(record.sourceId, event.userId, event.anonymousId),
    sk: eventSortKey(event.timestamp, event.messageId),
    sourceId: record.sourceId,
    receivedAt: record.receivedAt,
  };
  if (retentionSeconds > 0) base[EVENT_TTL_ATTRIBUTE] = eventExpiresAt(record, retentionSeconds);
  if (!fitsDynamo(event, 0)) return jsonItem(base, record);
  const item: Item = base;
  for (const [field, value] of Object.entries(event)) {
    if (value === undefined) continue;
    item[RESERVED.has(field) ? `event_${field}` : field] = value;
  }
  return item;
}

/**
 * When an event expires, in epoch seconds: its `timestamp` (the time its sort key orders by) plus
 * the retention. From the event's own time, not the time it was written, so a retry or a replay
 * of the same event gives it the same expiry, and a replay of old history keeps no event longer
 * than the retention says. An unreadable timestamp (never produced by ingest) counts from `receivedAt`.
 */
export function eventExpiresAt(record: EventRecord, retentionSeconds: number): number {
  const time = Date.parse(record.event.timestamp);
  const from = Number.isFinite(time) ? time : Date.parse(record.receivedAt);
  return Math.floor(from / 1000) + retentionSeconds;
}

/**
 * The event an item was made from (`eventItem` undone): the event's own fields, with those stored
 * as `event_<name>` renamed back and the service's attributes left out; an item stored as JSON text
 * is that text parsed. For copying stored events elsewhere, e.g. replaying them into another stage.
 */
export function eventFromItem(item: Item): Record<string, unknown> {
  if (item.storedAs === 'json' && typeof item.json === 'string') return JSON.parse(item.json) as Record<string, unknown>;
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(item)) {
    if (RESERVED.has(name)) continue;
    const own = name.startsWith('event_') ? name.slice('event_'.length) : undefined;
    event[own !== undefined && RESERVED.has(own) ? own : name] = value;
  }
  return event;
}

/** The fallback form: identifying fields as attributes, the whole event as JSON text. */
export function jsonItem(base: Item, record: EventRecord): Item {
  const { event } = record;
  return {
    ...base,
    type: event.type,
    messageId: event.messageId,
    timestamp: event.timestamp,
    ...(event.userId === undefined ? {} : { userId: event.userId }),
    ...(event.anonymousId === undefined ? {} : { anonymousId: event.anonymousId }),
    storedAs: 'json',
    json: JSON.stringify(event),
  };
}

/** True when DynamoDB can store `value` as attributes; see `eventItem`. */
export function fitsDynamo(value: unknown, depth: number): boolean {
  if (typeof value === 'number') {
    const magnitude = Math.abs(value);
    return Number.isFinite(value) && (magnitude === 0 || (magnitude >= MIN_NUMBER && magnitude <= MAX_NUMBER));
  }
  if (typeof value !== 'object' || value === null) return true;
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) return value.every((element) => fitsDynamo(element, depth + 1));
  for (const key in value) {
    if (key === '' || !fitsDynamo((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}
