/**
 * A user's stored events in the order of their stored `timestamp` (the time a user reads in each
 * event), across the per-type tables. The sort key cannot give that order: it starts with the
 * sender's own time for the event (its device clock, uncorrected), or a fixed `0000-00-00…` for an
 * event sent without a time, so the partition is queried whole (a Query per table, never a scan),
 * filtered by `timestamp` on DynamoDB's side, and sorted here. A user's events in the range are
 * held in memory at once; `--since` keeps that to the part asked for.
 *
 * Items are read with the low-level client and turned into JSON by the worker's own reader of the
 * wire form (lib/tables/dynamo-wire.ts `unmarshallItem`), which keeps every field an event sent:
 * the document client's conversion drops a field named `__proto__` at any depth. The SDK's
 * response parser still loses the value of a top-level attribute of that name (@smithy/core
 * 3.41's JsonShapeDeserializer redefines the key as undefined before reading a map it transforms
 * in place): the item holds it, a raw GetItem shows it, this prints the event without it.
 */
import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { setOwn } from '../../lib/shared/own-keys';
import type { EventType } from '../../lib/spec/event-types';
import { unmarshallItem } from '../../lib/tables/dynamo-wire';
import { identityPartitions, readEventItem, type IdentityPartition } from '../../lib/tables/events';

export interface EventQuery {
  sourceId: string;
  userId?: string;
  anonymousId?: string;
  types: readonly EventType[];
  since?: string;
  until?: string;
}

type Item = Record<string, unknown>;

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
  const values: Record<string, AttributeValue> = { ':pk': { S: partition.pk } };
  if (range.since !== undefined) values[':since'] = { S: range.since };
  if (range.until !== undefined) values[':until'] = { S: range.until };
  for (const [name, value] of Object.entries(filter?.values ?? {})) values[name] = { S: value };
  const names = { ...(range.since !== undefined || range.until !== undefined ? { '#t': 'timestamp' } : {}), ...filter?.names };
  const items: TypedItem[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ...(filters.length > 0 ? { FilterExpression: filters.join(' AND '), ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: values,
        ExclusiveStartKey: start,
      }),
    );
    // An attribute of a type DynamoDB does not have today is named in an error, not printed as something else.
    for (const item of page.Items ?? []) items.push({ item: unmarshallItem(item, 'throw'), type });
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
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

/** Fields shown first, in this order; then the event's other fields; then what the service added. */
const LEADING = [
  'type',
  'timestamp',
  'messageId',
  'userId',
  'anonymousId',
  'event',
  'name',
  'category',
  'groupId',
  'previousId',
  'properties',
  'traits',
  'context',
  'integrations',
];
const TRAILING = ['sourceId', 'receivedAt', 'pk', 'sk'];

/**
 * An item as printed: the event as it was sent (read back from the item layout, lib/tables/events.ts)
 * with its fields first in a fixed order (DynamoDB keeps no attribute order), then what the service
 * added: `sourceId`, `receivedAt` (when this service received it) and the keys. An event's own
 * `receivedAt` (Segment's) is printed as `event_receivedAt`, as are its own `sourceId`, `pk`, `sk`.
 */
export function eventForOutput({ item, type }: TypedItem): Item {
  const stored = readEventItem(item, type);
  const ordered: Item = {};
  const { event } = stored;
  const fields = Object.keys(event);
  for (const field of LEADING) if (fields.includes(field)) ordered[field] = event[field];
  for (const field of fields.sort()) {
    if (LEADING.includes(field)) continue;
    setOwn(ordered, TRAILING.includes(field) ? `event_${field}` : field, event[field]);
  }
  ordered.sourceId = stored.sourceId;
  if (stored.receivedAt !== undefined) ordered.receivedAt = stored.receivedAt;
  ordered.pk = item.pk;
  ordered.sk = item.sk;
  return ordered;
}
