/**
 * Enqueueing retries the entries SendMessageBatch reports in `Failed[]`. The SQS emulator never
 * fails single entries, so these tests force that on the real client (tests/support/faults.ts); the
 * entries that are sent go to the emulator's queue and are read back from it.
 */
import { ReceiveMessageCommand, type SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import { QueueUnavailableError } from '../../lib/ingest/http-errors';
import { createEnqueuer } from '../../lib/ingest/enqueue';
import { serializeEventRecord } from '../../lib/message/format';
import { startTestStack, type TestStack } from '../support/stack';
import { noWaitClock } from '../support/clock';
import { failEntries, withFault } from '../support/faults';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
});

afterAll(async () => {
  await stack.stop();
});

/** Every other entry of a batch: the ones SQS is made to fail. */
const everyOther = (entries: readonly SendMessageBatchRequestEntry[]) => entries.filter((_, i) => i % 2 === 0);

async function receiveAll(): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await stack.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: stack.queues.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((m) => m.Body ?? ''));
  }
}

const record = (i: number) =>
  serializeEventRecord(
    { sourceId: 's', receivedAt: new Date().toISOString(), requestId: 'r' },
    JSON.stringify({ type: 'track', n: i, pad: 'p'.repeat(60_000) }),
  );

describe('enqueue', () => {
  it('retries Failed[] entries until SQS has every message', async () => {
    const enqueue = createEnqueuer({
      sqs: withFault(stack.clients.sqs, failEntries(everyOther, { calls: 2 })),
      queueUrl: stack.queues.queueUrl,
      messageBytes: 64 * 1024,
      budgetMs: 3000,
      clock: noWaitClock,
    });

    const result = await enqueue(Array.from({ length: 6 }, (_, i) => record(i)));

    expect(result.messages).toBe(6);
    expect(result.retries).toBeGreaterThan(0);
    const numbers = (await receiveAll()).map(
      (body) => (JSON.parse(body) as { records: Array<{ event: { n: number } }> }).records[0]?.event.n,
    );
    expect(numbers.sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('fails loudly with QueueUnavailableError when entries keep failing past the budget', async () => {
    let clock = 0;
    const enqueue = createEnqueuer({
      sqs: withFault(stack.clients.sqs, failEntries(everyOther)),
      queueUrl: stack.queues.queueUrl,
      messageBytes: 64 * 1024,
      budgetMs: 1000,
      clock: { now: () => (clock += 100), sleep: async () => {} },
    });

    await expect(enqueue([record(1), record(2)])).rejects.toBeInstanceOf(QueueUnavailableError);
    await receiveAll();
  });

  it('packs many small records into few messages', async () => {
    const small = Array.from({ length: 500 }, (_, i) =>
      serializeEventRecord(
        { sourceId: 's', receivedAt: 't', requestId: 'r' },
        JSON.stringify({ type: 'track', n: i, pad: 'q'.repeat(900) }),
      ),
    );
    const enqueue = createEnqueuer({ sqs: stack.clients.sqs, queueUrl: stack.queues.queueUrl, messageBytes: 256 * 1024, budgetMs: 3000 });

    const result = await enqueue(small);
    const bodies = await receiveAll();

    expect(result.messages).toBe(bodies.length);
    expect(bodies.length).toBe(2);
    expect(bodies.every((b) => Buffer.byteLength(b) <= 256 * 1024)).toBe(true);
    expect(bodies.flatMap((b) => (JSON.parse(b) as { records: unknown[] }).records)).toHaveLength(500);
    expect(result.requests).toBe(1);
  });
});
