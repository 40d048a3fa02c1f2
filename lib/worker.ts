/**
 * What the worker does with a batch of SQS messages: decode each message, turn its records into
 * items for the event tables and the `rejected` table, write them all together, and report only the
 * messages whose writes failed transiently. A message that can never be read is quarantined, not
 * retried; an item DynamoDB refuses for good is quarantined too, so nothing is lost.
 */
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { EVENT_TYPES, type EventType } from '../infra';
import type { Config } from './config';
import { eventItem, quarantineItem, rejectedRecordItem } from './items';
import type { Log } from './log';
import { decodeMessage, RAW_TEXT_LIMIT, UnreadableMessageError } from './records';
import { writeItems, type WriteDeps, type WriteRequest } from './store';

export interface WorkerDeps {
  documents: WriteDeps['documents'];
  /** Sends the batch writes when given (lib/clients.ts `createWriteClient`). */
  writer?: WriteDeps['writer'];
  config: Pick<Config, 'tables' | 'rejectedRetentionDays' | 'writeConcurrency'>;
  log: Log;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface WorkerStats {
  messages: number;
  events: Partial<Record<EventType, number>>;
  quarantined: number;
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
  const writeDeps: WriteDeps = { documents: deps.documents, writer: deps.writer, concurrency: deps.config.writeConcurrency, log: deps.log, now, sleep: deps.sleep };

  return async (event, remainingMs) => {
    const started = now();
    const deadline = started + Math.max(1000, (remainingMs ?? DEFAULT_BUDGET_MS + SAFETY_MARGIN_MS) - SAFETY_MARGIN_MS);
    const ingestedAt = new Date(started).toISOString();
    const expiresAt = Math.floor(started / 1000) + deps.config.rejectedRetentionDays * 86_400;
    const stats: WorkerStats = { messages: event.Records.length, events: {}, quarantined: 0, failedMessages: 0, requests: 0, retries: 0 };

    const writes: WriteRequest[] = [];
    for (const message of event.Records) {
      const owners = [message.messageId];
      try {
        for (const record of decodeMessage(message.body)) {
          if (record.kind === 'rejected') {
            writes.push({ table: tables.rejected, item: rejectedRecordItem(record, expiresAt), owners });
            stats.quarantined++;
          } else if (EVENT_TYPES.includes(record.event.type as EventType)) {
            const type = record.event.type as EventType;
            writes.push({ table: tables[type], item: eventItem(record, ingestedAt), owners });
            stats.events[type] = (stats.events[type] ?? 0) + 1;
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

    const outcome = await writeItems(writeDeps, writes, deadline);
    stats.requests += outcome.requests;
    stats.retries += outcome.retries;
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
      deps.log.warn('items refused by DynamoDB quarantined', { count: quarantines.length, reasons: outcome.refused.slice(0, 3).map((r) => r.reason) });
      const second = await writeItems(writeDeps, quarantines, deadline);
      second.failedOwners.forEach((owner) => outcome.failedOwners.add(owner));
      second.refused.forEach(({ write }) => write.owners.forEach((owner) => outcome.failedOwners.add(owner)));
      stats.quarantined += quarantines.length;
      stats.requests += second.requests;
    }

    stats.failedMessages = outcome.failedOwners.size;
    deps.log.info('batch processed', { ...stats, durationMs: now() - started });
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
