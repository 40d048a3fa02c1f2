/**
 * Drives a worker handler the way the Lambda SQS event source mapping does: long-poll, gather a
 * batch (up to `batchSize` messages or `windowMs`), invoke, delete the messages that succeeded and
 * leave the reported failures to reappear after the visibility timeout. The queue's redrive policy
 * moves a message to the dead-letter queue after `maxReceiveCount` receives, as in AWS.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

export type SqsHandler = (event: SQSEvent, remainingMs: number) => Promise<SQSBatchResponse>;

export interface SqsTriggerOptions {
  sqs: SQSClient;
  queueUrl: string;
  handler: SqsHandler;
  batchSize?: number;
  windowMs?: number;
  /** Parallel pollers, like the mapping's concurrency. */
  concurrency?: number;
  /** Pause after a poll that found nothing. */
  idleDelayMs?: number;
  /** The function's timeout, handed to the handler as its remaining time. */
  timeoutMs?: number;
  onBatch?: (info: { messages: number; failed: number; error?: unknown }) => void;
}

export interface SqsTrigger {
  stop(): Promise<void>;
  /** Resolves once no batch is being processed and the last polls found nothing. */
  idle(): Promise<void>;
}

export function toSqsRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

/** One trigger's settings and state, shared by its pollers. */
interface Trigger {
  options: SqsTriggerOptions;
  batchSize: number;
  windowMs: number;
  timeoutMs: number;
  queueArn: string;
  running: boolean;
  /** Batches being processed, and polls in a row that found nothing (for `idle`). */
  busy: number;
  emptyPolls: number;
  controller: AbortController;
}

export function startSqsTrigger(options: SqsTriggerOptions): SqsTrigger {
  const trigger: Trigger = {
    options,
    batchSize: options.batchSize ?? 10,
    windowMs: options.windowMs ?? 200,
    timeoutMs: options.timeoutMs ?? 30_000,
    queueArn: `arn:aws:sqs:us-east-1:000000000000:${options.queueUrl.split('/').pop() ?? 'queue'}`,
    running: true,
    busy: 0,
    emptyPolls: 0,
    controller: new AbortController(),
  };
  const pollerCount = options.concurrency ?? 2;
  const pollers = Array.from({ length: pollerCount }, () => poll(trigger));

  return {
    async stop() {
      trigger.running = false;
      trigger.controller.abort();
      await Promise.allSettled(pollers);
    },
    async idle() {
      trigger.emptyPolls = 0;
      while (trigger.busy > 0 || trigger.emptyPolls < pollerCount) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

/** Up to `batchSize` messages, gathered for at most `windowMs`. */
async function receiveBatch(trigger: Trigger): Promise<Message[]> {
  const { sqs, queueUrl } = trigger.options;
  const messages: Message[] = [];
  const until = Date.now() + trigger.windowMs;
  while (trigger.running && messages.length < trigger.batchSize) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, trigger.batchSize - messages.length),
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
      }),
      { abortSignal: trigger.controller.signal },
    );
    messages.push(...Messages);
    if (Messages.length === 0 && messages.length > 0) break;
    if (Messages.length === 0 || Date.now() >= until) break;
  }
  return messages;
}

/** One poller: receives batches and hands each to `invoke` until the trigger stops. */
async function poll(trigger: Trigger): Promise<void> {
  while (trigger.running) {
    let messages: Message[];
    try {
      messages = await receiveBatch(trigger);
    } catch {
      if (!trigger.running) return;
      // The emulator is restarting or gone: back off instead of spinning.
      await new Promise((resolve) => setTimeout(resolve, 500));
      continue;
    }
    if (messages.length === 0) {
      trigger.emptyPolls++;
      // Short polling with a pause: the emulator's long poll does not return early when a message arrives.
      await new Promise((resolve) => setTimeout(resolve, trigger.options.idleDelayMs ?? 50));
      continue;
    }
    trigger.emptyPolls = 0;
    trigger.busy++;
    try {
      await invoke(trigger, messages);
    } catch {
      // Deleting failed: the messages come back after the visibility timeout and are written again (idempotent).
    } finally {
      trigger.busy--;
    }
  }
}

/** Invokes the handler with a batch, and deletes the messages it did not report as failed. */
async function invoke(trigger: Trigger, messages: Message[]): Promise<void> {
  const { sqs, queueUrl, handler } = trigger.options;
  const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, trigger.queueArn)) };
  let failed = new Set<string>();
  let error: unknown;
  try {
    const response = await handler(event, trigger.timeoutMs);
    failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  } catch (caught) {
    // A handler that throws fails the whole batch, as in Lambda.
    error = caught;
    failed = new Set(messages.map((m) => m.MessageId ?? ''));
  }
  const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
  for (let i = 0; i < done.length; i += 10) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: done.slice(i, i + 10).map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle ?? '' })),
      }),
    );
  }
  trigger.options.onBatch?.({ messages: messages.length, failed: failed.size, error });
}
