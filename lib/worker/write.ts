/**
 * Writing items to DynamoDB the cheap and safe way: BatchWriteItem with 25 items a call, items of
 * one table kept together, unprocessed items retried with backoff and jitter within a time budget,
 * and chunks run in parallel with a bounded concurrency. What cannot be written in time is reported
 * per owner (the SQS message it came from), so only those messages are redelivered.
 */
import {
  BatchWriteItemCommand,
  PutItemCommand,
  type DynamoDBClient,
  type WriteRequest as DynamoWriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { awsCall } from '../shared/aws-call';
import { forEachLimited } from '../shared/concurrency';
import { DependencyError } from '../shared/errors';
import type { Log } from '../shared/log';
import { retryPending, systemClock, type Backoff, type Clock } from '../shared/retry';
import { attributeText, marshallItem, UnsupportedValueError } from '../tables/dynamo-wire';
import type { Item } from '../tables/events';

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
  /** Where an event item came from, for its quarantine record should DynamoDB refuse it. */
  origin?: { sourceId: string; receivedAt: string; requestId: string; messageId: string; type: string };
}

export interface WriteDeps {
  /** The document client, for the reads and updates of erasure (lib/worker/erasure.ts, lib/tables/erasures.ts). */
  documents: DynamoDBDocumentClient;
  /**
   * A low-level client with cached middleware (lib/shared/clients.ts `createWriteClient`): every
   * write goes through it, in wire form (dynamo-wire.ts).
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
  /**
   * Requests DynamoDB refused for a reason that is not the item's (permissions, credentials, a
   * missing table, KMS): their owners fail, so SQS retries them until someone fixes it.
   */
  configurationErrors: DependencyError[];
  /** Errors no AWS call threw (bugs): their owners fail too, and the worker reports them as unexpected. */
  unexpectedErrors: unknown[];
}

/**
 * The identity of a write: table and key, as unambiguous text. Ids may hold any character (NUL
 * included), so the parts are never joined with a separator: each of the first two is prefixed
 * with its length, which tells where it ends (cheaper than JSON, measured in the worker's profile).
 */
export function writeIdentity(table: string, pk: string, sk: string): string {
  return `${table.length}:${table}${pk.length}:${pk}${sk}`;
}

export function identityOf(write: WriteRequest): string {
  return writeIdentity(write.table, String(write.item.pk), String(write.item.sk ?? ''));
}

/**
 * Collapses writes to the same key (BatchWriteItem refuses duplicate keys in one call): the last
 * write wins and inherits every owner, since those messages all depend on it.
 */
