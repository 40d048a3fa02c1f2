/**
 * The worker against DynamoDB Local: idempotent writes, retries of unprocessed items, partial batch
 * failures, quarantine of unreadable messages, the JSON-text fallback, and the dead-letter path
 * through the SQS emulator.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  BatchWriteItemCommand,
  ProvisionedThroughputExceededException,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { silentLog } from '../../lib/shared/log';
import { createWorker, type WorkerDeps } from '../../lib/worker/process-batch';
import { segmentEvent, sqsEvent, sqsRecord } from '../support/events';
import { eventMessage } from '../support/records';
import { startTestStack, type TestStack } from '../support/stack';
import { noWaitClock } from '../support/clock';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
});

afterAll(async () => {
  await stack.stop();
});

/** The worker with `client` as both its document client and its batch writer. */
function workerWith(client: DynamoDBDocumentClient, overrides: Partial<WorkerDeps> = {}) {
  const writer = client === stack.clients.documents ? stack.workerDeps.writer : (client as unknown as DynamoDBClient);
  return createWorker({ ...stack.workerDeps, documents: client, writer, log: silentLog, clock: noWaitClock, ...overrides });
}

/**
 * DynamoDB Local never answers with UnprocessedItems or throttling, so these tests wrap the real
 * client to force those faults; every write that is not faked still goes to DynamoDB Local. The
 * wrapper serves as both the document client and the batch writer (lib/shared/clients.ts), so it sees the
 * batch writes whichever path they take.
 */
function faultyClient(
  fault: (items: Array<{ table: string; item: Record<string, unknown> }>, call: number) => 'throttle' | Array<Record<string, unknown>>,
) {
  const real = stack.clients.documents;
  let call = 0;
  const calls: number[] = [];
  const client = {
    send: async (command: unknown, options?: unknown) => {
      const wire = command instanceof BatchWriteItemCommand;
      if (command instanceof BatchWriteCommand || wire) {
        call++;
        const requestItems = (command.input.RequestItems ?? {}) as Record<
          string,
          Array<{ PutRequest?: { Item?: Record<string, unknown> } }>
        >;
        const entries = Object.entries(requestItems).flatMap(([table, requests]) =>
          requests.map((request) => {
            const raw = request.PutRequest?.Item ?? {};
            return { table, request, item: wire ? unmarshall(raw as Record<string, AttributeValue>) : raw };
          }),
        );
        calls.push(entries.length);
        const decision = fault(
          entries.map(({ table, item }) => ({ table, item })),
          call,
        );
        if (decision === 'throttle') {
          throw new ProvisionedThroughputExceededException({ message: 'forced by the test', $metadata: {} });
        }
        const held = new Set(decision);
        const toWrite: Record<string, unknown[]> = {};
        const unprocessed: Record<string, unknown[]> = {};
        for (const { table, request, item } of entries) ((held.has(item) ? unprocessed : toWrite)[table] ??= []).push(request);
        if (Object.keys(toWrite).length > 0) {
          await real.send(
            (wire
              ? new BatchWriteItemCommand({ RequestItems: toWrite as never })
              : new BatchWriteCommand({ RequestItems: toWrite as never })) as never,
          );
        }
        return { UnprocessedItems: unprocessed, $metadata: {} };
      }
      return real.send(command as never, options as never);
    },
  };
  return { client: client as unknown as DynamoDBDocumentClient & DynamoDBClient, calls };
}

