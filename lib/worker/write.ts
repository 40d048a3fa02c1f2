/**
 * Writing items to DynamoDB the cheap and safe way: BatchWriteItem with 25 items a call, items of
 * one table kept together, unprocessed items retried with backoff and jitter within a time budget,
 * and chunks run in parallel with a bounded concurrency. What cannot be written in time is reported
 * per owner (the SQS message it came from), so only those messages are redelivered.
 */
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest as DynamoWriteRequest } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { translateAwsError } from '../shared/errors';
import type { Log } from '../shared/log';
import { retryPending, systemClock, withinDeadline, type Backoff, type Clock } from '../shared/retry';
import { attributeText, marshallItem } from './dynamo-wire';
import type { Item } from './items';

const BATCH_ITEMS = 25;
/** Full jitter, capped: spreads the retries of parallel chunks so they do not throttle together. */
const WRITE_BACKOFF: Backoff = { baseMs: 100, capMs: 2000, jitter: 'full' };

export interface WriteRequest {
  table: string;
  /** The item to put or, for a delete, its key (`pk`, `sk`). */
  item: Item;
  /** Default `put`. Deletes erase a user's items (lib/worker/erasure.ts). */
  action?: 'put' | 'delete';
  /** Ids of the SQS messages that need this item written before they can be deleted. */
  owners: readonly string[];
}

export interface WriteDeps {
  documents: DynamoDBDocumentClient;
  /**
   * A low-level client with cached middleware (lib/shared/clients.ts `createWriteClient`) for the
   * batch writes of items in wire form, which is every item the worker builds from JSON.
   */
  writer: DynamoDBClient;
  concurrency: number;
  log: Log;
  clock?: Clock;
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

/** The identity of a write: table and key, as text. */
function keyText(table: string, pk: string, sk: string): string {
  return `${table}\u0000${pk}\u0000${sk}`;
}

function keyOf(write: WriteRequest): string {
  return keyText(write.table, String(write.item.pk), String(write.item.sk ?? ''));
}

/**
 * Collapses writes to the same key (BatchWriteItem refuses duplicate keys in one call): the last
 * write wins and inherits every owner, since those messages all depend on it.
 */
export function dedupeWrites(writes: readonly WriteRequest[]): WriteRequest[] {
  const byKey = new Map<string, WriteRequest>();
  for (const write of writes) {
    const key = keyOf(write);
    const previous = byKey.get(key);
    byKey.set(key, previous ? { ...write, owners: [...new Set([...previous.owners, ...write.owners])] } : write);
  }
  return [...byKey.values()];
}

/** One `writeItems` call: its dependencies, deadline and the outcome its chunks add to. */
interface WriteRun {
  deps: WriteDeps;
  clock: Clock;
  deadline: number;
  outcome: WriteOutcome;
}

/** Writes every item before `deadline` (epoch ms) or reports which owners must be retried. */
export async function writeItems(deps: WriteDeps, writes: readonly WriteRequest[], deadline: number): Promise<WriteOutcome> {
  const run: WriteRun = {
    deps,
    clock: deps.clock ?? systemClock,
    deadline,
    outcome: { failedOwners: new Set(), refused: [], requests: 0, retries: 0, written: 0 },
  };
  const unique = dedupeWrites(writes).sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
  const chunks: WriteRequest[][] = [];
  for (let i = 0; i < unique.length; i += BATCH_ITEMS) chunks.push(unique.slice(i, i + BATCH_ITEMS));

  let next = 0;
  const lanes = Array.from({ length: Math.min(deps.concurrency, chunks.length) }, async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++];
      if (chunk) await writeChunk(run, chunk);
    }
  });
  await Promise.all(lanes);
  return run.outcome;
}

function failOwners(run: WriteRun, writes: readonly WriteRequest[]): void {
  for (const write of writes) for (const owner of write.owners) run.outcome.failedOwners.add(owner);
}

/** One chunk of up to 25 items: sent, its unprocessed items and transient failures retried, refusals sorted out. */
async function writeChunk(run: WriteRun, chunk: readonly WriteRequest[]): Promise<void> {
  const { outcome } = run;
  const retried = await retryPending(
    chunk,
    { policy: WRITE_BACKOFF, deadline: run.deadline, clock: run.clock },
    async (pending, attempt) => {
      try {
        outcome.requests++;
        const unprocessed = await sendBatch(run, pending);
        outcome.written += pending.length - unprocessed.length;
        return unprocessed;
      } catch (error) {
        const failure = translateAwsError(error, 'DynamoDB');
        if (failure.kind === 'transient') {
          run.deps.log.warn('batch write failed; retrying', { error: failure.code, items: pending.length, attempt });
          return pending;
        }
        // A refused batch fails whole; write its items one by one to find the one DynamoDB cannot hold.
        await writeOneByOne(run, pending);
        return [];
      }
    },
  );
  outcome.retries += retried.retried;
  failOwners(run, retried.pending);
}

