/**
 * Continuing an erasure in a later invocation without spending the delete message's receive
 * count: the worker sends the delete record to the events queue again (marked as a continuation)
 * and lets SQS delete the message it came in. Each run deletes what it can within its time budget;
 * the sweep is idempotent, so the continuation simply starts over on what is left.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { encodeMessage, serializeRecord, type EventRecord } from '../message/format';
import { awsCall } from '../shared/aws-call';
import { BUDGET } from './budget';

/** Puts a delete record back on the queue; throws when SQS did not take it. */
export type Requeue = (record: EventRecord) => Promise<void>;

export function createRequeue(sqs: SQSClient, queueUrl: string): Requeue {
  return async (record) => {
    const body = encodeMessage([serializeRecord({ ...record, continuation: (record.continuation ?? 0) + 1 })]);
    const command = new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body });
    // The sweep stopped at the batch's deadline: the send has a slice of its own (budget.ts).
    await awsCall({ service: 'SQS', timeoutMs: BUDGET.ms('requeue') }, () => sqs.send(command));
  };
}