describe('worker', () => {
  it('stores a redelivered message once: the second delivery overwrites the same items', async () => {
    // Prepare
    const events = [segmentEvent('track', { userId: 'redeliver' }), segmentEvent('identify', { userId: 'redeliver' })];
    const body = eventMessage(stack.sourceId, events);
    const worker = workerWith(stack.clients.documents);

    // Act
    const first = await worker(sqsEvent(sqsRecord(body)));
    const second = await worker(sqsEvent(sqsRecord(body), sqsRecord(body)));

    // Assess
    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect((await stack.scan('track')).filter((i) => i.userId === 'redeliver')).toHaveLength(1);
    expect((await stack.scan('identify')).filter((i) => i.userId === 'redeliver')).toHaveLength(1);
  });

  it('retries items DynamoDB leaves unprocessed until they are written', async () => {
    const events = Array.from({ length: 30 }, () => segmentEvent('page', { userId: 'unprocessed' }));
    const { client, calls } = faultyClient((items, call) => (call <= 2 ? items.slice(0, 5).map((i) => i.item) : []));
    const worker = workerWith(client);

    const result = await worker(sqsEvent(sqsRecord(eventMessage(stack.sourceId, events))));

    expect(result.batchItemFailures).toEqual([]);
    expect(result.stats.retries).toBeGreaterThan(0);
    expect(calls.length).toBeGreaterThan(2);
    expect((await stack.scan('page')).filter((i) => i.userId === 'unprocessed')).toHaveLength(30);
  });

  it('retries a throttled batch write', async () => {
    const events = [segmentEvent('screen', { userId: 'throttled' })];
    const { client } = faultyClient((_items, call) => (call === 1 ? 'throttle' : []));

    const result = await workerWith(client)(sqsEvent(sqsRecord(eventMessage(stack.sourceId, events))));

    expect(result.batchItemFailures).toEqual([]);
    expect((await stack.scan('screen')).filter((i) => i.userId === 'throttled')).toHaveLength(1);
  });

  it('reports only the message whose items stay unprocessed, and stores the others', async () => {
    const stuck = sqsRecord(eventMessage(stack.sourceId, [segmentEvent('group', { userId: 'stuck' })]));
    const fine = sqsRecord(
      eventMessage(stack.sourceId, [segmentEvent('group', { userId: 'fine' }), segmentEvent('alias', { userId: 'fine' })]),
    );
    const { client } = faultyClient((items) => items.filter((i) => String(i.item.pk).endsWith('#stuck')).map((i) => i.item));
    let clock = 0;
    const worker = workerWith(client, { clock: { now: () => (clock += 100), sleep: async () => {} } });

    const result = await worker(sqsEvent(fine, stuck), 10_000);

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: stuck.messageId }]);
    expect((await stack.scan('group')).filter((i) => i.userId === 'fine')).toHaveLength(1);
    expect((await stack.scan('alias')).filter((i) => i.userId === 'fine')).toHaveLength(1);
    expect((await stack.scan('group')).filter((i) => i.userId === 'stuck')).toHaveLength(0);
  });

  it('quarantines an unreadable message instead of retrying it', async () => {
    const unreadable = sqsRecord('{"v":1,"records":[{"kind":"mystery"}]}');
    const notJson = sqsRecord('definitely not json');

    const result = await workerWith(stack.clients.documents)(sqsEvent(unreadable, notJson));

    expect(result.batchItemFailures).toEqual([]);
    const rejected = (await stack.scan('rejected')).filter((i) => i.route === 'sqs');
    expect(rejected.map((r) => r.reasons).sort()).toEqual([['queue message is not JSON'], ['queue message record 0 is malformed']]);
    expect(rejected.find((r) => r.requestId === notJson.messageId)?.raw).toBe('definitely not json');
  });

  it('stores an event DynamoDB cannot hold as a map as JSON text', async () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 40; i++) deep = { nested: deep };
    const tooDeep = segmentEvent('track', { userId: 'json-fallback', properties: deep });
    const hugeNumber = segmentEvent('track', { userId: 'json-fallback', properties: { big: 1e200 } });
    // Beyond 2^53: DynamoDB could hold it, the SDK refuses to write it.
    const bigInteger = segmentEvent('track', { userId: 'json-fallback', properties: { orderNumber: 2 ** 64 } });
    const byId = new Map([tooDeep, hugeNumber, bigInteger].map((e) => [e.messageId, e]));

    const result = await workerWith(stack.clients.documents)(
      sqsEvent(sqsRecord(eventMessage(stack.sourceId, [tooDeep, hugeNumber, bigInteger]))),
    );

    expect(result.batchItemFailures).toEqual([]);
    expect(result.stats.quarantined).toBe(0);
    const items = (await stack.scanRaw('track')).filter((i) => i.pk === `${stack.sourceId}#json-fallback`);
    expect(items).toHaveLength(3);
    for (const item of items) {
      // The keys, the receive time, the timestamp (erasure reads it), and the event as JSON text.
      expect(Object.keys(item).sort()).toEqual(['_json', '_r', 'pk', 'sk', 'timestamp']);
      const stored = JSON.parse(String(item._json)) as Record<string, unknown>;
      expect(stored.properties).toEqual(byId.get(String(stored.messageId))?.properties);
    }
  });

  it('quarantines an item DynamoDB refuses for good and still stores its neighbours', async () => {
    // Over DynamoDB's 400 KB item limit: possible only when MAX_EVENT_BYTES is raised that far.
    const huge = segmentEvent('identify', { userId: 'refused', traits: { blob: 'x'.repeat(450 * 1024) } });
    const neighbour = segmentEvent('identify', { userId: 'refused-neighbour' });

    const result = await workerWith(stack.clients.documents)(sqsEvent(sqsRecord(eventMessage(stack.sourceId, [huge, neighbour]))));

    expect(result.batchItemFailures).toEqual([]);
    expect((await stack.scan('identify')).filter((i) => i.userId === 'refused-neighbour')).toHaveLength(1);
    expect((await stack.scan('identify')).filter((i) => i.userId === 'refused')).toHaveLength(0);
    const [quarantined] = (await stack.scan('rejected')).filter((i) => i.messageId === huge.messageId);
    expect(quarantined).toMatchObject({ route: 'worker', truncated: true, pk: stack.sourceId });
    expect(String((quarantined?.reasons as string[])[0])).toBe("DynamoDB refused the item: it is larger than DynamoDB's 400 KB item limit");
  });
});

