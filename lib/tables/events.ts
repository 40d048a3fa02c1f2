/**
 * The six event tables (docs/spec.md section 5): how an event becomes an item and is read back, and
 * which partitions hold an identity's items. The layout, old layouts included, is described once in
 * docs/data-model.md (Item layout; Identities and partitions): partition `<sourceId>#<owner>`, sort
 * `<key time>#<messageId>`, each fact stored once. The worker writes items (`eventItem`), the lake
 * and the quarantine read them (`readEventItem`), and so do the CLI (`lookupEvents`) and the
 * export-to-NDJSON script.
 */
import { EVENT_TTL_ATTRIBUTE } from '../../infra';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { setOwn } from '../shared/own-keys';
import type { EventType, SegmentEvent } from '../spec/event-types';
import { unmarshallItem } from './dynamo-wire';
import { queryPages } from './query';

/** What an event item is made of: the queue's event record (lib/message/format.ts `EventRecord`) has these fields. */
export interface EventToStore {
  sourceId: string;
  receivedAt: string;
  /** The sort key's time (lib/spec/event-time.ts); `event.timestamp` in records written before it existed. */
  keyTime?: string;
  event: SegmentEvent;
}

export type Item = Record<string, unknown>;

/**
 * The attributes only this service writes (docs/data-model.md#item-layout): the receive time in
 * epoch ms (`_r`), the flag for an `originalTimestamp` equal to `timestamp` (`_o`), the event as
 * JSON text (`_json`) and the TTL (`_x`). An event field whose name is one of ours, or starts with
 * `~`, is stored as `~` + its name.
 */
export const ITEM = { received: '_r', originalIsTimestamp: '_o', json: '_json', expires: EVENT_TTL_ATTRIBUTE } as const;
/** Reserved whether or not the stage sets a retention, so an event's own field never decides when DynamoDB deletes it. */
const OWN = new Set(['pk', 'sk', ITEM.received, ITEM.originalIsTimestamp, ITEM.json, ITEM.expires]);
const ESCAPE = '~';
/** Event fields the keys or the table already hold (see above). */
const IN_KEYS = new Set(['type', 'messageId']);

/** Limits an item must respect to be stored as a map (checked before writing). */
const MAX_DEPTH = 32;
const MIN_NUMBER = 1e-130;
/**
 * DynamoDB holds numbers up to 9.99e125, but the SDK refuses to write any number beyond 2^53
 * (it could not read it back exactly), so larger ones go the JSON-text way too.
 */
const MAX_NUMBER = Number.MAX_SAFE_INTEGER;

const ANONYMOUS = 'anon:';
const ESCAPED_USER = '~';

/** True for a userId whose text could read as another identity's partition: it is escaped, and tagged. */
function isEscapedUser(userId: string): boolean {
  return userId.startsWith(ANONYMOUS) || userId.startsWith(ESCAPED_USER);
}

/** The partition an event is written to (the layout above). */
export function eventPartitionKey(sourceId: string, userId: string | undefined, anonymousId: string | undefined): string {
  if (userId === undefined) return `${sourceId}#${ANONYMOUS}${String(anonymousId)}`;
  return `${sourceId}#${isEscapedUser(userId) ? ESCAPED_USER : ''}${userId}`;
}

/**
 * A partition that may hold an identity's items, and the filter (a DynamoDB FilterExpression with
 * its names and values) that keeps only that identity's items, where others' may be there too.
 */
export interface IdentityPartition {
  pk: string;
  filter?: { expression: string; names: Record<string, string>; values: Record<string, string> };
}

/**
 * Every partition holding items of a user (or of an anonymous id), in the layout of today and the
 * one before: an item with a `userId` attribute is that user's; one without is the anonymous id's
 * in an `anon:` partition, else the user's whose id is the partition's text. Only userIds starting
 * with `anon:` or `~` have two partitions, and only they need a filter.
 */
export function identityPartitions(sourceId: string, userId: string | undefined, anonymousId: string | undefined): IdentityPartition[] {
  const names = { '#uid': 'userId' };
  const pk = eventPartitionKey(sourceId, userId, anonymousId);
  if (userId === undefined) return [{ pk, filter: { expression: 'attribute_not_exists(#uid)', names, values: {} } }];
  if (!isEscapedUser(userId)) return [{ pk }];
  const tagged = { expression: '#uid = :uid', names, values: { ':uid': userId } };
  const legacy = `${sourceId}#${userId}`;
  // An untagged item in the old partition of a `~` id is that user's; in an `anon:` one, the visitor's.
  const legacyFilter = userId.startsWith(ANONYMOUS)
    ? tagged
    : { ...tagged, expression: `attribute_not_exists(#uid) OR ${tagged.expression}` };
  return [
    { pk, filter: tagged },
    { pk: legacy, filter: legacyFilter },
  ];
}

