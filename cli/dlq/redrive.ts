/**
 * Moving dead-lettered messages back to the events queue: receive from the dead-letter queue, send
 * to the events queue, and delete from the dead-letter queue only what SQS confirmed it took. A
 * crash between send and delete leaves a message in both queues; it is then written twice, which
 * the idempotent table keys make harmless. Nothing is ever lost.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

export interface RedriveOptions {
  from: string;
  to: string;
  /** Stop after this many messages (default: the depth when it started, so messages that fail again are not cycled forever). */
  max: number;
  /** How long received messages stay hidden; ones not moved in that time reappear in the dead-letter queue. */
  visibilityTimeoutSeconds?: number;
  signal?: AbortSignal;
  onProgress?: (moved: number, failed: number) => void;
}

export interface RedriveResult {
  moved: number;
  /** Messages SQS did not take; they stay in the dead-letter queue. */
  failed: number;
  /** Moved but not deleted from the dead-letter queue (they are in both; written twice, harmlessly). */
  notDeleted: number;
  problems: string[];
  interrupted: boolean;
}

export async function queueDepth(sqs: SQSClient, url: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(Attributes.ApproximateNumberOfMessages ?? 0) || 0;
}

export async function redrive(sqs: SQSClient, options: RedriveOptions): Promise<RedriveResult> {
  const result: RedriveResult = { moved: 0, failed: 0, notDeleted: 0, problems: [], interrupted: false };
  let emptyReceives = 0;
  while (result.moved + result.failed < options.max) {
    if (options.signal?.aborted) {
      result.interrupted = true;
      break;
    }
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.from,
        MaxNumberOfMessages: Math.min(10, options.max - result.moved - result.failed),
        WaitTimeSeconds: 1,
        VisibilityTimeout: options.visibilityTimeoutSeconds ?? 60,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) {
      // Two empty long polls in a row: the queue is drained (SQS may answer one empty poll spuriously).
      if (++emptyReceives >= 2) break;
      continue;
    }
    emptyReceives = 0;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: options.to,
        Entries: Messages.map((message, i) => ({
          Id: String(i),
          MessageBody: message.Body ?? '',
          MessageAttributes: message.MessageAttributes,
        })),
      }),
    );
    for (const failure of sent.Failed ?? [])
      result.problems.push(`SQS did not take a message: ${failure.Code ?? ''} ${failure.Message ?? ''}`.trim());
    result.failed += (sent.Failed ?? []).length;
    const taken = (sent.Successful ?? []).map((s) => Messages[Number(s.Id)]).filter((m) => m?.ReceiptHandle !== undefined);
    if (taken.length > 0) {
      const deleted = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.from,
          Entries: taken.map((m, i) => ({ Id: String(i), ReceiptHandle: m?.ReceiptHandle ?? '' })),
        }),
      );
      result.notDeleted += (deleted.Failed ?? []).length;
      for (const failure of deleted.Failed ?? [])
        result.problems.push(`moved, but not deleted from the dead-letter queue: ${failure.Code ?? ''} ${failure.Message ?? ''}`.trim());
    }
    result.moved += taken.length;
    options.onProgress?.(result.moved, result.failed);
  }
  return result;
}
