/**
 * A user's stored events in event-time order, across the per-type tables: each table is queried by
 * partition key (every partition of the identity, items.ts `identityPartitions`) with a sort-key range (sort keys start with the ISO-8601 timestamp), and the
 * ordered streams are merged by sort key, one page at a time, so a long history is never held in
 * memory whole.
 *
 * Items are read with the low-level client and turned into JSON by the worker's own reader of the
 * wire form (lib/worker/dynamo-wire.ts `unmarshallItem`), which keeps every field an event sent:
 * the document client's conversion drops a field named `__proto__` at any depth. The SDK's
 * response parser still loses the value of a top-level attribute of that name (@smithy/core
 * 3.41's JsonShapeDeserializer redefines the key as undefined before reading a map it transforms
 * in place): the item holds it, a raw GetItem shows it, this prints the event without it.
 */
import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { setOwn } from '../../lib/shared/own-keys';
import type { EventType } from '../../lib/spec/event-types';
import { unmarshallItem } from '../../lib/worker/dynamo-wire';
import { identityPartitions, readEventItem, type IdentityPartition } from '../../lib/worker/items';
import { sortKeyRange } from '../core/time';

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

/** One table's items of one partition for the query, in sort-key order, page by page. */
async function* queryTable(
  client: DynamoDBClient,
  table: string,
  type: EventType,
  partition: IdentityPartition,
  lower: string,
  upper: string,
): AsyncGenerator<TypedItem> {
  const { filter } = partition;
  const filterValues = Object.fromEntries(Object.entries(filter?.values ?? {}).map(([name, value]) => [name, { S: value }]));
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lower AND :upper',
        // Where an old layout put another identity's items in the same partition, only this one's.
        FilterExpression: filter?.expression,
        ExpressionAttributeNames: filter?.names,
        ExpressionAttributeValues: { ':pk': { S: partition.pk }, ':lower': { S: lower }, ':upper': { S: upper }, ...filterValues },
        ExclusiveStartKey: start,
      }),
    );
    // An attribute of a type DynamoDB does not have today is named in an error, not printed as something else.
    for (const item of page.Items ?? []) yield { item: unmarshallItem(item, 'throw'), type };
    start = page.LastEvaluatedKey;
  } while (start);
}

/** Yields the user's items of `types` with a key time in [since, until), ordered by sort key (key time, then messageId). */
export async function* lookupEvents(
  client: DynamoDBClient,
  tables: Record<EventType, string>,
  query: EventQuery,
): AsyncGenerator<TypedItem> {
  const partitions = identityPartitions(query.sourceId, query.userId, query.anonymousId);
  const { lower, upper } = sortKeyRange(query.since, query.until);
  const streams = query.types.flatMap((type) =>
    partitions.map((partition) => queryTable(client, tables[type], type, partition, lower, upper)),
  );
  const heads = await Promise.all(streams.map((stream) => stream.next()));
  for (;;) {
    let best = -1;
    heads.forEach((head, i) => {
      if (head.done) return;
      const current = best === -1 ? undefined : heads[best];
      if (!current || current.done || String(head.value.item.sk) < String(current.value.item.sk)) best = i;
    });
    if (best === -1) return;
    const head = heads[best];
    const stream = streams[best];
    if (!head || head.done || !stream) return;
    yield head.value;
    heads[best] = await stream.next();
  }
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
 * An item as printed: the event as it was sent (read back from the item layout, lib/worker/items.ts)
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