export function eventSortKey(timestamp: string, messageId: string): string {
  return `${timestamp}#${messageId}`;
}

/**
 * The item for an event, in the layout above. When a field cannot be held by DynamoDB as a map
 * (nesting deeper than 32 levels, numbers out of DynamoDB's range, empty attribute names), the
 * event is stored whole as JSON text in `_json` instead of being lost. Takes the queue's record as
 * it is, whatever else it holds.
 */
export function eventItem<R extends EventToStore>(record: R, retentionSeconds = 0): Item {
  const { event } = record;
  const anonymous = event.userId === undefined;
  const item: Item = {
    pk: eventPartitionKey(record.sourceId, event.userId, event.anonymousId),
    sk: eventSortKey(record.keyTime ?? event.timestamp, event.messageId),
    [ITEM.received]: Date.parse(record.receivedAt),
  };
  if (retentionSeconds > 0) item[ITEM.expires] = eventExpiresAt(record, retentionSeconds);
  // An escaped user's items always carry the userId: the tag that tells them from an old layout's.
  if (event.userId !== undefined && isEscapedUser(event.userId)) item.userId = event.userId;
  if (!fitsDynamo(event, 0)) return { ...item, timestamp: event.timestamp, [ITEM.json]: JSON.stringify(event) };
  const sameTimes = event.originalTimestamp === event.timestamp;
  if (sameTimes) item[ITEM.originalIsTimestamp] = true;
  for (const field of Object.keys(event)) {
    const value = event[field];
    if (value === undefined || IN_KEYS.has(field) || (sameTimes && field === 'originalTimestamp')) continue;
    if (field === 'userId') continue;
    if (field === 'anonymousId' && anonymous) continue;
    // An event field named "__proto__" is data too (setOwn).
    setOwn(item, OWN.has(field) || field.startsWith(ESCAPE) ? `${ESCAPE}${field}` : field, value);
  }
  return item;
}

/**
 * When DynamoDB's TTL deletes an event kept for `retentionSeconds`: counted from the event's own
 * `timestamp`, so every retry and replay of it expires at the same time.
 */
export function eventExpiresAt(record: EventToStore, retentionSeconds: number): number {
  const time = Date.parse(record.event.timestamp);
  const from = Number.isFinite(time) ? time : Date.parse(record.receivedAt);
  return Math.floor(from / 1000) + retentionSeconds;
}

/** What an event item holds, read back: the event as it was sent, and what the service added. */
export interface StoredEvent {
  event: Record<string, unknown>;
  sourceId: string;
  /** When this service received it, ISO-8601; undefined for an item without it. */
  receivedAt: string | undefined;
}

/**
 * Reads an item of the table of `type` back into the event: every field the item layout left out
 * (type, messageId, userId, anonymousId, originalTimestamp) is restored from the keys and flags.
 * Items written before this layout (with `type`, `sourceId` and `receivedAt` attributes, and
 * `event_<name>` for clashing fields) are read too.
 *
 * The layout is told by what this service alone writes: `_r` (a number) or `_json` (text) mark
 * the current one, whatever fields the event carries (its own `sourceId`, `receivedAt`, `_r` are
 * ordinary fields there, `_r` escaped as `~_r`). Only an item with neither is read by the earlier
 * layout's attributes.
 */
