/**
 * The worker against DynamoDB Local: idempotent writes, retries of unprocessed items, partial batch
 * failures, quarantine of unreadable messages, the JSON-text fallback, and the dead-letter path
 * through the SQS emulator.
 */
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { silentLog } from '../../lib/shared/log';
import { createWorker, type WorkerDeps } from '../../lib/worker/process-batch';
import { segmentEvent, sqsEvent, sqsRecord } from '../support/events';
import { eventMessage } from '../support/records';
import { startTestStack, type TestStack } from '../support/stack';
import { noWaitClock, steppedClock } from '../support/clock';
import { leaveUnprocessed, throttle, withFault, type Fault } from '../support/faults';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
});

afterAll(async () => {
  await stack.stop();
});

/**
 * The worker on the stack's clients, with `faults` forced on both its document client and its
 * batch writer (lib/shared/clients.ts), so they see the batch writes whichever path they take.
 * DynamoDB Local never answers with UnprocessedItems or throttling, so the tests that need those
 * force them (tests/support/faults.ts); every write that is not faked still goes to DynamoDB Local.
 */
function workerWith(faults: Fault[], overrides: Partial<WorkerDeps> = {}, target: TestStack = stack) {
  return createWorker({
    ...target.workerDeps,
    documents: withFault(target.clients.documents, ...faults),
    writer: withFault(target.workerDeps.writer, ...faults),
    log: silentLog,
    clock: noWaitClock,
    ...overrides,
  });
}

describe('worker', () => {
  it('stores a redelivered message once: the second delivery overwrites the same items', async () => {
    // Prepare
    const events = [segmentEvent('track', { userId: 'redeliver' }), segmentEvent('identify', { userId: 'redeliver' })];
    const body = eventMessage(stack.sourceId, events);
    const worker = workerWith([]);

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
    // DynamoDB Local always processes every item: the first two batch writes leave five behind.
    const unprocessed = leaveUnprocessed((items, call) => (call <= 2 ? items.slice(0, 5) : []));
    const worker = workerWith([unprocessed]);

    const result = await worker(sqsEvent(sqsRecord(eventMessage(stack.sourceId, events))));

    expect(result.batchItemFailures).toEqual([]);
    expect(result.stats.retries).toBeGreaterThan(0);
    expect(unprocessed.matched).toBeGreaterThan(2);
    expect((await stack.scan('page')).filter((i) => i.userId === 'unprocessed')).toHaveLength(30);
  });

  it('retries a throttled batch write', async () => {
    const events = [segmentEvent('screen', { userId: 'throttled' })];
    // DynamoDB Local never throttles: the first batch write is refused as over capacity.
    const throttled = throttle({ on: 'BatchWriteItem', calls: 1 });

    const result = await workerWith([throttled])(sqsEvent(sqsRecord(eventMessage(stack.sourceId, events))));

    expect(result.batchItemFailures).toEqual([]);
    expect(throttled.matched).toBe(2);
    expect(result.stats.retries).toBe(1);
    expect((await stack.scan('screen')).filter((i) => i.userId === 'throttled')).toHaveLength(1);
  });

  it('reports only the message whose items stay unprocessed, and stores the others', async () => {
    const stuck = sqsRecord(eventMessage(stack.sourceId, [segmentEvent('group', { userId: 'stuck' })]));
    const fine = sqsRecord(
      eventMessage(stack.sourceId, [segmentEvent('group', { userId: 'fine' }), segmentEvent('alias', { userId: 'fine' })]),
    );
    // DynamoDB Local never leaves items unprocessed: the stuck user's item stays so on every try.
    const stuckItems = leaveUnprocessed((items) => items.filter((i) => String(i.item.pk).endsWith('#stuck')));
    // Time moves only by the retry waits, so the stuck item is retried until the budget is spent.
    const worker = workerWith([stuckItems], { clock: steppedClock() });

    const result = await worker(sqsEvent(fine, stuck), 10_000);

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: stuck.messageId }]);
    expect((await stack.scan('group')).filter((i) => i.userId === 'fine')).toHaveLength(1);
    expect((await stack.scan('alias')).filter((i) => i.userId === 'fine')).toHaveLength(1);
    expect((await stack.scan('group')).filter((i) => i.userId === 'stuck')).toHaveLength(0);
  });

  it('quarantines an unreadable message instead of retrying it', async () => {
    const unreadable = sqsRecord('{"v":1,"records":[{"kind":"mystery"}]}');
    const notJson = sqsRecord('definitely not json');

    const result = await workerWith([])(sqsEvent(unreadable, notJson));

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

    const result = await workerWith([])(sqsEvent(sqsRecord(eventMessage(stack.sourceId, [tooDeep, hugeNumber, bigInteger]))));

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

    const result = await workerWith([])(sqsEvent(sqsRecord(eventMessage(stack.sourceId, [huge, neighbour]))));

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
    // A write that never succeeds, which DynamoDB Local cannot be made to do: every item stays unprocessed.
    let t = 0;
    const worker = workerWith([leaveUnprocessed((items) => items)], { clock: { now: () => (t += 1000), sleep: async () => {} } }, dlqStack);
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
