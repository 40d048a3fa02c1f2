/**
 * The `rejected` table (quarantine): its items, written by the worker from the ingest function's
 * quarantine records and from what the worker itself cannot store (lib/worker/quarantine.ts), and
 * read by `segment-ingest rejected` and `status`. Its layout is described in
 * docs/data-model.md#the-quarantine-rejected. An item replayed successfully by `rejected replay`
 * keeps its place, marked with `replayedAt`, and expires with the others (TTL). The CLI's calls
 * here are outside the functions' door (lib/shared/aws-call.ts), like lib/admin/.
 */
import { QueryCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import { RAW_TEXT_LIMIT } from '../shared/config';

/** Sources the service itself writes rejections under, besides real source ids (unreadable queue messages). */
export const UNKNOWN_SOURCE = '(unknown)';

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
export function quarantineItem(fields: QuarantineFields, expiresAtSeconds: number): Record<string, unknown> {
  const { discriminator, ...rest } = fields;
  const item: Record<string, unknown> = {
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

export interface RejectedEntry {
  pk: string;
  sk: string;
  sourceId: string;
  receivedAt: string;
  requestId?: string;
  route: string;
  index?: number;
  messageId?: string;
  reasons: string[];
  raw: string;
  truncated: boolean;
  replayedAt?: string;
}

export interface RejectedQuery {
  /** Sources to read; `undefined` reads the whole table (a Scan). */
  sourceIds?: readonly string[];
  since?: string;
  until?: string;
  includeReplayed: boolean;
  /** Stop after this many (per source when querying by source). */
  limit?: number;
}

function toEntry(item: Record<string, unknown>): RejectedEntry {
  return {
    pk: String(item.pk),
    sk: String(item.sk),
    sourceId: String(item.sourceId ?? item.pk),
    receivedAt: String(item.receivedAt ?? String(item.sk).split('#')[0]),
    requestId: typeof item.requestId === 'string' ? item.requestId : undefined,
    route: String(item.route ?? ''),
    index: item.index === undefined ? undefined : Number(item.index),
    messageId: typeof item.messageId === 'string' ? item.messageId : undefined,
    reasons: Array.isArray(item.reasons) ? item.reasons.map(String) : [],
    raw: String(item.raw ?? ''),
    truncated: item.truncated === true,
    replayedAt: typeof item.replayedAt === 'string' ? item.replayedAt : undefined,
  };
}

/** Rejected entries, newest first. */
export async function listRejected(documents: DynamoDBDocumentClient, table: string, query: RejectedQuery): Promise<RejectedEntry[]> {
  const { lower, upper } = sortKeyRange(query.since, query.until);
  const filter = query.includeReplayed ? undefined : 'attribute_not_exists(replayedAt)';
  const entries: RejectedEntry[] = [];

  if (query.sourceIds === undefined) {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await documents.send(
        new ScanCommand({
          TableName: table,
          ExclusiveStartKey: start,
          FilterExpression: ['sk BETWEEN :lower AND :upper', filter].filter(Boolean).join(' AND '),
          ExpressionAttributeValues: { ':lower': lower, ':upper': upper },
        }),
      );
      entries.push(...(page.Items ?? []).map(toEntry));
      start = page.LastEvaluatedKey;
    } while (start);
  } else {
    const perSource = await Promise.all(
      query.sourceIds.map(async (sourceId) => {
        const found: RejectedEntry[] = [];
        let start: Record<string, unknown> | undefined;
        do {
          const page = await documents.send(
            new QueryCommand({
              TableName: table,
              KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lower AND :upper',
              FilterExpression: filter,
              ExpressionAttributeValues: { ':pk': sourceId, ':lower': lower, ':upper': upper },
              ScanIndexForward: false,
              ExclusiveStartKey: start,
            }),
          );
          found.push(...(page.Items ?? []).map(toEntry));
          start = page.LastEvaluatedKey;
        } while (start && (query.limit === undefined || found.length < query.limit));
        return query.limit === undefined ? found : found.slice(0, query.limit);
      }),
    );
    entries.push(...perSource.flat());
  }
  entries.sort((a, b) => (a.sk < b.sk ? 1 : a.sk > b.sk ? -1 : a.pk.localeCompare(b.pk)));
  return query.limit === undefined ? entries : entries.slice(0, query.limit);
}

/** Marks an entry replayed; false when it is gone (expired or deleted) meanwhile. */
export async function markReplayed(
  documents: DynamoDBDocumentClient,
  table: string,
  entry: Pick<RejectedEntry, 'pk' | 'sk'>,
  at: string,
): Promise<boolean> {
  try {
    await documents.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: entry.pk, sk: entry.sk },
        UpdateExpression: 'SET replayedAt = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':at': at },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/**
 * Sort key bounds for a half-open time range [since, until). Sort keys start with an ISO-8601 time
 * followed by `#`, so `BETWEEN since AND until` includes `since` and excludes `until` itself.
 */
export function sortKeyRange(since: string | undefined, until: string | undefined): { lower: string; upper: string } {
  return { lower: since ?? '0', upper: until ?? '~' };
}
