/**
 * A user's stored events in event-time order, across the per-type tables: each table is queried by
 * partition key with a sort-key range (sort keys start with the ISO-8601 timestamp), and the
 * ordered streams are merged by sort key, one page at a time, so a long history is never held in
 * memory whole.
 */
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { EventType } from '../../lib/spec/event-types';
import { eventPartitionKey, readEventItem } from '../../lib/worker/items';
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

/** One table's items for the query, in sort-key order, page by page. */
async function* queryTable(
  documents: DynamoDBDocumentClient,
  table: string,
  type: EventType,
  pk: string,
  lower: string,
  upper: string,
): AsyncGenerator<TypedItem> {
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lower AND :upper',
        ExpressionAttributeValues: { ':pk': pk, ':lower': lower, ':upper': upper },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of (page.Items ?? []) as Item[]) yield { item, type };
    start = page.LastEvaluatedKey;
  } while (start);
}

/** Yields the user's items of `types` with a key time in [since, until), ordered by sort key (key time, then messageId). */
export async function* lookupEvents(
  documents: DynamoDBDocumentClient,
  tables: Record<EventType, string>,
  query: EventQuery,
): AsyncGenerator<TypedItem> {
  const pk = eventPartitionKey(query.sourceId, query.userId, query.anonymousId);
  const { lower, upper } = sortKeyRange(query.since, query.until);
  const streams = query.types.map((type) => queryTable(documents, tables[type], type, pk, lower, upper));
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
    ordered[TRAILING.includes(field) ? `event_${field}` : field] = event[field];
  }
  ordered.sourceId = stored.sourceId;
  if (stored.receivedAt !== undefined) ordered.receivedAt = stored.receivedAt;
  ordered.pk = item.pk;
  ordered.sk = item.sk;
  return ordered;
}
