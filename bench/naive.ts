/**
 * The naive design, measured in the same run (issue 15): what the AWS samples do, API Gateway ->
 * Lambda -> one SQS message per event -> Lambda (batches of 10) -> one PutItem per event with the
 * document client. No validation, no quarantine, no erasure: only the path an event takes. Real
 * SDK clients answered by `FakeAws`, timed like our handlers, so the two are compared at one load.
 */
import { performance } from 'node:perf_hooks';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { FakeAws } from './fake-aws';
import { SHAPES, type ShapeId } from './shapes';

export interface NaiveMeasurement {
  shape: ShapeId;
  /** CPU of the naive ingest handler per event, and of the naive worker per event. */
  ingestCpuUsPerEvent: number;
  workerCpuUsPerEvent: number;
  /** Handler time per HTTP request, and per worker invocation of `WORKER_BATCH` events. */
  ingestWallUsPerRequest: number;
  workerWallUsPerInvocation: number;
  workerBatch: number;
}

/** The AWS samples' SQS trigger batch size. */
export const NAIVE_WORKER_BATCH = 10;
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/naive';
const credentials = { accessKeyId: 'AKIDBENCHMARK0000000', secretAccessKey: 'benchmark' };

function naiveIngest(fake: FakeAws) {
  const sqs = new SQSClient({ region: 'us-east-1', credentials, requestHandler: fake as never });
  return async (body: string): Promise<void> => {
    const parsed = JSON.parse(body) as unknown;
    const events = Array.isArray(parsed) ? parsed : ((parsed as { batch?: unknown[] }).batch ?? [parsed]);
    await Promise.all(events.map((event) => sqs.send(new SendMessageCommand({ QueueUrl: QUEUE, MessageBody: JSON.stringify(event) }))));
  };
}

function naiveWorker(fake: FakeAws) {
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials, requestHandler: fake as never }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return async (bodies: readonly string[]): Promise<void> => {
    await Promise.all(
      bodies.map((body) => {
        const event = JSON.parse(body) as Record<string, unknown>;
        const Item = {
          pk: `bench#${String(event.userId ?? event.anonymousId)}`,
          sk: `${String(event.timestamp)}#${String(event.messageId)}`,
          ...event,
        };
        return documents.send(new PutCommand({ TableName: `naive-${String(event.type)}`, Item }));
      }),
    );
  };
}

async function cpuPer<T>(
  fake: FakeAws,
  roundMs: number,
  items: readonly T[],
  run: (item: T) => Promise<void>,
): Promise<{ cpuUs: number; wallUs: number; calls: number }> {
  fake.reset();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  let calls = 0;
  do {
    for (const item of items) await run(item);
    calls += items.length;
  } while (performance.now() - wall0 < roundMs);
  const cpu = process.cpuUsage(cpu0);
  const fakeUs = fake.observed.overheadMs * 1000;
  return { cpuUs: cpu.user + cpu.system - fakeUs, wallUs: (performance.now() - wall0) * 1000 - fakeUs, calls };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

export async function measureNaive(shape: ShapeId, options: { rounds: number; roundMs: number }): Promise<NaiveMeasurement> {
  const count = shape === 'single' ? 200 : shape === 'batch' ? 10 : 2;
  const requests = SHAPES[shape].requests(count);
  const fake = new FakeAws();
  const ingest = naiveIngest(fake);
  const worker = naiveWorker(fake);
  const bodies = requests.flatMap((r) => r.events.map((e) => JSON.stringify(e)));
  const invocations: string[][] = [];
  for (let i = 0; i < bodies.length; i += NAIVE_WORKER_BATCH) invocations.push(bodies.slice(i, i + NAIVE_WORKER_BATCH));
  const eventsPerRequest = SHAPES[shape].eventsPerRequest;

  await cpuPer(fake, options.roundMs, requests, (r) => ingest(r.body)); // warm-up
  await cpuPer(fake, options.roundMs, invocations, (b) => worker(b));
  const ingestRounds: Array<{ cpuUs: number; wallUs: number; calls: number }> = [];
  const workerRounds: Array<{ cpuUs: number; wallUs: number; calls: number }> = [];
  for (let r = 0; r < options.rounds; r++) {
    ingestRounds.push(await cpuPer(fake, options.roundMs / 2, requests, (q) => ingest(q.body)));
    workerRounds.push(await cpuPer(fake, options.roundMs / 2, invocations, (b) => worker(b)));
  }
  return {
    shape,
    ingestCpuUsPerEvent: median(ingestRounds.map((r) => r.cpuUs / (r.calls * eventsPerRequest))),
    workerCpuUsPerEvent: median(workerRounds.map((r) => r.cpuUs / (r.calls * NAIVE_WORKER_BATCH))),
    ingestWallUsPerRequest: median(ingestRounds.map((r) => r.wallUs / r.calls)),
    workerWallUsPerInvocation: median(workerRounds.map((r) => r.wallUs / r.calls)),
    workerBatch: NAIVE_WORKER_BATCH,
  };
}