/** Sends one BatchWriteItem of `pending`; returns the writes DynamoDB left unprocessed. */
async function sendBatch(run: WriteRun, pending: readonly WriteRequest[]): Promise<WriteRequest[]> {
  const remaining = Math.max(1, Math.ceil(run.deadline - run.clock.now()));
  const wire = wireRequestItems(pending);
  // Only needed to match unprocessed items, which are rare: built on first use.
  let byKeyMap: Map<string, WriteRequest> | undefined;
  const byKey = (key: string) => (byKeyMap ??= new Map(pending.map((w) => [keyOf(w), w]))).get(key);
  const unprocessed: WriteRequest[] = [];
  if (wire) {
    // The writer takes no per-call options (they would bypass its cached middleware), so the
    // deadline is kept here.
    const response = await withinDeadline(run.deps.writer.send(new BatchWriteItemCommand({ RequestItems: wire })), remaining);
    for (const [table, requests] of Object.entries(response.UnprocessedItems ?? {})) {
      for (const request of requests) {
        const item = request.PutRequest?.Item ?? request.DeleteRequest?.Key;
        const write = item && byKey(keyText(table, attributeText(item.pk), attributeText(item.sk)));
        if (write) unprocessed.push(write);
      }
    }
    return unprocessed;
  }
  const requestItems: Record<string, Array<{ PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } }>> = {};
  for (const write of pending) {
    const request =
      write.action === 'delete'
        ? { DeleteRequest: { Key: { pk: write.item.pk, sk: write.item.sk } } }
        : { PutRequest: { Item: write.item } };
    (requestItems[write.table] ??= []).push(request);
  }
  const response = await run.deps.documents.send(new BatchWriteCommand({ RequestItems: requestItems }), {
    abortSignal: AbortSignal.timeout(remaining),
  });
  for (const [table, requests] of Object.entries(response.UnprocessedItems ?? {})) {
    for (const request of requests) {
      const item = request.PutRequest?.Item ?? request.DeleteRequest?.Key;
      const write = item && byKey(keyText(table, String(item.pk), String(item.sk ?? '')));
      if (write) unprocessed.push(write);
    }
  }
  return unprocessed;
}

/**
 * The document client's own refusal to convert an item (a number beyond 2^53, an unsupported
 * type): a plain `Error`, thrown before any request. Credential, network and service errors all
 * have classes or codes of their own.
 */
function isConversionError(error: unknown): boolean {
  return error instanceof Error && error.constructor === Error && !('$metadata' in error);
}

/**
 * Puts each write alone, so an item DynamoDB refuses is told apart from its neighbours. Only a
 * refusal of the item itself quarantines it (SPEC.md section 5): a missing table, a permission or
 * credential error fails its owners, so SQS retries them and the dead-letter queue alarms.
 */
async function writeOneByOne(run: WriteRun, pending: readonly WriteRequest[]): Promise<void> {
  let notAboutTheItem: string | undefined;
  for (const write of pending) {
    // A key-only delete has nothing DynamoDB could refuse in it: the error is about us (access,
    // a missing table), so the message goes back to the queue and, if it persists, to the DLQ.
    if (write.action === 'delete') {
      failOwners(run, [write]);
      continue;
    }
    try {
      run.outcome.requests++;
      const remaining = Math.max(1, Math.ceil(run.deadline - run.clock.now()));
      await run.deps.documents.send(new PutCommand({ TableName: write.table, Item: write.item }), {
        abortSignal: AbortSignal.timeout(remaining),
      });
      run.outcome.written++;
    } catch (error) {
      const failure = translateAwsError(error, 'DynamoDB');
      if (failure.kind === 'refused' || isConversionError(error)) {
        run.outcome.refused.push({ write, reason: `DynamoDB refused the item: ${(error as Error).message}` });
        continue;
      }
      failOwners(run, [write]);
      if (failure.kind === 'configuration') notAboutTheItem = failure.code;
    }
  }
  if (notAboutTheItem)
    run.deps.log.error('item writes failed, not because of the items; their messages will be retried', { error: notAboutTheItem });
}

/** The chunk's RequestItems in wire form, or `undefined` when an item needs the document client. */
function wireRequestItems(pending: readonly WriteRequest[]): Record<string, DynamoWriteRequest[]> | undefined {
  const requestItems: Record<string, DynamoWriteRequest[]> = {};
  for (const write of pending) {
    // Made per attempt and dropped after the send: kept for the whole batch, these short-lived
    // trees outlived young-generation collections and doubled the worker's GC time.
    if (write.action === 'delete') {
      const Key = marshallItem({ pk: write.item.pk, sk: write.item.sk });
      if (!Key) return undefined;
      (requestItems[write.table] ??= []).push({ DeleteRequest: { Key } });
      continue;
    }
    const Item = marshallItem(write.item);
    if (!Item) return undefined;
    (requestItems[write.table] ??= []).push({ PutRequest: { Item } });
  }
  return requestItems;
}
