/**
 * The benchmark's accounting: item sizes as DynamoDB bills them and the cost model's arithmetic.
 */
import { dynamoItemBytes, eventItemBytes } from '../../../bench/fake-aws';
import { shapeCost, siteDayCost } from '../../../bench/cost';
import type { IngestMeasurement, WorkerMeasurement } from '../../../bench/in-process';
import type { NaiveMeasurement } from '../../../bench/naive';
import { DEPLOYMENT, ingestMemoryMbOf } from '../../../bench/prices';

describe('dynamoItemBytes', () => {
  it('counts names and values as DynamoDB bills them', () => {
    expect(dynamoItemBytes({ a: { S: 'xyz' } })).toBe(4);
    expect(dynamoItemBytes({ é: { S: 'é' } })).toBe(4);
    expect(dynamoItemBytes({ n: { N: '12345' } })).toBe(5);
    expect(dynamoItemBytes({ n: { N: '-0.0012300' } })).toBe(1 + 2 + 1);
    expect(dynamoItemBytes({ b: { BOOL: true }, z: { NULL: true } })).toBe(4);
    expect(dynamoItemBytes({ m: { M: { k: { S: 'v' } } } })).toBe(1 + 3 + (1 + 1 + 1));
    expect(dynamoItemBytes({ l: { L: [{ S: 'ab' }, { NULL: true }] } })).toBe(1 + 3 + (1 + 2) + (1 + 1));
  });

  it('sizes a plain event as the attributes it would be stored as', () => {
    expect(eventItemBytes({ type: 'track', n: 1, p: { a: [true] } })).toBe(4 + 5 + 1 + 2 + 1 + 3 + (1 + 1 + 3 + (1 + 1)));
  });
});

const interleaved = {
  floorCpuUsPerEvent: [],
  handlerCpuUsPerEvent: [],
  ratios: [],
  ratioMedian: 1,
  ratioMin: 1,
  ratioMax: 1,
  loadAtStart: [],
  loadAtEnd: [],
};

