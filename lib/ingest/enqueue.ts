/**
 * Getting records into SQS. Records are packed into as few messages as the size cap allows (SQS
 * bills per 64 KB chunk and per request, so one big message is cheaper than many small ones), sent
 * with SendMessageBatch, and every `Failed[]` entry is retried until SQS has taken it or the time
 * budget runs out. Only then may the caller answer 200; otherwise it answers 503.
 */
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { awsCall } from '../shared/aws-call';
import { DependencyError } from '../shared/errors';
import { retryPending, systemClock, type Backoff, type Clock } from '../shared/retry';
import { QueueUnavailableError } from './http-errors';
import { ENVELOPE_BYTES, encodeMessage, type SerializedRecord } from '../message/format';

/** SQS limits: 10 entries and 1 MiB per SendMessageBatch request. */
const BATCH_ENTRIES = 10;
const BATCH_BYTES = 1024 * 1024;
const RETRY_AFTER_SECONDS = 10;

/** A message body and its size in bytes. */
export interface PackedMessage {
  body: string;
  bytes: number;
}

/** Packs records, in order, into message bodies of at most `capBytes` each. */
export function packMessages(records: readonly SerializedRecord[], capBytes: number): string[] {
  return packSized(records, capBytes).map((message) => message.body);
}

/** `packMessages`, keeping each message's size (known from its records) so nothing counts it again. */
export function packSized(records: readonly SerializedRecord[], capBytes: number): PackedMessage[] {
  const messages: PackedMessage[] = [];
  let current: SerializedRecord[] = [];
  let size = ENVELOPE_BYTES;
  for (const record of records) {
    const added = record.bytes + (current.length > 0 ? 1 : 0);
    if (current.length > 0 && size + added > capBytes) {
      messages.push({ body: encodeMessage(current), bytes: size });
      current = [];
      size = ENVELOPE_BYTES;
    }
    size += record.bytes + (current.length > 0 ? 1 : 0);
    current.push(record);
  }
  if (current.length > 0) messages.push({ body: encodeMessage(current), bytes: size });
  return messages;
}

/**
 * Groups message bodies into SendMessageBatch requests within the entry and byte limits.
 * `bytesOf` gives an entry's body size when the caller knows it already.
 */
export function groupIntoBatches(
  entries: readonly SendMessageBatchRequestEntry[],
  bytesOf: (entry: SendMessageBatchRequestEntry) => number = (entry) => Buffer.byteLength(entry.MessageBody ?? ''),
): SendMessageBatchRequestEntry[][] {
  const batches: SendMessageBatchRequestEntry[][] = [];
  let current: SendMessageBatchRequestEntry[] = [];
  let size = 0;
  for (const entry of entries) {
    const bytes = bytesOf(entry);
    if (current.length === BATCH_ENTRIES || (current.length > 0 && size + bytes > BATCH_BYTES)) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(entry);
    size += bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export interface EnqueueDeps {
  sqs: SQSClient;
  queueUrl: string;
  messageBytes: number;
  budgetMs: number;
  clock?: Clock;
}

export interface EnqueueResult {
  messages: number;
  requests: number;
  /** Entries sent again after SQS failed them or a request failed. */
  retries: number;
}

/** Puts `records` into the queue by `deadline` (epoch ms; the request's), within the enqueue budget. */
export type Enqueue = (records: readonly SerializedRecord[], deadline?: number) => Promise<EnqueueResult>;

/** Backoff between attempts at the entries SQS has not taken yet: quick, since a sender is waiting. */
const ENQUEUE_BACKOFF: Backoff = { baseMs: 50, capMs: 1000, jitter: 'half' };

/**
 * Returns a function that puts records durably into the queue, or throws `QueueUnavailableError`
 * once the budget is spent with some entries still not accepted.
 */
export function createEnqueuer(deps: EnqueueDeps): Enqueue {
  const clock = deps.clock ?? systemClock;

  return async (records, requestDeadline = Infinity) => {
    const deadline = Math.min(clock.now() + deps.budgetMs, requestDeadline);
    const bodies = packSized(records, deps.messageBytes);
    const entries: SendMessageBatchRequestEntry[] = bodies.map((message, index) => ({ Id: String(index), MessageBody: message.body }));
    const bytesOf = (entry: SendMessageBatchRequestEntry) => bodies[Number(entry.Id)]?.bytes ?? 0;
    let requests = 0;
    let lastProblem: unknown;

    const sendPending = async (pending: readonly SendMessageBatchRequestEntry[]): Promise<SendMessageBatchRequestEntry[]> => {
      const remaining = deadline - clock.now();
      const batches = groupIntoBatches(pending, bytesOf);
      requests += batches.length;
      const outcomes = await Promise.all(
        batches.map(async (batch) => {
          try {
            // No per-call options: they would defeat the client's cached middleware (lib/shared/clients.ts),
            // which saves about a third of the SDK's CPU per request. The deadline is kept here instead,
            // and the client's own request timeout ends a request we stopped waiting for.
            const command = new SendMessageBatchCommand({ QueueUrl: deps.queueUrl, Entries: batch });
            const response = await awsCall({ service: 'SQS', timeoutMs: remaining }, () => deps.sqs.send(command));
            const failed = new Set((response.Failed ?? []).map((f) => f.Id));
            if (failed.size > 0) lastProblem = response.Failed?.[0];
            return batch.filter((entry) => failed.has(entry.Id));
          } catch (error) {
            // A bug is not the queue's refusal: it leaves as itself (a 503 and an unexpected error).
            if (!(error instanceof DependencyError)) throw error;
            lastProblem = error;
            return batch;
          }
        }),
      );
      return outcomes.flat();
    };

    const outcome = await retryPending(entries, { policy: ENQUEUE_BACKOFF, deadline, clock }, sendPending);
    if (outcome.pending.length > 0) {
      throw new QueueUnavailableError(
        `the queue did not accept ${outcome.pending.length} of ${bodies.length} messages in time; retry later`,
        RETRY_AFTER_SECONDS,
        lastProblem,
      );
    }
    return { messages: bodies.length, requests, retries: outcome.retried };
  };
}
