/**
 * lib/lake/write.ts and handler.ts against the S3 emulator: which stream records become rows, where
 * their files go, that a retried batch writes the same objects, and what the lake function refuses
 * at cold start.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import type { DynamoDBRecord } from 'aws-lambda';
import { tableNames } from '../../../infra';
import { createCompactHandler, createLakeHandler, loadLakeDeps } from '../../../lib/lake/handler';
import { listLake } from '../../../lib/lake/objects';
import { readParquet } from '../../../lib/lake/rows';
import { tableOfArn, writeStreamRecords, type LakeWriteDeps } from '../../../lib/lake/write';
import { createS3Client } from '../../../lib/shared/clients';
import { silentLog, type Log } from '../../../lib/shared/log';
import type { Meter } from '../../../lib/shared/metrics';
import { marshallItem } from '../../../lib/tables/dynamo-wire';
import { testStage } from '../../support/stack';
import { provisionTables } from '../../../local/provision';

const stage = testStage();
const tables = tableNames(stage);
const s3 = createS3Client({ region: 'us-east-1', s3Endpoint: process.env.TEST_S3_ENDPOINT });
const bucket = `lake-unit-${stage}`;
const errors: Array<Record<string, unknown> | undefined> = [];
const log: Log = { ...silentLog, error: (_message, extra) => errors.push(extra) };
const deps: LakeWriteDeps = { s3, bucket, tables, log };

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(() => s3.destroy());

const arn = (type: string) => `arn:aws:dynamodb:us-east-1:123456789012:table/${tables[type as 'track']}/stream/2026-12-07T00:00:00.000`;

function record(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', type: string, item: Record<string, unknown>, sequence: string): DynamoDBRecord {
  return {
    eventName,
    eventSourceARN: arn(type),
    eventID: `id-${sequence}`,
    dynamodb: { SequenceNumber: sequence, NewImage: marshallItem(item) as never, ApproximateCreationDateTime: 1_796_600_000 },
  };
}

const item = (messageId: string, extra: Record<string, unknown> = {}) => ({
  pk: 'web#u1',
  sk: `2026-12-07T10:00:00.000Z#${messageId}`,
  _r: Date.parse('2026-12-07T10:00:01.000Z'),
  timestamp: '2026-12-07T10:00:00.000Z',
  event: 'Signed Up',
  properties: { plan: 'pro' },
  ...extra,
});

describe('writeStreamRecords', () => {
  it('writes the INSERTs of an event table, one file per partition named by its first sequence number', async () => {
    const result = await writeStreamRecords(deps, [
      record('INSERT', 'track', item('m1'), '100'),
      record('MODIFY', 'track', item('m2'), '101'),
      record('REMOVE', 'track', item('m3'), '102'),
      record('INSERT', 'rejected', item('m4'), '103'),
      record('INSERT', 'track', item('m5', { _r: Date.parse('2026-12-08T00:00:00.000Z') }), '104'),
    ]);
    expect(result).toEqual({
      events: 2,
      skipped: 3,
      objects: ['tracks/source_id=web/dt=2026-12-07/part-100.parquet', 'tracks/source_id=web/dt=2026-12-08/part-104.parquet'],
      bytes: expect.any(Number) as number,
    });
    const files = await listLake(s3, bucket, 'tracks/source_id=web/dt=2026-12-0');
    expect(result.bytes).toBe(files.reduce((sum, file) => sum + file.size, 0));
    const { Body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: result.objects[0] }));
    const rows = await readParquet(await Body!.transformToByteArray());
    expect(rows).toEqual([
      expect.objectContaining({ message_id: 'm1', user_id: 'u1', event: 'Signed Up', properties: '{"plan":"pro"}', extra: null }),
    ]);
    expect(rows[0]?.received_at).toEqual(new Date('2026-12-07T10:00:01.000Z'));
  });

  it('writes the same objects again when Lambda retries the batch, adding no copy', async () => {
    const batch = [record('INSERT', 'page', { ...item('p1'), name: 'Home' }, '200')];
    await writeStreamRecords(deps, batch);
    await writeStreamRecords(deps, batch);
    expect((await listLake(s3, bucket, 'pages/')).map((o) => o.key)).toEqual(['pages/source_id=web/dt=2026-12-07/part-200.parquet']);
  });

  it('skips and logs an item that holds no readable event, and dates an item without a receive time by its record', async () => {
    errors.length = 0;
    const broken = { pk: 'web#u1', sk: '2026-12-07T10:00:00.000Z#bad', _json: '{not json', timestamp: '2026-12-07T10:00:00.000Z' };
    const { _r: _dropped, ...old } = item('old');
    const result = await writeStreamRecords(deps, [record('INSERT', 'screen', broken, '300'), record('INSERT', 'screen', old, '301')]);
    expect(result.skipped).toBe(1);
    expect(errors).toEqual([expect.objectContaining({ eventID: 'id-300', type: 'screen' })]);
    expect(result.objects).toEqual(['screens/source_id=web/dt=2026-12-06/part-301.parquet']);
  });

  it('reads the table name from a stream ARN', () => {
    expect(tableOfArn(arn('track'))).toBe(tables.track);
    expect(tableOfArn(undefined)).toBe('');
  });
});

describe('the lake function', () => {
  const env = { STAGE: stage, LAKE_BUCKET: bucket, S3_ENDPOINT: process.env.TEST_S3_ENDPOINT, ERASURE_HASH_KEY: 'k'.repeat(32) };

  it('refuses to start without its bucket or the erasure hash key, naming both', () => {
    expect(() => loadLakeDeps({ STAGE: stage })).toThrow(/LAKE_BUCKET is required.*ERASURE_HASH_KEY is required/);
  });

  it('handles a stream batch and a scheduled compaction with the dependencies of its environment, and counts them', async () => {
    const counts = new Map<string, number>();
    let flushes = 0;
    // A meter that keeps the counts: the EMF lines Powertools makes of them are tests/unit/shared/metrics.test.ts's.
    const meter: Meter = {
      count: (name, value) => void counts.set(name, (counts.get(name) ?? 0) + value),
      latency() {},
      flush: () => void flushes++,
    };
    const lake = { ...loadLakeDeps({ ...env, DYNAMODB_ENDPOINT: process.env.TEST_DYNAMODB_ENDPOINT }), log: silentLog, meter };
    const written = await createLakeHandler(lake)({ Records: [record('INSERT', 'alias', { ...item('a1'), previousId: 'anon-1' }, '400')] });
    expect(written.objects).toEqual(['aliases/source_id=web/dt=2026-12-07/part-400.parquet']);
    const [file] = await listLake(s3, bucket, 'aliases/source_id=web/dt=2026-12-07/part-400');
    expect(Object.fromEntries(counts)).toEqual({ LakeFilesWritten: 1, LakeRowsWritten: 1, LakeBytesWritten: file?.size });
    expect(file?.size).toBeGreaterThan(0);
    expect(flushes).toBe(1);
    const dynamodb = new DynamoDBClient({ region: 'us-east-1', endpoint: process.env.TEST_DYNAMODB_ENDPOINT });
    await provisionTables(dynamodb, stage);
    dynamodb.destroy();
    // Two files of a finished day (2026-12-07 is in the past of the job's clock) become one.
    await createLakeHandler(lake)({ Records: [record('INSERT', 'alias', { ...item('a2'), previousId: 'anon-2' }, '401')] });
    const compacted = await createCompactHandler({ ...lake, now: () => Date.parse('2026-12-09T00:00:00.000Z') })();
    expect(compacted).toMatchObject({ filesWritten: 1, rowsErased: 0, erasuresSwept: 0 });
    expect(compacted.rewritten).toContain('aliases/source_id=web/dt=2026-12-07/part-400.parquet');
    expect(counts.get('LakeFilesCompacted')).toBe(compacted.rewritten.length);
    expect(counts.get('LakeRowsErased')).toBe(0);
    expect(flushes).toBe(3);
    lake.s3.destroy();
  });
});
