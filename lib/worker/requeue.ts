/**
 * Continuing an erasure in a later invocation without spending the delete message's receive
 * count: the worker sends the delete record to the events queue again (marked as a continuation)
 * and lets SQS delete the message it came in. Each run deletes what it can within its time budget;
 * the sweep is idempotent, so the continuation simply starts over on what is left.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { encodeMessage, serializeRecord, type EventRecord } from '../message/format';
import { awsCall } from '../shared/aws-call';

/** Puts a delete record back on the queue; throws when SQS did not take it. */
export type Requeue = (record: EventRecord) => Promise<void>;

/**
 * The longest a requeue may take. The sweep stops at the batch's deadline, which keeps 3 s of the
 * invocation back (process-batch.ts): half of that is for this send.
 */
const REQUEUE_TIMEOUT_MS = 1500;

export function createRequeue(sqs: SQSClient, queueUrl: string): Requeue {
  return async (record) => {
    const body = encodeMessage([serializeRecord({ ...record, continuation: (record.continuation ?? 0) + 1 })]);
    const command = new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body });
    await awsCall({ service: 'SQS', timeoutMs: REQUEUE_TIMEOUT_MS }, () => sqs.send(command));
  };
}
