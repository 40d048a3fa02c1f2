/**
 * What the worker quarantines, as items of the `rejected` table (lib/tables/rejected.ts): the ingest
 * function's quarantine records, and what the worker itself cannot store: an unreadable queue
 * message, an event of a type no table holds, and an item DynamoDB refused.
 */
import { createHash } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import { RAW_TEXT_LIMIT } from '../shared/config';
import type { EventRecord, RejectedRecord } from '../message/format';
import { readEventItem, type Item } from '../tables/events';
import { quarantineItem, UNKNOWN_SOURCE } from '../tables/rejected';
import type { WriteRequest } from './write';

export function rejectedRecordItem(record: RejectedRecord, expiresAtSeconds: number): Item {
  return quarantineItem(
    {
      sourceId: record.sourceId,
      receivedAt: record.receivedAt,
      requestId: record.requestId,
      route: record.route,
      raw: record.raw,
      rawBytes: record.rawBytes,
      truncated: record.truncated,
      reasons: record.reasons,
      ...(record.index === undefined ? {} : { index: record.index }),
      ...(record.messageId === undefined ? {} : { messageId: record.messageId }),
      discriminator: record.index === undefined ? 'body' : String(record.index),
    },
    expiresAtSeconds,
  );
}

/** A queue message that is not a v1 message: kept whole (up to the raw-text limit) under `(unknown)`. */
export function unreadableMessageItem(message: SQSRecord, reason: string, expiresAtSeconds: number): Item {
  const sentAt = Number(message.attributes?.SentTimestamp);
  const raw = message.body;
  return quarantineItem(
    {
      sourceId: UNKNOWN_SOURCE,
      receivedAt: new Date(Number.isFinite(sentAt) && sentAt > 0 ? sentAt : Date.now()).toISOString(),
      requestId: message.messageId,
      route: 'sqs',
      raw: raw.slice(0, RAW_TEXT_LIMIT),
      rawBytes: Buffer.byteLength(raw),
      truncated: raw.length > RAW_TEXT_LIMIT,
      reasons: [reason],
      discriminator: message.messageId,
    },
    expiresAtSeconds,
  );
}

/** An event record of a type no table stores (a message written by a newer or older ingest). */
export function unknownTypeItem(record: EventRecord, messageId: string, expiresAtSeconds: number): Item {
  const raw = JSON.stringify(record.event);
  return quarantineItem(
    {
      sourceId: record.sourceId,
      receivedAt: record.receivedAt,
      requestId: record.requestId,
      route: 'worker',
      raw,
      rawBytes: Buffer.byteLength(raw),
      truncated: false,
      reasons: [`no table stores events of type "${record.event.type}"`],
      messageId: record.event.messageId,
      discriminator: `${messageId}#${record.event.messageId}`,
    },
    expiresAtSeconds,
  );
}

/**
 * An item DynamoDB refused for good, kept with the reason as the event's JSON text (read back from
 * the item, so `rejected replay` can send it again); `identity` tells it from the others of its request.
 */
export function refusedItem(
  write: WriteRequest,
  identity: string,
  reason: string,
  fallbackReceivedAt: string,
  expiresAtSeconds: number,
): Item {
  const { origin } = write;
  const raw = JSON.stringify(origin ? readEventItem(write.item, origin.type).event : write.item);
  return quarantineItem(
    {
      sourceId: origin?.sourceId ?? UNKNOWN_SOURCE,
      receivedAt: origin?.receivedAt ?? fallbackReceivedAt,
      requestId: origin?.requestId ?? '',
      route: 'worker',
      raw: raw.slice(0, RAW_TEXT_LIMIT),
      rawBytes: Buffer.byteLength(raw),
      truncated: raw.length > RAW_TEXT_LIMIT,
      reasons: [reason],
      messageId: origin?.messageId,
      // The refused item's key may be what DynamoDB refused (too long): only its hash goes into ours.
      discriminator: `refused#${createHash('sha256').update(identity).digest('hex')}`,
    },
    expiresAtSeconds,
  );
}