describe('the local SQS trigger', () => {
  it('moves a message that keeps failing to the dead-letter queue after maxReceiveCount', async () => {
    // Prepare: a stack whose worker always fails the message (a stuck write), 2 receives allowed.
    const dlqStack = await startTestStack({ maxReceiveCount: 2, visibilityTimeoutSeconds: 1, startWorker: false });
    const { client } = faultyClient((items) => items.map((i) => i.item));
    const worker = createWorker({
      ...dlqStack.workerDeps,
      documents: client,
      writer: client,
      log: silentLog,
      clock: {
        now: (() => {
          let t = 0;
          return () => (t += 1000);
        })(),
        sleep: async () => {},
      },
    });
    const { startSqsTrigger } = await import('../../local/sqs-trigger');
    const receives: number[] = [];
    const trigger = startSqsTrigger({
      sqs: dlqStack.clients.sqs,
      queueUrl: dlqStack.queues.queueUrl,
      handler: worker,
      onBatch: ({ messages }) => receives.push(messages),
    });
    try {
      // Act
      await dlqStack.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: dlqStack.queues.queueUrl,
          MessageBody: eventMessage(dlqStack.sourceId, [segmentEvent('track', { userId: 'doomed' })]),
        }),
      );
      let dead: string | undefined;
      for (let i = 0; i < 100 && !dead; i++) {
        const { Messages = [] } = await dlqStack.clients.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: dlqStack.queues.deadLetterQueueUrl, WaitTimeSeconds: 0 }),
        );
        dead = Messages[0]?.Body;
        if (!dead) await new Promise((resolve) => setTimeout(resolve, 100));
      }

      // Assess
      expect(dead).toContain('"userId":"doomed"');
      expect(receives.length).toBe(2);
    } finally {
      await trigger.stop();
      await dlqStack.stop();
    }
  });
});
