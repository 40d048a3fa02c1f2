/**
 * lib/lake's AWS calls go through the one door (lib/lake/calls.ts, lib/shared/aws-call.ts), against
 * the S3 emulator and DynamoDB Local: each invocation counts its requests, stops at its deadline
 * without sending, and what S3 or DynamoDB answers arrives in our error classes, not as the SDK threw it.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import type { Context, DynamoDBRecord } from 'aws-lambda';
import { tableNames } from '../../../infra';
import { invocationCalls, LAKE_SAFETY_MARGIN_MS } from '../../../lib/lake/calls';
import { compactLake } from '../../../lib/lake/compact';
import { createLakeHandler } from '../../../lib/lake/handler';
import { listLake } from '../../../lib/lake/objects';
import { writeStreamRecords, type LakeWriteDeps } from '../../../lib/lake/write';
import { createDynamoClients, createS3Client } from '../../../lib/shared/clients';
import { ConfigurationError, TransientError } from '../../../lib/shared/errors';
import { silentLog, type Log } from '../../../lib/shared/log';
import { noMeter } from '../../../lib/shared/metrics';
import { marshallItem } from '../../../lib/tables/dynamo-wire';
import { testStage } from '../../support/stack';

const stage = testStage();
const tables = tableNames(stage);
const s3 = createS3Client({ region: 'us-east-1', s3Endpoint: process.env.TEST_S3_ENDPOINT });
const bucket = `lake-calls-${stage}`;
const infos: Array<[string, Record<string, unknown> | undefined]> = [];
const log: Log = { ...silentLog, info: (message, extra) => infos.push([message, extra]) };
const deps: LakeWriteDeps = { s3, bucket, tables, log };

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(() => s3.destroy());

function record(messageId: string, day: string, sequence: string): DynamoDBRecord {
  const item = { pk: 'web#u1', sk: `${day}T10:00:00.000Z#${messageId}`, _r: Date.parse(`${day}T10:00:01.000Z`), event: 'Signed Up' };
  return {
    eventName: 'INSERT',
    eventSourceARN: `arn:aws:dynamodb:us-east-1:123456789012:table/${tables.track}/stream/2026-12-07T00:00:00.000`,
    eventID: `id-${sequence}`,
    dynamodb: { SequenceNumber: sequence, NewImage: marshallItem(item) as never },
  };
}

/** The part of Lambda's context the handlers read. */
const context = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs }) as Context;

describe('the lake calls', () => {
  it('counts every request an invocation sends, and the handler logs the count', async () => {
    // Prepare
    const calls = invocationCalls(60_000);

    // Act
    const result = await writeStreamRecords(deps, [record('c1', '2026-12-01', '10'), record('c2', '2026-12-02', '11')], calls);
    await createLakeHandler({ ...deps, meter: noMeter })({ Records: [record('c3', '2026-12-03', '12')] }, context(60_000));

    // Assess
    expect(result.objects).toHaveLength(2);
    expect(calls.counter.requests).toBe(2);
    expect(infos).toContainEqual(['lake: wrote', expect.objectContaining({ objects: 1, requests: 1 })]);
  });

  it('sends nothing once the invocation is within its safety margin of the end, and says so as a transient failure', async () => {
    // Act
    const handler = createLakeHandler({ ...deps, meter: noMeter });
    const failure = await handler({ Records: [record('late', '2026-12-04', '20')] }, context(LAKE_SAFETY_MARGIN_MS - 1)).catch(
      (error: unknown) => error,
    );

    // Assess: Lambda retries the batch; no object was written.
    expect(failure).toBeInstanceOf(TransientError);
    expect(failure).toMatchObject({ service: 'S3', code: 'DeadlineError' });
    expect(await listLake(s3, bucket, 'tracks/source_id=web/dt=2026-12-04/')).toEqual([]);
  });

  it("translates S3's answer into our classes: a missing bucket is a configuration error", async () => {
    const failure = await writeStreamRecords({ ...deps, bucket: `${bucket}-missing` }, [record('m', '2026-12-05', '30')]).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ConfigurationError);
    expect(failure).toMatchObject({ service: 'S3', code: 'NoSuchBucket' });
  });

  it("translates DynamoDB's answer into our classes: compaction without an erasures table is a configuration error", async () => {
    // Prepare: the stage's tables were never created in DynamoDB Local.
    const { documents } = createDynamoClients({
      region: 'us-east-1',
      dynamodbEndpoint: process.env.TEST_DYNAMODB_ENDPOINT,
      sqsEndpoint: undefined,
    });

    // Act
    const failure = await compactLake({
      s3,
      bucket,
      documents,
      tables,
      hashKey: 'k'.repeat(32),
      log: silentLog,
      now: () => Date.now(),
    }).catch((error: unknown) => error);
    documents.destroy();

    // Assess
    expect(failure).toBeInstanceOf(ConfigurationError);
    expect(failure).toMatchObject({ service: 'DynamoDB', code: 'ResourceNotFoundException' });
  });
});