export function dedupeWrites(writes: readonly WriteRequest[]): WriteRequest[] {
  const byKey = new Map<string, WriteRequest>();
  for (const write of writes) {
    const key = identityOf(write);
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
    outcome: { failedOwners: new Set(), refused: [], requests: 0, retries: 0, written: 0, configurationErrors: [], unexpectedErrors: [] },
  };
  const unique = dedupeWrites(writes).sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
  const chunks: WriteRequest[][] = [];
  for (let i = 0; i < unique.length; i += BATCH_ITEMS) chunks.push(unique.slice(i, i + BATCH_ITEMS));

  await forEachLimited(chunks, deps.concurrency, (chunk) => writeChunk(run, chunk));
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
        const unprocessed = await sendBatch(run, pending);
        outcome.written += pending.length - unprocessed.length;
        return unprocessed;
      } catch (error) {
        if (error instanceof DependencyError && error.kind === 'transient') {
          run.deps.log.warn('batch write failed; retrying', { error: error.code, items: pending.length, attempt });
          return pending;
        }
        if (!(error instanceof DependencyError || error instanceof UnsupportedValueError)) {
          outcome.unexpectedErrors.push(error);
          failOwners(run, pending);
          return [];
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
  const command = new BatchWriteItemCommand({ RequestItems: wireRequestItems(pending) });
  const response = await awsCall(writeCall(run), () => run.deps.writer.send(command));
  const left = Object.entries(response.UnprocessedItems ?? {});
  if (left.length === 0) return [];
  const byIdentity = new Map(pending.map((w) => [identityOf(w), w]));
  const unprocessed: WriteRequest[] = [];
  for (const [table, requests] of left) {
    for (const request of requests) {
      const key = request.PutRequest?.Item ?? request.DeleteRequest?.Key;
      const write = key && byIdentity.get(writeIdentity(table, attributeText(key.pk), attributeText(key.sk)));
      if (write) unprocessed.push(write);
    }
  }
  return unprocessed;
}

/**
 * Puts each write alone, so an item DynamoDB refuses is told apart from its neighbours. Only a
 * refusal of the item itself quarantines it (docs/spec.md section 5): a missing table, a permission or
 * credential error fails its owners, so SQS retries them, and the worker logs and counts it.
 */
async function writeOneByOne(run: WriteRun, pending: readonly WriteRequest[]): Promise<void> {
  for (const write of pending) {
    // A key-only delete has nothing DynamoDB could refuse in it: the error is about us (access,
    // a missing table), so the message goes back to the queue and, if it persists, to the DLQ.
    if (write.action === 'delete') {
      failOwners(run, [write]);
      continue;
    }
    try {
      const command = new PutItemCommand({ TableName: write.table, Item: marshallItem(write.item) });
      await awsCall({ ...writeCall(run), reason: refusalReason }, () => run.deps.writer.send(command));
      run.outcome.written++;
    } catch (error) {
      if (error instanceof UnsupportedValueError) {
        run.outcome.refused.push({ write, reason: error.message });
        continue;
      }
      if (!(error instanceof DependencyError)) {
        run.outcome.unexpectedErrors.push(error);
        failOwners(run, [write]);
        continue;
      }
      if (error.kind === 'refused') run.outcome.refused.push({ write, reason: error.message });
      else failOwners(run, [write]);
      if (error.kind === 'configuration') run.outcome.configurationErrors.push(error);
    }
  }
}

/**
 * A write's call through the door: at least 1 ms even past the deadline (a chunk already started is
 * sent, as before the door), counted in the outcome. The writer takes no per-call options (they
 * would bypass its cached middleware), so the door keeps the deadline without an abort signal.
 */
function writeCall(run: WriteRun) {
  return {
    service: 'DynamoDB' as const,
    timeoutMs: Math.max(1, Math.ceil(run.deadline - run.clock.now())),
    counter: run.outcome,
  };
}

/**
 * Why DynamoDB refused an item, in our words: the quarantine reason a user reads, never the SDK's
 * or the service's text. Only the wording comes from the service's message; the decision to
 * quarantine is the error's class (ValidationException).
 */
export function refusalReason(error: unknown): string {
  const text = error instanceof Error ? error.message : '';
  if (/item size|maximum allowed size/i.test(text)) return "DynamoDB refused the item: it is larger than DynamoDB's 400 KB item limit";
  if (/key/i.test(text) && /size|length|long|limit/i.test(text)) {
    return 'DynamoDB refused the item: a key is longer than DynamoDB allows (2,048 bytes for the partition key, 1,024 for the sort key)';
  }
  if (/empty/i.test(text)) return 'DynamoDB refused the item: it holds an empty value where DynamoDB requires one (a key or a set)';
  if (/nest|depth/i.test(text)) return 'DynamoDB refused the item: it nests deeper than DynamoDB allows';
  return 'DynamoDB refused the item as invalid (ValidationException)';
}

/** The chunk's RequestItems in wire form; throws `UnsupportedValueError` for an item JSON could not hold. */
function wireRequestItems(pending: readonly WriteRequest[]): Record<string, DynamoWriteRequest[]> {
  const requestItems: Record<string, DynamoWriteRequest[]> = {};
  for (const write of pending) {
    // Made per attempt and dropped after the send: kept for the whole batch, these short-lived
    // trees outlived young-generation collections and doubled the worker's GC time.
    const request: DynamoWriteRequest =
      write.action === 'delete'
        ? { DeleteRequest: { Key: marshallItem({ pk: write.item.pk, sk: write.item.sk }) } }
        : { PutRequest: { Item: marshallItem(write.item) } };
    (requestItems[write.table] ??= []).push(request);
  }
  return requestItems;
}
