/**
 * The lake function's work: DynamoDB stream records of the event tables become Parquet files.
 *
 * Only INSERTs are events new to the lake. A sender's retry or a replay rewrites an item that
 * exists (a MODIFY, skipped), and a write that changes nothing (an SQS redelivery) emits no record
 * at all, so each event reaches the lake once. REMOVEs are TTL expiry (the lake keeps its own
 * retention) or erasure sweeps, which compaction applies to the files (compact.ts).
 *
 * Files are named after the first record's sequence number in their partition: Lambda retries a
 * failed batch whole, so a retry writes the same objects again instead of adding copies.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { AttributeValue as LambdaAttributeValue, DynamoDBRecord } from 'aws-lambda';
import type { TableName } from '../../infra';
import { EVENT_TYPES, type EventType } from '../spec/event-types';
import type { Log } from '../shared/log';
import { unmarshallItem, type AttributeMap } from '../tables/dynamo-wire';
import { readEventItem } from '../tables/events';
import { lakeCall, type LakeCalls } from './calls';
import { partitionPrefix, type Partition } from './layout';
import { eventRow, writeParquet, type LakeRow } from './rows';

export interface LakeWriteDeps {
  s3: S3Client;
  bucket: string;
  tables: Record<TableName, string>;
  log: Log;
}

export interface LakeWriteResult {
  /** Events written, and the objects they went to. */
  events: number;
  objects: string[];
  /** Parquet bytes written to those objects. */
  bytes: number;
  /** Records that were not INSERTs of an event table, or held no readable event (logged). */
  skipped: number;
}

interface Group {
  partition: Partition;
  firstSequence: string;
  rows: LakeRow[];
}

/**
 * Writes the events `records` insert, one object per partition; throws when a write fails, so Lambda
 * retries the batch. `calls`: the invocation's deadline and request count (calls.ts).
 */
export async function writeStreamRecords(
  deps: LakeWriteDeps,
  records: readonly DynamoDBRecord[],
  calls?: LakeCalls,
): Promise<LakeWriteResult> {
  const typeOf = tableTypes(deps.tables);
  const groups = new Map<string, Group>();
  let skipped = 0;
  for (const record of records) {
    const type = typeOf.get(tableOfArn(record.eventSourceARN));
    const image = record.dynamodb?.NewImage;
    if (record.eventName !== 'INSERT' || !type || !image) {
      skipped++;
      continue;
    }
    const read = readRecord(deps.log, type, record, image);
    if (!read) {
      skipped++;
      continue;
    }
    const prefix = partitionPrefix(read.partition);
    const group = groups.get(prefix) ?? { partition: read.partition, firstSequence: record.dynamodb?.SequenceNumber ?? '0', rows: [] };
    group.rows.push(read.row);
    groups.set(prefix, group);
  }
  let bytes = 0;
  const objects = await Promise.all(
    [...groups.entries()].map(async ([prefix, group]) => {
      const key = `${prefix}part-${group.firstSequence}.parquet`;
      const body = writeParquet(group.partition.type, group.rows);
      bytes += body.byteLength;
      const command = new PutObjectCommand({ Bucket: deps.bucket, Key: key, Body: body, ContentType: 'application/vnd.apache.parquet' });
      await lakeCall('S3', calls, (abortSignal) => deps.s3.send(command, { abortSignal }));
      return key;
    }),
  );
  return { events: records.length - skipped, objects, bytes, skipped };
}

function readRecord(
  log: Log,
  type: EventType,
  record: DynamoDBRecord,
  image: Record<string, LambdaAttributeValue>,
): { partition: Partition; row: LakeRow } | undefined {
  try {
    const item = unmarshallItem(image as unknown as AttributeMap, 'null');
    const { event, sourceId, receivedAt } = readEventItem(item, type);
    // Items of old layouts may lack a receive time: the record's creation time is the nearest one.
    const received = receivedAt ?? new Date((record.dynamodb?.ApproximateCreationDateTime ?? 0) * 1000).toISOString();
    return { partition: { type, sourceId, day: received.slice(0, 10) }, row: eventRow(type, event, received) };
  } catch (error) {
    // One unreadable item must not hold up its shard for ever: it stays in DynamoDB, the log names it.
    log.error('lake: stream record holds no readable event', { error, eventID: record.eventID, type });
    return undefined;
  }
}

/** Physical table name to event type, from the stage's table names (TABLE_OVERRIDES included). */
function tableTypes(tables: Record<TableName, string>): Map<string, EventType> {
  return new Map(EVENT_TYPES.map((type) => [tables[type], type]));
}

/** `arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>` -> `<name>`. */
export function tableOfArn(arn: string | undefined): string {
  const match = /:table\/([^/]+)\//.exec(arn ?? '');
  return match?.[1] ?? '';
}
