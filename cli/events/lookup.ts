/**
 * How `segment-ingest events` prints a stored event: the event as it was sent (read back by
 * lib/tables/events.ts) with its fields in a fixed order, then what the service added.
 */
import { setOwn } from '../../lib/shared/own-keys';
import { readEventItem, type TypedItem } from '../../lib/tables/events';

type Item = Record<string, unknown>;

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
