/**
 * The worker's schema learning against DynamoDB Local: what it records (paths and types, never
 * values), what steady traffic costs (nothing), and the caps. DynamoDB Local cannot count requests,
 * so the learner is given a wrapper of the real document client that counts the requests it sends
 * to the schemas table; every request still goes to DynamoDB Local.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { silentLog } from '../../lib/shared/log';
import { noMeter } from '../../lib/shared/metrics';
import { pathsPartition, summaryKey } from '../../lib/tables/schemas';
import { createWorker } from '../../lib/worker/process-batch';
import { createSchemaLearner, type SchemaLearnerDeps } from '../../lib/worker/schemas/learn';
import { segmentEvent, sqsEvent, sqsRecord } from '../support/events';
import { eventMessage } from '../support/records';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
});

afterAll(async () => {
  await stack.stop();
});

/** A document client that counts what it sends to the schemas table. */
function countingClient() {
  const real = stack.clients.documents;
  const counter = { requests: 0, operations: [] as string[] };
  const client = {
    send(command: { input?: { TableName?: string }; constructor: { name: string } }, options?: unknown) {
      if (command.input?.TableName === stack.config.tables.schemas) {
        counter.requests++;
        counter.operations.push(command.constructor.name);
      }
      return real.send(command as never, options as never);
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, counter };
}

function workerLearning(client: DynamoDBDocumentClient, limits?: SchemaLearnerDeps['limits']) {
  const schemas = createSchemaLearner({ documents: client, table: stack.config.tables.schemas, log: silentLog, meter: noMeter, limits });
  return createWorker({ ...stack.workerDeps, schemas, log: silentLog });
}

/** `messages` queue messages of `perMessage` events each, received at `receivedAtMs`. */
function batchOf(sourceId: string, events: () => Record<string, unknown>, messages: number, perMessage: number, receivedAtMs: number) {
  return sqsEvent(
    ...Array.from({ length: messages }, (_, m) =>
      sqsRecord(
        eventMessage(
          sourceId,
          Array.from({ length: perMessage }, () => events()),
          `req-${m}`,
          receivedAtMs,
        ),
      ),
    ),
  );
}

async function schemaItems(sourceId: string): Promise<Record<string, unknown>[]> {
  const all = await stack.scan('schemas');
  return all.filter((item) => String(item.pk) === sourceId || String(item.pk).startsWith(`${sourceId}#`));
}

async function pathsOf(sourceId: string, type: string, key: string): Promise<Record<string, Record<string, unknown>>> {
  const partition = pathsPartition(sourceId, type, key);
  const items = (await schemaItems(sourceId)).filter((item) => item.pk === partition);
  return Object.fromEntries(items.map((item) => [String(item.path), item]));
}

it('records each path with the types seen for it and when each was first seen, and no value', async () => {
  const { client } = countingClient();
  const worker = workerLearning(client);
  const t0 = Date.UTC(2026, 10, 1, 10, 0, 0);
  const order = (total: unknown) => () =>
    segmentEvent('track', {
      event: 'Order Completed',
      properties: { total, items: [{ sku: 'SKU-SECRET-1' }, { sku: 'SKU-SECRET-2', qty: 2 }] },
    });

  await worker(batchOf('src-shapes', order(27.5), 1, 3, t0));
  await worker(batchOf('src-shapes', order('27.50'), 1, 1, t0 + 5 * 60_000));

  const paths = await pathsOf('src-shapes', 'track', 'Order Completed');
  expect(paths['properties.total']).toMatchObject({
    t_number: new Date(t0).toISOString(),
    t_string: new Date(t0 + 5 * 60_000).toISOString(),
    firstSeen: new Date(t0).toISOString(),
  });
  expect(Object.keys(paths)).toEqual(
    expect.arrayContaining([
      'properties.items',
      'properties.items[]',
      'properties.items[].sku',
      'properties.items[].qty',
      'context.library.name',
    ]),
  );
  expect(Object.keys(paths).some((path) => /\[\d+\]/.test(path))).toBe(false);
  const summary = (await schemaItems('src-shapes')).find((item) => item.sk === summaryKey('src-shapes', 'track', 'Order Completed').sk);
  expect(summary).toMatchObject({ eventType: 'track', eventKey: 'Order Completed', count: 4, pathCount: Object.keys(paths).length });
  expect(JSON.stringify(await schemaItems('src-shapes'))).not.toMatch(/SKU-SECRET|27\.5|analytics-node/);
});

it('costs no request for 10,000 events of an unchanged shape after the first batch, and one summary update a minute after', async () => {
  const { client, counter } = countingClient();
  const worker = workerLearning(client);
  const t0 = Date.UTC(2026, 10, 2, 10, 0, 0);
  const shapes = [() => segmentEvent('track'), () => segmentEvent('identify'), () => segmentEvent('page')];
  let n = 0;
  const next = () => (shapes[n++ % shapes.length] as () => Record<string, unknown>)();

  await worker(batchOf('src-steady', next, 10, 30, t0));
  const firstBatch = counter.requests;
  for (let i = 0; i < 10; i++) await worker(batchOf('src-steady', next, 10, 100, t0 + 1000 + i * 1000));
  const steady = counter.requests - firstBatch;
  await worker(batchOf('src-steady', next, 1, 3, t0 + 61_000));

  expect(firstBatch).toBeGreaterThan(0);
  expect(steady).toBe(0);
  // A minute of receive time later, each of the three event keys writes its count and last-seen once.
  expect(counter.operations.slice(-3)).toEqual(['UpdateCommand', 'UpdateCommand', 'UpdateCommand']);
  expect(counter.requests - firstBatch).toBe(3);
  const summaries = (await schemaItems('src-steady')).filter((item) => String(item.sk).startsWith('event#'));
  expect(summaries.map((s) => s.count).reduce((a, b) => Number(a) + Number(b), 0)).toBe(300 + 10_000 + 3);
  expect(new Set(summaries.map((s) => s.lastSeen))).toEqual(new Set([new Date(t0 + 61_000).toISOString()]));
});

it('caps the paths of an event key whose sender invents a property name per event, and counts what it refused', async () => {
  const { client } = countingClient();
  const worker = workerLearning(client, { pathsPerEventKey: 20 });
  let i = 0;
  const invented = () => segmentEvent('track', { event: 'Id In Key', properties: { [`user_${i++}`]: true }, context: {} });

  await worker(batchOf('src-flood', invented, 5, 20, Date.UTC(2026, 10, 3)));
  await worker(batchOf('src-flood', invented, 5, 20, Date.UTC(2026, 10, 3, 0, 2)));

  const paths = await pathsOf('src-flood', 'track', 'Id In Key');
  const summary = (await schemaItems('src-flood')).find((item) => String(item.sk).startsWith('event#'));
  expect(Object.keys(paths)).toHaveLength(20);
  expect(summary).toMatchObject({ pathCount: 20, count: 200 });
  // 200 invented names + "properties" + "context" were seen; 20 recorded, the other 182 counted.
  expect(summary?.cappedPaths).toBe(182);
});

it('caps the event keys of a source whose sender invents an event name per event, and counts what it refused', async () => {
  const { client, counter } = countingClient();
  const worker = workerLearning(client, { eventKeysPerSource: 5 });
  let i = 0;
  const invented = () => segmentEvent('track', { event: `Clicked button ${i++}`, properties: { x: 1 } });
  const t0 = Date.UTC(2026, 10, 4);

  await worker(batchOf('src-names', invented, 2, 10, t0));
  const afterFirst = counter.requests;
  await worker(batchOf('src-names', invented, 2, 10, t0 + 10_000));
  const second = counter.requests - afterFirst;
  await worker(batchOf('src-names', invented, 1, 1, t0 + 61_000));

  const items = await schemaItems('src-names');
  expect(items.filter((item) => String(item.sk).startsWith('event#'))).toHaveLength(5);
  // Once the instance knows the source is full, new names cost nothing; the count is written once a minute.
  expect(second).toBe(0);
  expect(counter.requests - afterFirst).toBe(1);
  expect(items.find((item) => item.sk === 'source')).toMatchObject({ eventKeys: 5, cappedEventKeys: 15 + 20 + 1 });
});
