/**
 * Writing items to DynamoDB the cheap and safe way: BatchWriteItem with 25 items a call, items of
 * one table kept together, unprocessed items retried with backoff and jitter within a time budget,
 * and chunks run in parallel with a bounded concurrency. What cannot be written in time is reported
 * per owner (the SQS message it came from), so only those messages are redelivered.
 */
import { BatchWriteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Item } from './items';
import type { Log } from './log';

const BATCH_ITEMS = 25;

export interface WriteRequest {
  table: string;
  /** The item to put or, for a delete, its key (`pk`, `sk`). */
  item: Item;
  /** Default `put`. Deletes erase a user's items (lib/erasure.ts). */
  action?: 'put' | 'delete';
  /** Ids of the SQS messages that need this item written before they can be deleted. */
  owners: readonly string[];
}

export interface WriteDeps {
  documents: DynamoDBDocumentClient;
  concurrency: number;
  log: Log;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface WriteOutcome {
  /** Owners with at least one item not written (transient failure or budget spent). */
  failedOwners: Set<string>;
  /** Items DynamoDB refused for good (ValidationException), with the reason; the caller quarantines them. */
  refused: Array<{ write: WriteRequest; reason: string }>;
  requests: number;
  retries: number;
  written: number;
}

/** Errors worth retrying: throttling, service faults, timeouts, connection problems. */
export function isTransient(error: unknown): boolean {
  const e = error as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number }; code?: string };
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  return [
    'ProvisionedThroughputExceededException',
    'ThrottlingException',
    'RequestLimitExceeded',
    'InternalServerError',
    'ServiceUnavailable',
    'TimeoutError',
    'AbortError',
    'ResourceNotFoundException',
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'EPIPE',
  ].includes(e.name ?? e.code ?? '') || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(e.code ?? '');
}

function keyOf(write: WriteRequest): string {
  return `${write.table}\u0000${String(write.item.pk)}\u0000${String(write.item.sk ?? '')}`;
}

/**
 * Collapses writes to the same key (BatchWriteItem refuses duplicate keys in one call): the last
 * write wins and inherits every owner, since those messages all depend on it.
 */
export function dedupeWrites(writes: readonly WriteRequest[]): WriteRequest[] {
  const byKey = new Map<string, WriteRequest>();
  for (const write of writes) {
    const previous = byKey.get(keyOf(write));
    byKey.set(keyOf(write), previous ? { ...write, owners: [...new Set([...previous.owners, ...write.owners])] } : write);
  }
  return [...byKey.values()];
}

/** Writes every item before `deadline` (epoch ms) or reports which owners must be retried. */
export async function writeItems(deps: WriteDeps, writes: readonly WriteRequest[], deadline: number): Promise<WriteOutcome> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const outcome: WriteOutcome = { failedOwners: new Set(), refused: [], requests: 0, retries: 0, written: 0 };

  const unique = dedupeWrites(writes).sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
  const chunks: WriteRequest[][] = [];
  for (let i = 0; i < unique.length; i += BATCH_ITEMS) chunks.push(unique.slice(i, i + BATCH_ITEMS));

  const fail = (pending: readonly WriteRequest[]) => pending.forEach((w) => w.owners.forEach((o) => outcome.failedOwners.add(o)));

  async function writeChunk(chunk: WriteRequest[]): Promise<void> {
    let pending = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (now() >= deadline) break;
      if (attempt > 0) {
        // Full jitter, capped: spreads retries of parallel chunks so they do not throttle together.
        const delay = Math.random() * Math.min(2000, 50 * 2 ** attempt);
        if (now() + delay >= deadline) break;
        await sleep(delay);
        outcome.retries += pending.length;
      }
      const byKey = new Map(pending.map((w) => [keyOf(w), w]));
      const requestItems: Record<string, Array<{ PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } }>> = {};
      for (const write of pending) {
        (requestItems[write.table] ??= []).push(write.action === 'delete' ? { DeleteRequest: { Key: { pk: write.item.pk, sk: write.item.sk } } } : { PutRequest: { Item: write.item } });
      }
      try {
        outcome.requests++;
        const response = await deps.documents.send(new BatchWriteCommand({ RequestItems: requestItems }), {
          abortSignal: AbortSignal.timeout(Math.max(1, deadline - now())),
        });
        const unprocessed: WriteRequest[] = [];
        for (const [table, requests] of Object.entries(response.UnprocessedItems ?? {})) {
          for (const request of requests) {
            const item = request.PutRequest?.Item ?? request.DeleteRequest?.Key;
            const write = item && byKey.get(`${table}\u0000${String(item.pk)}\u0000${String(item.sk ?? '')}`);
            if (write) unprocessed.push(write);
          }
        }
        outcome.written += pending.length - unprocessed.length;
        pending = unprocessed;
      } catch (error) {
        if (isTransient(error)) {
          deps.log.warn('batch write failed; retrying', { error: (error as Error).name, items: pending.length, attempt });
          continue;
        }
        // A refused batch fails whole; write its items one by one to find the one DynamoDB cannot hold.
        await writeOneByOne(pending);
        return;
      }
    }
    if (pending.length > 0) fail(pending);
  }

  async function writeOneByOne(pending: readonly WriteRequest[]): Promise<void> {
    for (const write of pending) {
      // A key-only delete has nothing DynamoDB could refuse in it: the error is about us (access,
      // a missing table), so the message goes back to the queue and, if it persists, to the DLQ.
      if (write.action === 'delete') {
        fail([write]);
        continue;
      }
      try {
        outcome.requests++;
        await deps.documents.send(new PutCommand({ TableName: write.table, Item: write.item }), {
          abortSignal: AbortSignal.timeout(Math.max(1, deadline - now())),
        });
        outcome.written++;
      } catch (error) {
        if (isTransient(error)) fail([write]);
        else outcome.refused.push({ write, reason: `DynamoDB refused the item: ${(error as Error).message}` });
      }
    }
  }

  let next = 0;
  const lanes = Array.from({ length: Math.min(deps.concurrency, chunks.length) }, async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++];
      if (chunk) await writeChunk(chunk);
    }
  });
  await Promise.all(lanes);
  return outcome;
}
