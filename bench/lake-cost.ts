/**
 * The lake's cost per million events, measured in process: the bench's realistic events become
 * event items (the worker's own `eventItem`), stream records of batches of 1,000 (the trigger's
 * batch size), and go through the lake function's `writeStreamRecords` with S3 answered in process
 * (its bytes counted). Priced: Lambda (invocations and measured CPU time at the function's memory),
 * S3 PUTs of the stream files and compaction's GET of each, storage for a month. Batches are full
 * (1,000 records): at lower traffic the 60 s batching window makes smaller ones, and S3 requests
 * per event grow in proportion. Part of `npm run bench`
 * (its `lake` section); `npx tsx bench/lake-cost.ts [events]` prints it alone as one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBRecord } from 'aws-lambda';
import { tableNames } from '../infra';
import { silentLog } from '../lib/shared/log';
import { writeStreamRecords } from '../lib/lake/write';
import { marshallItem } from '../lib/tables/dynamo-wire';
import { eventItem } from '../lib/tables/events';
import { isEventType, type SegmentEvent } from '../lib/spec/event-types';
import { makeEvents } from './fixtures';
import { PRICES } from './prices';

/** S3 list prices (us-east-1, Standard): per PUT/DELETE-class and GET request, per GB-month. */
const S3 = { perPut: 0.005 / 1000, perGet: 0.0004 / 1000, perGbMonth: 0.023 };
const BATCH = 1000;
const MEMORY_GB = 1;

export interface LakeCost {
  events: number;
  /** Stream records per invocation (the trigger's batch size). */
  batch: number;
  msPerBatch: number;
  bytesPerEvent: number;
  lambdaPerMillion: number;
  s3RequestsPerMillion: number;
  storagePerMillionPerMonth: number;
  /** Lambda + S3 requests + a month of storage, USD per million events. */
  costPerMillion: number;
}

/** The most the lake may add per million events (issue 24), beside the pipeline's own cost. */
export const LAKE_TARGET_PER_MILLION = 0.05;

/** An S3 client answered in process, as bench/fake-aws.ts answers DynamoDB and SQS: each PutObject's 200, its bytes counted. */
function countingS3(): { s3: S3Client; counts: { puts: number; bytes: number } } {
  const counts = { puts: 0, bytes: 0 };
  const s3 = new S3Client({
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    requestHandler: {
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
      handle(request: { body?: Uint8Array }) {
        counts.puts++;
        counts.bytes += request.body?.byteLength ?? 0;
        return Promise.resolve({ response: { statusCode: 200, headers: { etag: '"x"' }, body: new Uint8Array() } });
      },
    } as never,
  });
  return { s3, counts };
}

/** The bench's events as the stream records of their inserted items. */
function streamRecords(count: number, tables: ReturnType<typeof tableNames>): DynamoDBRecord[] {
  return makeEvents(count).flatMap((event, i) => {
    const type = String(event.type);
    if (!isEventType(type)) return [];
    const item = eventItem({
      kind: 'event',
      sourceId: 'web',
      receivedAt: '2026-03-14T10:00:00.000Z',
      requestId: 'r',
      event: event as SegmentEvent,
    });
    const arn = `arn:aws:dynamodb:us-east-1:1:table/${tables[type]}/stream/x`;
    return [{ eventName: 'INSERT', eventSourceARN: arn, dynamodb: { SequenceNumber: String(i), NewImage: marshallItem(item) as never } }];
  });
}

/** Writes `count` events through the lake function in batches of 1,000 and prices what it did, per million events. */
export async function measureLakeCost(count = 20_000): Promise<LakeCost> {
  const { s3, counts } = countingS3();
  const tables = tableNames('bench');
  const records = streamRecords(count, tables);
  const deps = { s3, bucket: 'bench', tables, log: silentLog };
  await writeStreamRecords(deps, records.slice(0, BATCH)); // warm-up, not counted
  counts.puts = 0;
  counts.bytes = 0;
  const started = performance.now();
  for (let i = 0; i < records.length; i += BATCH) await writeStreamRecords(deps, records.slice(i, i + BATCH));
  const ms = performance.now() - started;
  const m = 1e6 / records.length;
  const batches = Math.ceil(records.length / BATCH);
  const lambda = batches * m * PRICES.lambdaPerInvocation + (ms / 1000) * MEMORY_GB * m * PRICES.lambdaPerGbSecondArm;
  // Each stream file is written once, and read once by compaction, which writes one file per partition
  // and day (a handful, left out) and deletes the rest (DELETE requests are free).
  const s3Requests = counts.puts * m * (S3.perPut + S3.perGet);
  const storage = ((counts.bytes * m) / 1024 ** 3) * S3.perGbMonth;
  const round = (n: number) => Math.round(n * 10_000) / 10_000;
  return {
    events: records.length,
    batch: BATCH,
    msPerBatch: round(ms / batches),
    bytesPerEvent: round(counts.bytes / records.length),
    lambdaPerMillion: round(lambda),
    s3RequestsPerMillion: round(s3Requests),
    storagePerMillionPerMonth: round(storage),
    costPerMillion: round(lambda + s3Requests + storage),
  };
}

if (require.main === module) {
  void measureLakeCost(process.argv[2] === undefined ? undefined : Number(process.argv[2])).then((cost) =>
    console.log(JSON.stringify(cost)),
  );
}