export function readEventItem(item: Item, type: string): StoredEvent {
  const pk = String(item.pk ?? '');
  const sk = String(item.sk ?? '');
  const separator = pk.indexOf('#');
  const sourceId = separator === -1 ? pk : pk.slice(0, separator);
  const current = typeof item[ITEM.received] === 'number' || typeof item[ITEM.json] === 'string';
  if (!current && typeof item.sourceId === 'string' && typeof item.receivedAt === 'string') return readLegacyItem(item, sourceId);
  const received = item[ITEM.received];
  const receivedAt = typeof received === 'number' ? new Date(received).toISOString() : undefined;
  const json = item[ITEM.json];
  if (typeof json === 'string') return { event: JSON.parse(json) as Record<string, unknown>, sourceId, receivedAt };

  const owner = pk.slice(separator + 1);
  const event: Record<string, unknown> = { type, messageId: sk.slice(NO_KEY_TIME_LENGTH + 1) };
  // A tagged item names its user (the `userId` attribute, read below); see identityPartitions.
  if (owner.startsWith(ANONYMOUS) && item.userId === undefined) event.anonymousId = owner.slice(ANONYMOUS.length);
  else if (item.userId === undefined) event.userId = owner;
  for (const name of Object.keys(item)) {
    if (OWN.has(name)) continue;
    const field = name.startsWith(ESCAPE) ? name.slice(1) : name;
    setOwn(event, field, item[name]);
  }
  if (item[ITEM.originalIsTimestamp] === true) event.originalTimestamp = event.timestamp;
  return { event, sourceId, receivedAt };
}

/** Sort keys start with a 24-character key time (ISO-8601 ms, or the fixed position of events without one). */
const NO_KEY_TIME_LENGTH = 24;

function readLegacyItem(item: Item, sourceId: string): StoredEvent {
  const { pk: _pk, sk: _sk, sourceId: _source, receivedAt, storedAs, json, ...fields } = item;
  if (storedAs === 'json' && typeof json === 'string')
    return { event: JSON.parse(json) as Record<string, unknown>, sourceId, receivedAt: String(receivedAt) };
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) event[name.startsWith('event_') ? name.slice(6) : name] = value;
  return { event, sourceId, receivedAt: String(receivedAt) };
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

/*
 * The CLI's reads of a user's events (`segment-ingest events`): in the order of their stored
 * `timestamp` (the time a user reads in each event), across the per-type tables. The sort key
 * cannot give that order: it starts with the sender's own time for the event (its device clock,
 * uncorrected), or a fixed `0000-00-00…` for an event sent without a time, so the partition is
 * queried whole (a Query per table, never a scan), filtered by `timestamp` on DynamoDB's side, and
 * sorted here. A user's events in the range are held in memory at once; `--since` keeps that to the
 * part asked for. Like lib/admin/, these calls are the CLI's, outside the functions' door
 * (lib/shared/aws-call.ts): the CLI words the SDK's errors itself.
 *
 * Items are read with the low-level client and turned into JSON by `unmarshallItem`
 * (dynamo-wire.ts), which keeps every field an event sent: the document client's conversion drops
 * a field named `__proto__` at any depth. The SDK's response parser still loses the value of a
 * top-level attribute of that name (@smithy/core 3.41's JsonShapeDeserializer redefines the key as
 * undefined before reading a map it transforms in place): the item holds it, a raw GetItem shows
 * it, the CLI prints the event without it.
 */
export interface EventQuery {
  sourceId: string;
  userId?: string;
  anonymousId?: string;
  types: readonly EventType[];
  since?: string;
  until?: string;
}

/** A stored item and the type of the table it came from (the item layout leaves `type` to the table). */
export interface TypedItem {
  item: Item;
  type: EventType;
}

/** One table's items of one partition whose `timestamp` is in [since, until), page by page. */
async function queryTable(
  client: DynamoDBClient,
  table: string,
  type: EventType,
  partition: IdentityPartition,
  range: { since?: string; until?: string },
): Promise<TypedItem[]> {
  const { filter } = partition;
  // Where an old layout put another identity's items in the same partition, only this one's.
  const filters = [range.since !== undefined && '#t >= :since', range.until !== undefined && '#t < :until', filter?.expression].filter(
    Boolean,
  );
  const values = partitionValues(partition);
  if (range.since !== undefined) values[':since'] = { S: range.since };
  if (range.until !== undefined) values[':until'] = { S: range.until };
  const names = { ...(range.since !== undefined || range.until !== undefined ? { '#t': 'timestamp' } : {}), ...filter?.names };
  const items: TypedItem[] = [];
  const pages = queryPages(client, {
    TableName: table,
    KeyConditionExpression: 'pk = :pk',
    ...(filters.length > 0 ? { FilterExpression: filters.join(' AND '), ExpressionAttributeNames: names } : {}),
    ExpressionAttributeValues: values,
  });
  // An attribute of a type DynamoDB does not have today is named in an error, not printed as something else.
  for await (const page of pages) for (const item of page) items.push({ item: unmarshallItem(item, 'throw'), type });
  return items;
}

