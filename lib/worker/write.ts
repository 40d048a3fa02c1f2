/**
 * Writing items to DynamoDB the cheap and safe way: BatchWriteItem with 25 items a call, items of
 * one table kept together, unprocessed items retried with backoff and jitter within a time budget,
 * and chunks run in parallel with a bounded concurrency. What cannot be written in time is reported
 * per owner (the SQS message it came from), so only those messages are redelivered.
 */
import { BatchWriteItemCommand, type AttributeValue, type DynamoDBClient, type WriteRequest as DynamoWriteRequest } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { withinDeadline } from '../shared/retry';
import type { Item } from './items';
import type { Log } from '../shared/log';

const BATCH_ITEMS = 25;

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
   * A low-level client with cached middleware (lib/shared/clients.ts `createWriteClient`) for the batch
   * writes; without it they go through `documents`.
   */
  writer?: DynamoDBClient;
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
  const id = e.name ?? e.code ?? '';
  return TRANSIENT_NAMES.has(id) || TRANSIENT_CODES.has(id) || TRANSIENT_CODES.has(e.code ?? '');
}

const TRANSIENT_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'AbortError',
  'ResourceNotFoundException',
]);
/** Node's codes for a connection that failed or broke. */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);

/** The identity of a write: table and key, as text. */
function keyText(table: string, pk: string, sk: string): string {
  return `${table}\u0000${pk}\u0000${sk}`;
}

function keyOf(write: WriteRequest): string {
  return keyText(write.table, String(write.item.pk), String(write.item.sk ?? ''));
}

type AttributeMap = Record<string, AttributeValue>;

/**
 * An item in DynamoDB's wire form, exactly as the document client (`marshallOptions` of
 * lib/shared/clients.ts) would write it, for the values JSON and our own items hold: strings, safe
 * numbers, booleans, null, arrays and plain objects, with undefined and function values left out.
 * Returns `undefined` for anything else (unsafe or special numbers, class instances, objects with
 * their own `constructor`), which then goes through the document client itself, so its errors and
 * conversions stay exactly the same. It is several times faster than the document client's
 * general-purpose conversion, which the worker paid for every attribute of every event. Like the
 * document client, it is called for each attempt: wire forms are dropped after their send.
 */
export function marshallItem(item: Record<string, unknown>): AttributeMap | undefined {
  const out: AttributeMap = {};
  for (const key of Object.keys(item)) {
    const value = item[key];
    if (value === undefined || typeof value === 'function') continue;
    const converted = toAttribute(value);
    if (converted === undefined) return undefined;
    out[key] = converted;
  }
  return out;
}

function toAttribute(value: unknown): AttributeValue | undefined {
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'number':
      // The document client refuses these (special values, beyond 2^53); let it say so itself.
      return Number.isFinite(value) && value <= Number.MAX_SAFE_INTEGER && value >= Number.MIN_SAFE_INTEGER ? { N: value.toString() } : undefined;
    case 'boolean':
      return { BOOL: value };
    case 'object': {
      if (value === null) return { NULL: true };
      if (Array.isArray(value)) {
        const list: AttributeValue[] = [];
        for (const element of value as unknown[]) {
          if (element === undefined || typeof element === 'function') continue;
          const converted = toAttribute(element);
          if (converted === undefined) return undefined;
          list.push(converted);
        }
        return { L: list };
      }
      if (Object.getPrototypeOf(value) !== Object.prototype || Object.hasOwn(value, 'constructor')) return undefined;
      // Built like the document client builds it (plain assignment into {}), so even odd keys such
      // as "__proto__" come out the same.
      const map: AttributeMap = {};
      for (const key in value) {
        const element = (value as Record<string, unknown>)[key];
        if (element === undefined || typeof element === 'function') continue;
        const converted = toAttribute(element);
        if (converted === undefined) return undefined;
        map[key] = converted;
      }
      return { M: map };
    }
    default:
      return undefined;
  }
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

/** The text of a key attribute in wire form, as `keyOf` prints the plain value. */
function attributeText(value: AttributeValue | undefined): string {
  if (value === undefined) return '';
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return value.N;
  return JSON.stringify(value);
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
      if (attempt > 0) {
        // Full jitter, capped: spreads retries of parallel chunks so they do not throttle together.
        const delay = Math.random() * Math.min(2000, 50 * 2 ** attempt);
        if (now() + delay >= deadline) break;
        await sleep(delay);
        outcome.retries += pending.length;
      }
      // Past the deadline nothing new is started: a request abandoned by its timeout may still be
      // carried out by DynamoDB, and the caller has already given these items up.
      if (now() >= deadline) break;
      // Only needed to match unprocessed items, which are rare: built on first use.
      let byKeyMap: Map<string, WriteRequest> | undefined;
      const byKey = (key: string) => (byKeyMap ??= new Map(pending.map((w) => [keyOf(w), w]))).get(key);
      try {
        outcome.requests++;
        const remaining = Math.max(1, Math.ceil(deadline - now()));
        const options = () => ({ abortSignal: AbortSignal.timeout(remaining) });
        const unprocessed: WriteRequest[] = [];
        const wire = wireRequestItems(pending);
        if (wire) {
          // Already in wire form: sent as the low-level command. The writer takes no per-call
          // options (they would bypass its cached middleware), so the deadline is kept here.
          const command = new BatchWriteItemCommand({ RequestItems: wire });
          const response = deps.writer ? await withinDeadline(deps.writer.send(command), remaining) : await deps.documents.send(command, options());
          for (const [table, requests] of Object.entries(response.UnprocessedItems ?? {})) {
            for (const request of requests) {
              const item = request.PutRequest?.Item ?? request.DeleteRequest?.Key;
              const write = item && byKey(keyText(table, attributeText(item.pk), attributeText(item.sk)));
              if (write) unprocessed.push(write);
            }
          }
        } else {
          const requestItems: Record<string, Array<{ PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } }>> = {};
          for (const write of pending) {
            (requestItems[write.table] ??= []).push(write.action === 'delete' ? { DeleteRequest: { Key: { pk: write.item.pk, sk: write.item.sk } } } : { PutRequest: { Item: write.item } });
          }
          const response = await deps.documents.send(new BatchWriteCommand({ RequestItems: requestItems }), options());
          for (const [table, requests] of Object.entries(response.UnprocessedItems ?? {})) {
            for (const request of requests) {
              const item = request.PutRequest?.Item ?? request.DeleteRequest?.Key;
              const write = item && byKey(keyText(table, String(item.pk), String(item.sk ?? '')));
              if (write) unprocessed.push(write);
            }
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
          abortSignal: AbortSignal.timeout(Math.max(1, Math.ceil(deadline - now()))),
        });
        outcome.written++;
      } catch (error) {
        if (isTransient(error)) fail([write]);
        else outcome.refused.push({ write, reason: `DynamoDB refused the item: ${(error as Error).message}` });
      }
    }
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
