/**
 * Items of the `rejected` table (quarantine): partition by source, sorted by receive time, expiring
 * after the retention. The ingest function's quarantine records become these, and so does what the
 * worker itself cannot store: an unreadable queue message, an event of a type no table holds, and
 * an item DynamoDB refused.
 */
import { createHash } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import { RAW_TEXT_LIMIT, type EventRecord, type RejectedRecord } from '../message/format';
import { readEventItem, type Item } from '../tables/events';
import type { WriteRequest } from './write';

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

/** The longest text kept from a sender's id in a quarantine item (keys and the `messageId` attribute). */
const MAX_KEY_PART = 200;
/** What the raw text, the reasons and the other attributes may take: well under DynamoDB's 400 KB. */
const MAX_REASONS_BYTES = 16 * 1024;

/**
 * The `rejected` table item: partition by source, sorted by receive time; expires after the
 * retention. Its key never embeds an unbounded value (a long id is replaced by its hash) and every
 * attribute is bounded, so the quarantine write cannot be refused for the item it quarantines.
 */
export function quarantineItem(fields: QuarantineFields, expiresAtSeconds: number): Item {
  const { discriminator, ...rest } = fields;
  const item: Item = {
    pk: boundedKeyPart(fields.sourceId),
    sk: `${boundedKeyPart(fields.receivedAt)}#${boundedKeyPart(fields.requestId)}#${boundedKeyPart(discriminator)}`,
    ...rest,
    raw: fields.raw.length > RAW_TEXT_LIMIT ? fields.raw.slice(0, RAW_TEXT_LIMIT) : fields.raw,
    truncated: fields.truncated || fields.raw.length > RAW_TEXT_LIMIT,
    reasons: boundedReasons(fields.reasons),
    expiresAt: expiresAtSeconds,
  };
  if (fields.messageId !== undefined && fields.messageId.length > MAX_KEY_PART)
    item.messageId = `${fields.messageId.slice(0, MAX_KEY_PART)}…`;
  return item;
}

/** Text for a key: as is when short, else a readable head and the SHA-256 of the whole. */
export function boundedKeyPart(text: string): string {
  if (text.length <= MAX_KEY_PART) return text;
  return `${text.slice(0, 32)}…sha256:${createHash('sha256').update(text).digest('hex')}`;
}

function boundedReasons(reasons: readonly string[]): string[] {
  const kept: string[] = [];
  let bytes = 0;
  for (const reason of reasons) {
    const text = reason.length > 1000 ? `${reason.slice(0, 1000)}…` : reason;
    bytes += text.length * 3;
    if (bytes > MAX_REASONS_BYTES) {
      kept.push(`(and ${reasons.length - kept.length} more reasons)`);
      break;
    }
    kept.push(text);
  }
  return kept;
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
      sourceId: origin?.sourceId ?? '(unknown)',
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
