/**
 * What the worker does with a batch of SQS messages: decode each message, turn its records into
 * items for the event tables and the `rejected` table, write them all together, and report only the
 * messages whose writes failed transiently. A message that can never be read is quarantined, not
 * retried; an item DynamoDB refuses for good is quarantined too, so nothing is lost.
 *
 * `delete` records are erasures (lib/worker/erasure.ts): their tombstones are written before the batch's
 * events, events of the batch they cover are never written, the batch's written events are then
 * checked against tombstones (one BatchGetItem per 100 users), and each erasure sweeps its user's
 * partitions last. An erasure that cannot finish in time fails its message, and SQS redelivers it.
 */
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { EVENT_TYPES, type EventType } from '../../infra';
import type { Config } from '../shared/config';
import { erasureCutoff, findTombstones, isErased, recordAudit, recordTombstone, sweepUser, tombstoneKey, type ErasureDeps } from './erasure';
import { eventItem, quarantineItem, rejectedRecordItem } from './items';
import type { Log } from '../shared/log';
import { reasonCategory, type Meter } from '../shared/metrics';
import { decodeMessage, RAW_TEXT_LIMIT, UnreadableMessageError, type EventRecord } from '../message/format';
import { writeItems, type WriteDeps, type WriteRequest } from './write';

