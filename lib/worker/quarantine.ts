/**
 * Items of the `rejected` table (quarantine): partition by source, sorted by receive time, expiring
 * after the retention. The ingest function's quarantine records become these, and so does what the
 * worker itself cannot store: an unreadable queue message, an event of a type no table holds, and
 * an item DynamoDB refused.
 */
import type { SQSRecord } from 'aws-lambda';
import { RAW_TEXT_LIMIT, type EventRecord, type RejectedRecord } from '../message/format';
import type { Item } from './items';

export interface QuarantineFields {
  sourceId: string;
  receivedAt: string;
  requestId: string;
  route: string;
  raw: string;
  rawBytes: number;
  truncated: boolean;
  reasons: string[];
  index?: number;
  messageId?: string;
  /** Distinguishes several quarantine records of one request (SQS message id, item index). */
  discriminator: string;
}

/** The `rejected` table item: partition by source, sorted by receive time; expires after the retention. */
export function quarantineItem(fields: QuarantineFields, expiresAtSeconds: number): Item {
  const { discriminator, ...rest } = fields;
  return {
    pk: fields.sourceId,
    sk: `${fields.receivedAt}#${fields.requestId}#${discriminator}`,
    ...rest,
    expiresAt: expiresAtSeconds,
  };
}

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
      sourceId: '(unknown)',
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

/** An item DynamoDB refused for good, kept as its JSON text with the reason. */
export function refusedItem(item: Item, reason: string, fallbackReceivedAt: string, expiresAtSeconds: number): Item {
  const raw = JSON.stringify(item);
  return quarantineItem(
    {
      sourceId: String(item.sourceId ?? '(unknown)'),
      receivedAt: String(item.receivedAt ?? fallbackReceivedAt),
      requestId: String(item.requestId ?? ''),
      route: 'worker',
      raw: raw.slice(0, RAW_TEXT_LIMIT),
      rawBytes: Buffer.byteLength(raw),
      truncated: raw.length > RAW_TEXT_LIMIT,
      reasons: [reason],
      messageId: typeof item.messageId === 'string' ? item.messageId : undefined,
      discriminator: `refused#${String(item.pk)}#${String(item.sk)}`,
    },
    expiresAtSeconds,
  );
}
