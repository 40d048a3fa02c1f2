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

export function startSqsTrigger(options: SqsTriggerOptions): SqsTrigger {
  const { sqs, queueUrl, handler } = options;
  const batchSize = options.batchSize ?? 10;
  const windowMs = options.windowMs ?? 200;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const idleDelayMs = options.idleDelayMs ?? 50;
  const queueArn = `arn:aws:sqs:us-east-1:000000000000:${queueUrl.split('/').pop() ?? 'queue'}`;
  let running = true;
  let busy = 0;
  let emptyPolls = 0;
  const controller = new AbortController();

  async function receiveBatch(): Promise<Message[]> {
    const messages: Message[] = [];
    const until = Date.now() + windowMs;
    while (running && messages.length < batchSize) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, batchSize - messages.length),
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['All'],
        }),
        { abortSignal: controller.signal },
      );
      messages.push(...Messages);
      if (Messages.length === 0 && messages.length > 0) break;
      if (Messages.length === 0 || Date.now() >= until) break;
    }
    return messages;
  }

  async function poll(): Promise<void> {
    while (running) {
      let messages: Message[];
      try {
        messages = await receiveBatch();
      } catch {
        if (!running) return;
        // The emulator is restarting or gone: back off instead of spinning.
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      if (messages.length === 0) {
        emptyPolls++;
        // Short polling with a pause: the emulator's long poll does not return early when a message arrives.
        await new Promise((resolve) => setTimeout(resolve, idleDelayMs));
        continue;
      }
      emptyPolls = 0;
      busy++;
      try {
        const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, queueArn)) };
        let failed = new Set<string>();
        let error: unknown;
        try {
          const response = await handler(event, timeoutMs);
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
        options.onBatch?.({ messages: messages.length, failed: failed.size, error });
      } catch {
        // Deleting failed: the messages come back after the visibility timeout and are written again (idempotent).
      } finally {
        busy--;
      }
    }
  }

  const pollers = Array.from({ length: options.concurrency ?? 2 }, () => poll());

  return {
    async stop() {
      running = false;
      controller.abort();
      await Promise.allSettled(pollers);
    },
    async idle() {
      emptyPolls = 0;
      const pollerCount = options.concurrency ?? 2;
      while (busy > 0 || emptyPolls < pollerCount) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}