export interface WorkerDeps {
  documents: WriteDeps['documents'];
  /** Sends the batch writes when given (lib/shared/clients.ts `createWriteClient`). */
  writer?: WriteDeps['writer'];
  config: Pick<Config, 'tables' | 'rejectedRetentionDays' | 'writeConcurrency'>;
  log: Log;
  meter: Meter;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface WorkerStats {
  messages: number;
  /** Events of each type in the batch. */
  events: Partial<Record<EventType, number>>;
  /** Events of each type written and kept (not failed, refused or covered by an erasure). */
  stored: Partial<Record<EventType, number>>;
  quarantined: number;
  /** Erasures (delete events) finished in this batch, and the items they deleted. */
  erasures: number;
  erasedItems: number;
  /** Events not stored, or deleted again, because an erasure covers them. */
  droppedByErasure: number;
  failedMessages: number;
  requests: number;
  retries: number;
}

/** Time kept back from the Lambda timeout so the function can still answer with its failures. */
const SAFETY_MARGIN_MS = 3000;
const DEFAULT_BUDGET_MS = 25_000;

export type ProcessBatch = (event: SQSEvent, remainingMs?: number) => Promise<SQSBatchResponse & { stats: WorkerStats }>;

export function createWorker(deps: WorkerDeps): ProcessBatch {
  const now = deps.now ?? Date.now;
  const { tables } = deps.config;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const writeDeps: WriteDeps = { documents: deps.documents, writer: deps.writer, concurrency: deps.config.writeConcurrency, log: deps.log, now, sleep };
  const erasureDeps: ErasureDeps = { documents: deps.documents, tables, write: writeDeps, log: deps.log, now, sleep };

  return async (event, remainingMs) => {
    const started = now();
    const deadline = started + Math.max(1000, (remainingMs ?? DEFAULT_BUDGET_MS + SAFETY_MARGIN_MS) - SAFETY_MARGIN_MS);
    const ingestedAt = new Date(started).toISOString();
    const expiresAt = Math.floor(started / 1000) + deps.config.rejectedRetentionDays * 86_400;
    const stats: WorkerStats = { messages: event.Records.length, events: {}, stored: {}, quarantined: 0, erasures: 0, erasedItems: 0, droppedByErasure: 0, failedMessages: 0, requests: 0, retries: 0 };

    const writes: WriteRequest[] = [];
    /** The event writes of identified users, with what the tombstone check needs. */
    const userWrites: Array<{ write: WriteRequest; sourceId: string; userId: string; timestamp: string }> = [];
    const deletes: Array<{ record: EventRecord; owner: string; cutoff: string }> = [];
    const eventWrites: Array<{ type: EventType; write: WriteRequest }> = [];
    for (const message of event.Records) {
      const owners = [message.messageId];
      try {
        for (const record of decodeMessage(message.body)) {
          if (record.kind === 'rejected') {
            writes.push({ table: tables.rejected, item: rejectedRecordItem(record, expiresAt), owners });
            stats.quarantined++;
          } else if (EVENT_TYPES.includes(record.event.type as EventType)) {
            const type = record.event.type as EventType;
            const write: WriteRequest = { table: tables[type], item: eventItem(record), owners };
            writes.push(write);
            eventWrites.push({ type, write });
            const { userId } = record.event;
            if (userId !== undefined) userWrites.push({ write, sourceId: record.sourceId, userId, timestamp: record.event.timestamp });
            stats.events[type] = (stats.events[type] ?? 0) + 1;
          } else if (record.event.type === 'delete' && typeof record.event.userId === 'string') {
            deletes.push({ record, owner: message.messageId, cutoff: erasureCutoff(record) });
          } else {
            const raw = JSON.stringify(record.event);
            writes.push({
              table: tables.rejected,
              item: quarantineItem(
                { sourceId: record.sourceId, receivedAt: record.receivedAt, requestId: record.requestId, route: 'worker', raw, rawBytes: Buffer.byteLength(raw), truncated: false, reasons: [`no table stores events of type "${record.event.type}"`], messageId: record.event.messageId, discriminator: `${message.messageId}#${record.event.messageId}` },
                expiresAt,
              ),
              owners,
            });
            stats.quarantined++;
          }
        }
      } catch (error) {
        if (!(error instanceof UnreadableMessageError)) throw error;
        writes.push({ table: tables.rejected, item: unreadableItem(message, error.message, expiresAt), owners });
        stats.quarantined++;
        deps.log.warn('unreadable queue message quarantined', { messageId: message.messageId, reason: error.message });
      }
    }

    // Tombstones first: from here on, no batch (this one or a concurrent one) can store an event
    // they cover without its tombstone check finding it.
    const failedDeletes = new Set<EventRecord>();
    for (const erasure of deletes) {
      try {
        await recordTombstone(erasureDeps, erasure.record.sourceId, erasure.record.event.userId ?? '', erasure.cutoff, deadline);
        stats.requests++;
      } catch (error) {
        failedDeletes.add(erasure.record);
        deps.log.warn('erasure tombstone not written; the delete will be retried', { messageId: erasure.owner, error: (error as Error).name });
      }
    }

    // Events of this batch that a delete of this batch covers are never written.
    const batchCutoffs = new Map<string, string>();
    for (const { record, cutoff } of deletes) {
      const pk = tombstoneKey(record.sourceId, record.event.userId ?? '').pk;
      const known = batchCutoffs.get(pk);
      if (known === undefined || known < cutoff) batchCutoffs.set(pk, cutoff);
    }
    const dropped = new Set<WriteRequest>();
    if (batchCutoffs.size > 0) {
      for (const w of userWrites) {
        const cutoff = batchCutoffs.get(tombstoneKey(w.sourceId, w.userId).pk);
        if (cutoff !== undefined && isErased(w.timestamp, cutoff)) dropped.add(w.write);
      }
      stats.droppedByErasure += dropped.size;
    }

    const outcome = await writeItems(writeDeps, dropped.size > 0 ? writes.filter((w) => !dropped.has(w)) : writes, deadline);
    stats.requests += outcome.requests;
    stats.retries += outcome.retries;

    // Then the check: any event just written that a tombstone covers is deleted again.
    const written = userWrites.filter((w) => !dropped.has(w.write));
    if (written.length > 0) {
      try {
        const { cutoffs, requests } = await findTombstones(erasureDeps, written, deadline);
        stats.requests += requests;
        const undo: WriteRequest[] = [];
        for (const w of written) {
          const cutoff = cutoffs.get(tombstoneKey(w.sourceId, w.userId).pk);
          if (cutoff !== undefined && isErased(w.timestamp, cutoff)) {
            undo.push({ ...w.write, item: { pk: w.write.item.pk, sk: w.write.item.sk }, action: 'delete' });
            dropped.add(w.write);
          }
        }
        if (undo.length > 0) {
          const undone = await writeItems(writeDeps, undo, deadline);
          undone.failedOwners.forEach((owner) => outcome.failedOwners.add(owner));
          stats.requests += undone.requests;
          stats.droppedByErasure += undone.written;
        }
      } catch (error) {
        // Without the check we cannot tell whether an erased user's data was just written back:
        // redeliver those messages; writing and checking again is idempotent.
        written.forEach((w) => w.write.owners.forEach((owner) => outcome.failedOwners.add(owner)));
        deps.log.warn('tombstone check failed; messages will be retried', { error: (error as Error).name, events: written.length });
      }
    }

    // Erasures last, so the common path (events) is not held up behind them.
    for (const erasure of deletes) {
      if (failedDeletes.has(erasure.record)) {
        outcome.failedOwners.add(erasure.owner);
        continue;
      }
      const { record, owner, cutoff } = erasure;
      try {
        const result = await sweepUser(erasureDeps, record.sourceId, record.event.userId ?? '', cutoff, owner, deadline);
        await recordAudit(erasureDeps, record, cutoff, result, deadline);
        const count = Object.values(result.erased).reduce((sum, n) => sum + n, 0);
        stats.erasedItems += count;
        if (result.complete) stats.erasures++;
        else outcome.failedOwners.add(owner);
        deps.log.info(result.complete ? 'erasure done' : 'erasure incomplete; the delete will be retried', { sourceId: record.sourceId, messageId: record.event.messageId, cutoff, erased: result.erased });
      } catch (error) {
        outcome.failedOwners.add(owner);
        deps.log.warn('erasure failed; the delete will be retried', { sourceId: record.sourceId, messageId: record.event.messageId, error: (error as Error).name });
      }
    }
    if (outcome.refused.length > 0) {
      const quarantines = outcome.refused.map(({ write, reason }) => {
        const raw = JSON.stringify(write.item);
        return {
          table: tables.rejected,
          item: quarantineItem(
            { sourceId: String(write.item.sourceId ?? '(unknown)'), receivedAt: String(write.item.receivedAt ?? ingestedAt), requestId: String(write.item.requestId ?? ''), route: 'worker', raw: raw.slice(0, RAW_TEXT_LIMIT), rawBytes: Buffer.byteLength(raw), truncated: raw.length > RAW_TEXT_LIMIT, reasons: [reason], messageId: typeof write.item.messageId === 'string' ? write.item.messageId : undefined, discriminator: `refused#${String(write.item.pk)}#${String(write.item.sk)}` },
            expiresAt,
          ),
          owners: write.owners,
        };
      });
      deps.log.warn('items refused by DynamoDB quarantined', { count: quarantines.length, reasons: [...new Set(outcome.refused.map((r) => r.reason.slice(0, 200)))].slice(0, 3) });
      const second = await writeItems(writeDeps, quarantines, deadline);
      second.failedOwners.forEach((owner) => outcome.failedOwners.add(owner));
      second.refused.forEach(({ write }) => write.owners.forEach((owner) => outcome.failedOwners.add(owner)));
      stats.quarantined += quarantines.length;
      stats.requests += second.requests;
    }

    stats.failedMessages = outcome.failedOwners.size;
    const refused = new Set(outcome.refused.map(({ write }) => `${write.table}#${String(write.item.pk)}#${String(write.item.sk)}`));
    for (const { type, write } of eventWrites) {
      if (dropped.has(write) || write.owners.some((owner) => outcome.failedOwners.has(owner))) continue;
      if (refused.has(`${write.table}#${String(write.item.pk)}#${String(write.item.sk)}`)) continue;
      stats.stored[type] = (stats.stored[type] ?? 0) + 1;
    }
    for (const [type, count] of Object.entries(stats.stored)) deps.meter.count('EventsStored', count, ['type', type]);
    deps.meter.count('WriteRetries', stats.retries);
    deps.meter.count('QuarantinedRecords', stats.quarantined);
    deps.meter.count('Erasures', stats.erasures);
    outcome.refused.forEach(({ reason }) => deps.meter.count('EventsRejected', 1, ['reason', reasonCategory(reason)]));
    deps.log.info('batch processed', { ...stats, failedMessageIds: [...outcome.failedOwners].slice(0, 10), durationMs: now() - started });
    return { batchItemFailures: [...outcome.failedOwners].map((itemIdentifier) => ({ itemIdentifier })), stats };
  };
}

function unreadableItem(message: SQSRecord, reason: string, expiresAt: number) {
  const sentAt = Number(message.attributes?.SentTimestamp);
  const raw = message.body;
  return quarantineItem(
    {
      sourceId: '(unknown)',
      receivedAt: new Date(Number.isFinite(sentAt) && sentAt > 0 ? sentAt : Date.now()).toISOString(),
      requestId: message.messageId,
      route: 'sqs',
      raw: raw.slice(0, RAW_TEXT_LIMIT),
      rawBytes: Buffer.byteLength(raw),
      truncated: raw.length > RAW_TEXT_LIMIT,
      reasons: [reason],
      discriminator: message.messageId,
    },
    expiresAt,
  );
}