/** A partition's key value and its filter's values (an old layout's other identities left out), for a Query. */
function partitionValues(partition: IdentityPartition): Record<string, AttributeValue> {
  const values: Record<string, AttributeValue> = { ':pk': { S: partition.pk } };
  for (const [name, value] of Object.entries(partition.filter?.values ?? {})) values[name] = { S: value };
  return values;
}

/** The stored `timestamp`, then the sort key: the order `events` prints in. */
function byTimestamp(a: TypedItem, b: TypedItem): number {
  const [ta, tb] = [String(a.item.timestamp ?? ''), String(b.item.timestamp ?? '')];
  if (ta !== tb) return ta < tb ? -1 : 1;
  const [sa, sb] = [String(a.item.sk), String(b.item.sk)];
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** Yields the user's items of `types` with a stored `timestamp` in [since, until), in `timestamp` order. */
export async function* lookupEvents(
  client: DynamoDBClient,
  tables: Record<EventType, string>,
  query: EventQuery,
): AsyncGenerator<TypedItem> {
  const partitions = identityPartitions(query.sourceId, query.userId, query.anonymousId);
  const range = { since: query.since, until: query.until };
  const perTable = await Promise.all(
    query.types.flatMap((type) => partitions.map((partition) => queryTable(client, tables[type], type, partition, range))),
  );
  yield* perTable.flat().sort(byTimestamp);
}

/**
 * An identity's activity as `segment-ingest profile` prints it, derived at read time from its
 * stored events (the worker keeps no activity): the number of stored events per type, and the
 * earliest and latest stored `timestamp`. Redelivered or replayed events are one item each, so the
 * counts are exact; events erased or expired by the retention are no longer counted.
 */
export interface EventActivity {
  counts: Map<EventType, number>;
  firstSeen: string;
  lastSeen: string;
}

/**
 * One Query per table and identity partition (paginated), projecting only `timestamp`: the sort key
 * starts with the sender's uncorrected time, not the stored `timestamp`, so first and last seen
 * cannot be read with `Limit: 1` and are folded page by page (nothing is held but the three
 * values). A Query is billed by the size of the items it reads whatever it projects, so this costs
 * what `Select: 'COUNT'` would: the identity's stored events, in 4 KB read units (eventually
 * consistent, half a unit each). Undefined when the identity has no stored event.
 */
export async function readActivity(
  client: DynamoDBClient,
  tables: Record<EventType, string>,
  identity: { sourceId: string; userId?: string; anonymousId?: string },
  types: readonly EventType[],
): Promise<EventActivity | undefined> {
  const partitions = identityPartitions(identity.sourceId, identity.userId, identity.anonymousId);
  const perTable = await Promise.all(
    types.flatMap((type) => partitions.map(async (partition) => ({ type, ...(await foldTimestamps(client, tables[type], partition)) }))),
  );
  const counts = new Map<EventType, number>();
  let firstSeen: string | undefined;
  let lastSeen: string | undefined;
  for (const part of perTable) {
    if (part.count === 0) continue;
    counts.set(part.type, (counts.get(part.type) ?? 0) + part.count);
    if (part.first !== undefined && (firstSeen === undefined || part.first < firstSeen)) firstSeen = part.first;
    if (part.last !== undefined && (lastSeen === undefined || part.last > lastSeen)) lastSeen = part.last;
  }
  if (counts.size === 0 || firstSeen === undefined || lastSeen === undefined) return undefined;
  return { counts, firstSeen, lastSeen };
}

/** The count, and the least and greatest `timestamp`, of one table's items of one identity partition. */
async function foldTimestamps(
  client: DynamoDBClient,
  table: string,
  partition: IdentityPartition,
): Promise<{ count: number; first?: string; last?: string }> {
  const { filter } = partition;
  const folded: { count: number; first?: string; last?: string } = { count: 0 };
  const pages = queryPages(client, {
    TableName: table,
    KeyConditionExpression: 'pk = :pk',
    ...(filter ? { FilterExpression: filter.expression } : {}),
    ProjectionExpression: '#t',
    ExpressionAttributeNames: { '#t': 'timestamp', ...filter?.names },
    ExpressionAttributeValues: partitionValues(partition),
  });
  for await (const page of pages) {
    for (const item of page) {
      folded.count++;
      const time = item.timestamp?.S;
      if (time === undefined) continue;
      if (folded.first === undefined || time < folded.first) folded.first = time;
      if (folded.last === undefined || time > folded.last) folded.last = time;
    }
  }
  return folded;
}
