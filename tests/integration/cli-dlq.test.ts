/**
 * `dlq redrive` against a local stage: messages that really failed their way into the dead-letter
 * queue go back to the events queue and are stored.
 */
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createWorker } from '../../lib/worker/process-batch';
import { startSqsTrigger } from '../../local/sqs-trigger';
import { segmentEvent } from '../support/events';
import { cli } from '../support/cli';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  // A short visibility timeout and one receive: a message the worker fails once is dead-lettered at once.
  stack = await startTestStack({ visibilityTimeoutSeconds: 1, maxReceiveCount: 1, startWorker: false });
});

afterAll(async () => {
  await stack.stop();
});

/** Messages in a queue: visible, in flight, and just sent (the emulator holds those as delayed for a tick). */
async function depth(url: string): Promise<number> {
  const names = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;
  const { Attributes = {} } = await stack.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [...names] }));
  return names.reduce((sum, name) => sum + Number(Attributes[name] ?? 0), 0);
}

function message(i: number): string {
  const event = {
    ...segmentEvent('track', { userId: 'dlq-user', messageId: `dlq-${i}` }),
    timestamp: `2026-02-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`,
  };
  return JSON.stringify({
    v: 1,
    records: [{ kind: 'event', sourceId: stack.sourceId, receivedAt: new Date().toISOString(), requestId: `r-${i}`, event }],
  });
}

it('moves every dead-lettered message back to the events queue, with a count', async () => {
  // Prepare: 23 messages in the dead-letter queue, put there by the queue's own redrive policy: the worker
  // is off, so each message is received once (as a failing worker would) and left to time out.
  for (let i = 0; i < 23; i += 10) {
    await stack.clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.queues.queueUrl,
        Entries: Array.from({ length: Math.min(10, 23 - i) }, (_, j) => ({ Id: String(j), MessageBody: message(i + j) })),
      }),
    );
  }
  for (let received = 0; received < 23; ) {
    const { Messages = [] } = await stack.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: stack.queues.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    received += Messages.length;
  }
  for (let deadline = Date.now() + 15_000; (await depth(stack.queues.deadLetterQueueUrl)) < 23; ) {
    if (Date.now() > deadline) throw new Error('the messages did not reach the dead-letter queue');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  // Act
  const result = await cli(stack, ['dlq', 'redrive', '--progress-interval', '0.1']);

  // Assess
  expect(result.code).toBe(0);
  expect(result.stdout).toBe('Moved 23 message(s) back to the events queue. The worker processes them now: segment-ingest status\n');
  expect(result.stderr).toContain(`Moving 23 message(s) from ${stack.queues.deadLetterQueueUrl} to ${stack.queues.queueUrl}`);
  expect(await depth(stack.queues.deadLetterQueueUrl)).toBe(0);
  expect(await depth(stack.queues.queueUrl)).toBe(23);

  // And once a worker runs again, they are stored. A real visibility timeout from here on: with 1 s, a
  // slow machine redelivers a message still being written, and its second receive dead-letters it again.
  await stack.clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: stack.queues.queueUrl, Attributes: { VisibilityTimeout: '30' } }));
  const processBatch = createWorker(stack.workerDeps);
  const trigger = startSqsTrigger({
    sqs: stack.clients.sqs,
    queueUrl: stack.queues.queueUrl,
    handler: (event, remainingMs) => processBatch(event, remainingMs),
  });
  try {
    await stack.drain();
  } finally {
    await trigger.stop();
  }
  expect((await stack.scan('track')).filter((item) => item.userId === 'dlq-user')).toHaveLength(23);
  expect(await depth(stack.queues.deadLetterQueueUrl)).toBe(0);
});

it('says so when the dead-letter queue is empty', async () => {
  const result = await cli(stack, ['dlq', 'redrive']);

  expect(result).toMatchObject({ code: 0, stdout: 'The dead-letter queue is empty: nothing to move.\n' });
});
