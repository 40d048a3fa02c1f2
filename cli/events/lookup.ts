/**
 * A user's stored events in event-time order, across the per-type tables: each table is queried by
 * partition key with a sort-key range (sort keys start with the ISO-8601 timestamp), and the
 * ordered streams are merged by sort key, one page at a time, so a long history is never held in
 * memory whole.
 */
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { EventType } from '../../lib/spec/event-types';
import { eventPartitionKey } from '../../lib/worker/items';
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

/** One table's items for the query, in sort-key order, page by page. */
async function* queryTable(
  documents: DynamoDBDocumentClient,
  table: string,
  pk: string,
  lower: string,
  upper: string,
): AsyncGenerator<Item> {
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
    yield* (page.Items ?? []) as Item[];
    start = page.LastEvaluatedKey;
  } while (start);
}

/** Yields the user's events of `types` in [since, until), ordered by timestamp, then messageId. */
export async function* lookupEvents(
  documents: DynamoDBDocumentClient,
  tables: Record<EventType, string>,
  query: EventQuery,
): AsyncGenerator<Item> {
  const pk = eventPartitionKey(query.sourceId, query.userId, query.anonymousId);
  const { lower, upper } = sortKeyRange(query.since, query.until);
  const streams = query.types.map((type) => queryTable(documents, tables[type], pk, lower, upper));
  const heads = await Promise.all(streams.map((stream) => stream.next()));
  for (;;) {
    let best = -1;
    heads.forEach((head, i) => {
      if (head.done) return;
      const current = best === -1 ? undefined : heads[best];
      if (!current || current.done || String(head.value.sk) < String(current.value.sk)) best = i;
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
const TRAILING = ['sourceId', 'receivedAt', 'storedAs', 'pk', 'sk'];

/**
 * An item as printed: the event's fields first in a fixed order (DynamoDB keeps no attribute
 * order), the service's own attributes last; an event stored as JSON text (`storedAs: "json"`)
 * is expanded into its fields.
 */
export function eventForOutput(stored: Item): Item {
  let item = stored;
  if (item.storedAs === 'json' && typeof item.json === 'string') {
    const { json, ...meta } = item;
    try {
      item = { ...meta, ...(JSON.parse(json) as Item) };
    } catch {
      // Left as stored: the text is shown as is.
    }
  }
  const ordered: Item = {};
  for (const field of LEADING) if (field in item) ordered[field] = item[field];
  for (const field of Object.keys(item).sort()) if (!LEADING.includes(field) && !TRAILING.includes(field)) ordered[field] = item[field];
  for (const field of TRAILING) if (field in item) ordered[field] = item[field];
  return ordered;
}
