/**
 * Phase 1 of a batch: read each SQS message and plan its writes. Event records become items of
 * their type's table, quarantine records items of `rejected`, and `delete` records erasures. A
 * message that can never be read becomes a quarantine item itself instead of a retry loop.
 */
import type { SQSRecord } from 'aws-lambda';
import { decodeMessage, UnreadableMessageError, type EventRecord, type QueueRecord } from '../message/format';
import type { Log } from '../shared/log';
import { isEventType, type EventType } from '../spec/event-types';
import { erasureCutoff, erasureTime } from './erasure';
import { eventItem } from '../tables/events';
import { rejectedRecordItem, unknownTypeItem, unreadableMessageItem } from './quarantine';
import type { WriteRequest } from './write';
import type { TableName } from '../../infra';

/** An event write of an identified user, with what the erasure checks need. */
export interface UserWrite {
  write: WriteRequest;
  sourceId: string;
  userId: string;
  /** The time erasures judge it by (erasure.ts `erasureTime`), not always its `timestamp`. */
  timestamp: string;
}

/** A `delete` of the batch: the user to erase, up to `cutoff`, for the message `owner`. */
export interface PendingErasure {
  record: EventRecord;
  owner: string;
  cutoff: string;
}

/** An event's write, with the record it came from (schema learning, profiles) and its message, the `owner`. */
export interface EventWrite {
  type: EventType;
  write: WriteRequest;
  record: EventRecord;
  owner: string;
}

export interface BatchPlan {
  /** Every item to put: events and quarantine records. */
  writes: WriteRequest[];
  /** The event writes among `writes`: for the stored counts, the profiles (profiles/phase.ts) and schema learning. */
  eventWrites: EventWrite[];
  userWrites: UserWrite[];
  erasures: PendingErasure[];
  /** Events of each type in the batch. */
  events: Partial<Record<EventType, number>>;
  quarantined: number;
  /** The API Gateway request ids the batch's records came from, for the batch's log line. */
  requestIds: Set<string>;
}

export interface ParseContext {
  tables: Record<TableName, string>;
  /** Epoch seconds at which quarantine items expire. */
  expiresAt: number;
  /** How long event items are kept after their timestamp (0: for ever, no expiry attribute). */
  eventRetentionSeconds?: number;
  log: Log;
}

/** Plans the writes of every message; never throws for what a message holds. */
export function parseMessages(messages: readonly SQSRecord[], context: ParseContext): BatchPlan {
  const plan: BatchPlan = { writes: [], eventWrites: [], userWrites: [], erasures: [], events: {}, quarantined: 0, requestIds: new Set() };
  for (const message of messages) {
    const owners = [message.messageId];
    let records: QueueRecord[];
    try {
      records = decodeMessage(message.body);
    } catch (error) {
      if (!(error instanceof UnreadableMessageError)) throw error;
      plan.writes.push({ table: context.tables.rejected, item: unreadableMessageItem(message, error.message, context.expiresAt), owners });
      plan.quarantined++;
      context.log.warn('unreadable queue message quarantined', { messageId: message.messageId, reason: error.message });
      continue;
    }
    for (const record of records) planRecord(plan, record, message.messageId, context);
  }
  return plan;
}

function planRecord(plan: BatchPlan, record: QueueRecord, messageId: string, context: ParseContext): void {
  const owners = [messageId];
  const { tables, expiresAt } = context;
  plan.requestIds.add(record.requestId);
  if (record.kind === 'rejected') {
    plan.writes.push({ table: tables.rejected, item: rejectedRecordItem(record, expiresAt), owners });
    plan.quarantined++;
    return;
  }
  const { type, userId } = record.event;
  if (isEventType(type)) {
    const { sourceId, receivedAt, requestId } = record;
    const origin = { sourceId, receivedAt, requestId, messageId: record.event.messageId, type };
    const write: WriteRequest = { table: tables[type], item: eventItem(record, context.eventRetentionSeconds), owners, origin };
    plan.writes.push(write);
    plan.eventWrites.push({ type, write, record, owner: messageId });
    if (userId !== undefined) plan.userWrites.push({ write, sourceId: record.sourceId, userId, timestamp: erasureTime(record) });
    plan.events[type] = (plan.events[type] ?? 0) + 1;
  } else if (type === 'delete' && typeof userId === 'string') {
    plan.erasures.push({ record, owner: messageId, cutoff: erasureCutoff(record) });
  } else {
    plan.writes.push({ table: tables.rejected, item: unknownTypeItem(record, messageId, expiresAt), owners });
    plan.quarantined++;
  }
}
