/**
 * Phase 1 of a batch (lib/worker/parse.ts): each kind of record becomes its planned write, a
 * delete becomes an erasure, and what cannot be read or stored is planned for quarantine instead
 * of failing the batch.
 */
import type { EventRecord, RejectedRecord } from '../../../lib/message/format';
import { EVENT_TYPES } from '../../../lib/spec/event-types';
import { erasureCutoff } from '../../../lib/worker/erasure';
import { eventItem } from '../../../lib/tables/events';
import { parseMessages } from '../../../lib/worker/parse';
import { rejectedRecordItem } from '../../../lib/worker/quarantine';
import { sqsRecord } from '../../support/events';
import { recordsMessage } from '../../support/records';
import { recordingLog, TABLES } from '../../support/worker-run';

const EXPIRES = 1_800_000_000;

type SpecType = EventRecord['event']['type'];

function eventRecord(event: Partial<EventRecord['event']> & { type: SpecType }, sourceId = 'src'): EventRecord {
  return {
    kind: 'event',
    sourceId,
    receivedAt: '2026-03-01T12:00:00.000Z',
    requestId: 'req-1',
    event: { messageId: `m-${event.type}-${String(event.userId ?? event.anonymousId)}`, timestamp: '2026-03-01T11:00:00.000Z', ...event },
  };
}

const rejected: RejectedRecord = {
  kind: 'rejected',
  sourceId: 'src',
  receivedAt: '2026-03-01T12:00:00.000Z',
  requestId: 'req-1',
  route: '/v1/batch',
  index: 3,
  raw: '{"type":"track"}',
  rawBytes: 16,
  truncated: false,
  reasons: ['"event" is required'],
};

function parse(...bodies: string[]) {
  const log = recordingLog();
  const messages = bodies.map((body) => sqsRecord(body));
  const plan = parseMessages(messages, { tables: TABLES, expiresAt: EXPIRES, log });
  return { plan, messages, log };
}

describe('parseMessages', () => {
  it("plans each event type's item in its own table, owned by its message, and counts the events", () => {
    // Prepare
    const records = EVENT_TYPES.map((type) => eventRecord({ type, userId: 'u1' }));

    // Act
    const { plan, messages } = parse(recordsMessage(records));

    // Assess
    const owner = messages[0]?.messageId;
    expect(plan.writes).toEqual(
      records.map((record) => ({
        table: TABLES[record.event.type as 'track'],
        item: eventItem(record),
        owners: [owner],
        origin: {
          sourceId: record.sourceId,
          receivedAt: record.receivedAt,
          requestId: record.requestId,
          messageId: record.event.messageId,
          type: record.event.type,
        },
      })),
    );
    expect(plan.eventWrites.map(({ type, write }) => [type, write.table])).toEqual(EVENT_TYPES.map((type) => [type, TABLES[type]]));
    expect(plan.events).toEqual(Object.fromEntries(EVENT_TYPES.map((type) => [type, 1])));
    expect(plan.quarantined).toBe(0);
    expect(plan.erasures).toEqual([]);
  });

  it('lists the writes of identified users for the erasure checks, but not those of anonymous ones', () => {
    const known = eventRecord({ type: 'track', userId: 'u1', timestamp: '2026-01-01T00:00:00.000Z' });
    const anonymous = eventRecord({ type: 'page', anonymousId: 'a1' });

    const { plan } = parse(recordsMessage([known, anonymous]));

    expect(plan.writes).toHaveLength(2);
    expect(plan.userWrites).toEqual([{ write: plan.writes[0], sourceId: 'src', userId: 'u1', timestamp: '2026-01-01T00:00:00.000Z' }]);
  });

  it('plans a quarantine record of the ingest function as an item of the rejected table', () => {
    const { plan, messages } = parse(recordsMessage([rejected]));

    expect(plan.writes).toEqual([
      { table: TABLES.rejected, item: rejectedRecordItem(rejected, EXPIRES), owners: [messages[0]?.messageId] },
    ]);
    expect(plan.quarantined).toBe(1);
    expect(plan.eventWrites).toEqual([]);
  });

  it('turns a delete into an erasure with its cut-off, and writes nothing for it', () => {
    const del = eventRecord({ type: 'delete', userId: 'u1', timestamp: '2026-03-01T11:59:00.000Z' });

    const { plan, messages } = parse(recordsMessage([del]));

    expect(plan.erasures).toEqual([{ record: del, owner: messages[0]?.messageId, cutoff: erasureCutoff(del) }]);
    expect(plan.writes).toEqual([]);
  });

  it.each([
    // A queue message written by a newer (or older) ingest function than this worker.
    ['a type no table stores', eventRecord({ type: 'purchase' as SpecType, userId: 'u1' }), 'no table stores events of type "purchase"'],
    ['a delete without a userId', eventRecord({ type: 'delete', anonymousId: 'a1' }), 'no table stores events of type "delete"'],
  ])('quarantines %s instead of dropping it', (_name, record, reason) => {
    const { plan, messages } = parse(recordsMessage([record]));

    expect(plan.writes).toHaveLength(1);
    expect(plan.writes[0]).toMatchObject({
      table: TABLES.rejected,
      owners: [messages[0]?.messageId],
      item: { pk: 'src', route: 'worker', reasons: [reason], messageId: record.event.messageId, raw: JSON.stringify(record.event) },
    });
    expect(plan.quarantined).toBe(1);
    expect(plan.erasures).toEqual([]);
  });

  it.each([
    ['not JSON', 'definitely not json', 'queue message is not JSON'],
    ['an older version', '{"v":0,"records":[]}', 'queue message version 0 is not 1'],
    ['a malformed record', '{"v":1,"records":[{"kind":"mystery"}]}', 'queue message record 0 is malformed'],
  ])('quarantines a message that is %s whole, and reads the others', (_name, body, reason) => {
    const fine = recordsMessage([eventRecord({ type: 'track', userId: 'u1' })]);

    const { plan, messages, log } = parse(body, fine);

    expect(plan.writes).toHaveLength(2);
    expect(plan.writes[0]).toMatchObject({
      table: TABLES.rejected,
      owners: [messages[0]?.messageId],
      item: { pk: '(unknown)', route: 'sqs', raw: body, reasons: [reason], requestId: messages[0]?.messageId, expiresAt: EXPIRES },
    });
    expect(plan.writes[1]?.owners).toEqual([messages[1]?.messageId]);
    expect(plan.quarantined).toBe(1);
    expect(log.lines).toEqual([
      { level: 'warn', message: 'unreadable queue message quarantined', extra: { messageId: messages[0]?.messageId, reason } },
    ]);
  });

  it('keeps the records of each message owned by that message only', () => {
    const first = recordsMessage([eventRecord({ type: 'track', userId: 'u1' }), rejected]);
    const second = recordsMessage([eventRecord({ type: 'identify', userId: 'u2' })]);

    const { plan, messages } = parse(first, second);

    expect(plan.writes.map((w) => w.owners)).toEqual([[messages[0]?.messageId], [messages[0]?.messageId], [messages[1]?.messageId]]);
    expect(plan.events).toEqual({ track: 1, identify: 1 });
  });
});
