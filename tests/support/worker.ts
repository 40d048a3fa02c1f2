/**
 * Driving the worker by hand, for tests that need to choose which queue message is processed when
 * (erasure with events still in flight): receive messages, pick by content, invoke the worker.
 */
import { DeleteMessageCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { toSqsRecord } from '../../local/sqs-trigger';
import { createWorker, type WorkerDeps } from '../../lib/worker/process-batch';
import type { TestStack } from './stack';

/** One ReceiveMessage of up to 10 messages, with their attributes, invisible for a minute. */
async function receiveOnce(stack: TestStack): Promise<Message[]> {
  const { Messages = [] } = await stack.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: stack.queues.queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      VisibilityTimeout: 60,
      MessageSystemAttributeNames: ['All'],
      // The SQS emulator reads only the older name.
      AttributeNames: ['All'],
    }),
  );
  return Messages;
}

/** Receives every message in the queue (they stay invisible for the queue's visibility timeout). */
export async function receiveAll(stack: TestStack, expected: number, timeoutMs = 5000): Promise<Message[]> {
  const messages: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  while (messages.length < expected) {
    if (Date.now() > deadline) throw new Error(`received ${messages.length} of ${expected} messages`);
    messages.push(...(await receiveOnce(stack)));
  }
  return messages;
}

/** The message whose body contains `text` (a messageId, a userId). */
export function messageWith(messages: readonly Message[], text: string): Message {
  const found = messages.find((m) => (m.Body ?? '').includes(text));
  if (!found) throw new Error(`no message contains ${text}`);
  return found;
}

/** Runs the worker on `messages` as one SQS batch and deletes the ones it did not report as failed. */
export async function processMessages(
  stack: TestStack,
  messages: readonly Message[],
  deps: Partial<WorkerDeps> = {},
  remainingMs?: number,
) {
  const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, 'arn:aws:sqs:us-east-1:000000000000:test')) };
  const result = await createWorker({ ...stack.workerDeps, ...deps })(event, remainingMs);
  const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
  for (const message of messages) {
    if (!failed.has(message.MessageId ?? ''))
      await stack.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: stack.queues.queueUrl, ReceiptHandle: message.ReceiptHandle }));
  }
  return result;
}

/** Receives whatever the queue holds (up to 10), waiting up to `timeoutMs` for the first; [] when it stays empty. */
export async function receiveSome(stack: TestStack, timeoutMs = 500): Promise<Message[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const Messages = await receiveOnce(stack);
    if (Messages.length > 0 || Date.now() > deadline) return Messages;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