describe('shapeCost', () => {
  const ingest = (over: Partial<IngestMeasurement>): IngestMeasurement => ({
    shape: 'single',
    eventsPerRequest: 1,
    requestBytes: 1000,
    rounds: [],
    cpuUsPerRequest: 150,
    wallUsPerRequest: 150,
    floorCpuUsPerEvent: 5,
    interleaved,
    awsPerRequest: {},
    messagesPerRequest: 1,
    messageBytes: Array.from({ length: 10 }, () => 1200),
    sendPayloads: Array.from({ length: 10 }, () => 1200),
    requestsInPass: 10,
    logBytesPerRequest: 0,
    ...over,
  });
  const worker = (over: Partial<WorkerMeasurement>): WorkerMeasurement => ({
    shape: 'single',
    messagesPerInvocation: 10,
    eventsPerInvocation: 10,
    rounds: [],
    cpuUsPerEvent: 30,
    wallUsPerInvocation: 400,
    dynamoRequestsPer1000Events: 100,
    itemBytesMean: 900,
    wruPerEvent: 1,
    floorCpuUsPerEvent: 5,
    interleaved,
    rruPerEvent: 0,
    leanWruPerEvent: 1,
    floorWruPerEvent: 1,
    eventBytesMean: 800,
    logBytesPerInvocation: 0,
    ...over,
  });

  it('prices single events: one API request, one send, a tenth of a receive and a delete each', () => {
    const cost = shapeCost(ingest({}), worker({}));

    expect(cost.ours.apiRequests).toBe(1000);
    expect(cost.ours.sqsRequests).toBeCloseTo(1200);
    expect(cost.ours.lambdaInvocations).toBeCloseTo(1100);
    expect(cost.ours.dollars.api).toBeCloseTo(1.0);
    expect(cost.ours.dollars.sqs).toBeCloseTo(0.48);
    expect(cost.ours.dollars.dynamodb).toBeCloseTo(0.625);
    // Each invocation is billed at least 1 ms: a million ingest requests at 0.25 GB, 100,000 worker invocations at 0.5 GB.
    expect(cost.gbSeconds).toBeCloseTo(250 + 50);
    expect(cost.floor.dollars.total).toBeCloseTo(1.0 + 0.2 + 0.625);
  });

  it("adds the profiles' write and read units to ours, and says what they cost", () => {
    const cost = shapeCost(ingest({}), worker({ profileWruPerEvent: 0.5, profileRruPerEvent: 1 }));

    // 1.5 write units and 1 read unit per event, at $0.625 and $0.125 per million.
    expect(cost.ours.dynamoWriteUnits).toBeCloseTo(1500);
    expect(cost.ours.dollars.dynamodb).toBeCloseTo(0.625 * 1.5 + 0.125);
    expect(cost.profiles).toEqual({ writeUnits: 500, readUnits: 1000, dollars: expect.closeTo(0.3125 + 0.125) });
    expect(shapeCost(ingest({}), worker({})).profiles).toBeUndefined();
  });

  it('bills SQS per 64 KB chunk and API Gateway per 512 KB', () => {
    const cost = shapeCost(
      ingest({
        eventsPerRequest: 1000,
        requestBytes: 1.1e6,
        messageBytes: [200_000, 200_000, 200_000, 200_000, 200_000],
        sendPayloads: [800_000, 200_000],
        requestsInPass: 1,
      }),
      worker({ eventsPerInvocation: 1000 }),
    );

    // API: 1.1 MB = 3 units of 512 KB per 1000 events. SQS: sends 13 + 4 chunks, one receive of 1 MB = 16 chunks, one delete.
    expect(cost.ours.apiRequests).toBeCloseTo(3);
    expect(cost.ours.sqsRequests).toBeCloseTo(13 + 4 + 16 + 1);
  });

  it('deploys single events and batches on the 256 MB ingest function, Webhooks arrays and the worker at 512 MB', () => {
    expect([ingestMemoryMbOf('single'), ingestMemoryMbOf('batch'), ingestMemoryMbOf('webhook')]).toEqual([256, 256, 512]);
    expect(DEPLOYMENT.workerMemoryMb).toBe(512);
  });

  it("bills a single event's Lambda duration as CPU at the ingest function's 256 MB plus the wait for SQS and DynamoDB (bench/capacity.ts)", () => {
    const cost = shapeCost(ingest({}), worker({}));

    // Ingest: 150 µs of CPU at 256/1769 of a vCPU (1.04 ms) + one SQS round trip (15 ms) = 17 ms billed, at 0.25 GB.
    // Worker: 10 events x 30 µs at 512/1769 (1.04 ms) + one DynamoDB call, 4 in flight (2.5 ms) = 4 ms, at 0.5 GB, for 10 events.
    expect(cost.billedGbSeconds).toBeCloseTo((0.017 * 0.25 + (0.004 * 0.5) / 10) * 1e6);
    expect(cost.ours.dollars.lambda).toBeCloseTo(1.1 * 0.2 + (0.017 * 0.25 + 0.0002) * 1e6 * 0.0000133334, 6);
    // The handler time alone stays beside, as information.
    expect(cost.gbSeconds).toBeCloseTo(300);
  });

  it("bills a Webhooks request at the webhooks function's 512 MB", () => {
    const cost = shapeCost(ingest({ shape: 'webhook' }), worker({ shape: 'webhook' }));

    // Ingest: 150 µs of CPU at 512/1769 of a vCPU (0.52 ms) + one SQS round trip (15 ms) = 16 ms billed, at 0.5 GB.
    expect(cost.billedGbSeconds).toBeCloseTo((0.016 * 0.5 + (0.004 * 0.5) / 10) * 1e6);
    expect(cost.gbSeconds).toBeCloseTo(500 + 50);
  });

  it("bills the naive design's ingest at the same memory as ours for the shape", () => {
    const naive: NaiveMeasurement = {
      shape: 'single',
      ingestCpuUsPerEvent: 150,
      workerCpuUsPerEvent: 30,
      ingestWallUsPerRequest: 150,
      workerWallUsPerInvocation: 300,
      workerBatch: 10,
    };

    const single = shapeCost(ingest({}), worker({}), naive);
    const webhook = shapeCost(ingest({ shape: 'webhook' }), worker({ shape: 'webhook' }), { ...naive, shape: 'webhook' });

    // Worker: 10 x 30 µs at 512/1769 (1.04 ms) + 10 PutItems in parallel (10 ms) = 12 ms at 0.5 GB, for 10 events.
    // Ingest: as ours, 17 ms at 0.25 GB (single), 16 ms at 0.5 GB (webhook).
    const lambda = (ingestGbSeconds: number) => 1.1 * 0.2 + (ingestGbSeconds + (0.012 * 0.5) / 10) * 1e6 * 0.0000133334;
    expect(single.naive.dollars.lambda).toBeCloseTo(lambda(0.017 * 0.25), 6);
    expect(webhook.naive.dollars.lambda).toBeCloseTo(lambda(0.016 * 0.5), 6);
  });

  it("prices the site day with its own DynamoDB units and its events' floor", () => {
    const day = {
      wruPerEvent: 1,
      leanWruPerEvent: 1,
      rruPerEvent: 0.1,
      floorWruPerEvent: 2,
      profileWruPerEvent: 0.05,
      profileRruPerEvent: 0.2,
    };
    const cost = siteDayCost(ingest({}), worker({ profileWruPerEvent: 2, profileRruPerEvent: 1 }), day);

    expect(cost.ours.dynamoWriteUnits).toBeCloseTo(1050);
    expect(cost.ours.dynamoReadUnits).toBeCloseTo(300);
    expect(cost.floor.dynamoWriteUnits).toBeCloseTo(2000);
    expect(cost.profiles?.writeUnits).toBeCloseTo(50);
  });
});
