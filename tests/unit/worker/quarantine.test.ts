/**
 * Quarantine items (lib/worker/quarantine.ts): what the worker itself cannot store is kept with its
 * raw text (cut at the raw-text limit, and marked so) and the reason, under a key of its own.
 */
import { createHash } from 'node:crypto';
import type { EventRecord, RejectedRecord } from '../../../lib/message/format';
import { RAW_TEXT_LIMIT } from '../../../lib/shared/config';
import { eventItem } from '../../../lib/tables/events';
import type { WriteRequest } from '../../../lib/worker/write';
import { refusedItem, rejectedRecordItem, unreadableMessageItem } from '../../../lib/worker/quarantine';
import { sqsRecord } from '../../support/events';

const EXPIRES = 1_800_000_000;

describe('unreadableMessageItem', () => {
  it('keeps the whole message under (unknown), keyed by the time SQS received it and its message id', () => {
    const message = sqsRecord('not json', { attributes: { ...sqsRecord('').attributes, SentTimestamp: String(Date.UTC(2026, 2, 1)) } });

    const item = unreadableMessageItem(message, 'queue message is not JSON', EXPIRES);

    expect(item).toEqual({
      pk: '(unknown)',
      sk: `2026-03-01T00:00:00.000Z#${message.messageId}#${message.messageId}`,
      sourceId: '(unknown)',
      receivedAt: '2026-03-01T00:00:00.000Z',
      requestId: message.messageId,
      route: 'sqs',
      raw: 'not json',
      rawBytes: 8,
      truncated: false,
      reasons: ['queue message is not JSON'],
      expiresAt: EXPIRES,
    });
  });

  it('cuts a message longer than the raw-text limit, and says so with its full size', () => {
    const body = 'é'.repeat(RAW_TEXT_LIMIT + 10);

    const item = unreadableMessageItem(sqsRecord(body), 'queue message is not JSON', EXPIRES);

    expect(item).toMatchObject({ raw: body.slice(0, RAW_TEXT_LIMIT), rawBytes: Buffer.byteLength(body), truncated: true });
  });

  it('uses the current time when the message carries no readable SentTimestamp', () => {
    const before = Date.now();
    const message = sqsRecord('x', { attributes: { ...sqsRecord('').attributes, SentTimestamp: 'soon' } });

    const item = unreadableMessageItem(message, 'queue message is not JSON', EXPIRES);

    expect(Date.parse(String(item.receivedAt))).toBeGreaterThanOrEqual(before);
  });
});

describe('refusedItem', () => {
  const record: EventRecord = {
    kind: 'event',
    sourceId: 'src',
    receivedAt: '2026-01-02T00:00:00.000Z',
    requestId: 'req-1',
    event: { type: 'track', messageId: 'm1', userId: 'u1', timestamp: '2026-01-01T00:00:00.000Z', event: 'Too Big' },
  };
  const write: WriteRequest = {
    table: 'track-table',
    item: eventItem(record),
    owners: ['sqs-1'],
    origin: { sourceId: 'src', receivedAt: record.receivedAt, requestId: 'req-1', messageId: 'm1', type: 'track' },
  };

  it('keeps the refused event as its JSON text under its source, with the reason, keyed by a hash of its identity', () => {
    const item = refusedItem(write, 'identity-1', 'DynamoDB refused the item: too big', '2026-03-01T00:00:00.000Z', EXPIRES);

    expect(item).toMatchObject({
      pk: 'src',
      sk: `2026-01-02T00:00:00.000Z#req-1#refused#${createHash('sha256').update('identity-1').digest('hex')}`,
      route: 'worker',
      requestId: 'req-1',
      truncated: false,
      reasons: ['DynamoDB refused the item: too big'],
      messageId: 'm1',
      expiresAt: EXPIRES,
    });
    // The event as it was sent, read back from the item layout, so `rejected replay` can send it again.
    expect(JSON.parse(String(item.raw))).toEqual(record.event);
  });

  it('tells apart two refused items of one request by their identities', () => {
    const one = refusedItem(write, 'identity-1', 'refused', '2026-03-01T00:00:00.000Z', EXPIRES);
    const two = refusedItem(write, 'identity-2', 'refused', '2026-03-01T00:00:00.000Z', EXPIRES);

    expect(one.sk).not.toBe(two.sk);
  });

  it('falls back to (unknown) and the batch time for an item without an origin, and cuts long text', () => {
    const huge: WriteRequest = { table: 't', item: { pk: 'p', sk: 's', blob: 'x'.repeat(RAW_TEXT_LIMIT) }, owners: [] };

    const item = refusedItem(huge, 'identity', 'refused', '2026-03-01T00:00:00.000Z', EXPIRES);

    expect(item).toMatchObject({ pk: '(unknown)', receivedAt: '2026-03-01T00:00:00.000Z', truncated: true, messageId: undefined });
    expect(String(item.raw)).toHaveLength(RAW_TEXT_LIMIT);
  });
});

describe('rejectedRecordItem with hostile input', () => {
  const rejected = (overrides: Partial<RejectedRecord>): RejectedRecord => ({
    kind: 'rejected',
    sourceId: 'src',
    receivedAt: '2026-03-01T12:00:00.000Z',
    requestId: 'req-1',
    route: '/v1/batch',
    raw: '{}',
    rawBytes: 2,
    truncated: false,
    reasons: ['"type" is required'],
    ...overrides,
  });

  it('keys a body with a long request id by a readable head and its hash, so the key stays short and two such ids stay apart', () => {
    // Prepare: ids that differ only after the head.
    const long = 'r'.repeat(5000);

    // Act
    const first = rejectedRecordItem(rejected({ requestId: `${long}1` }), EXPIRES);
    const second = rejectedRecordItem(rejected({ requestId: `${long}2` }), EXPIRES);

    // Assess
    const hash = createHash('sha256').update(`${long}1`).digest('hex');
    expect(first.sk).toBe(`2026-03-01T12:00:00.000Z#${'r'.repeat(32)}…sha256:${hash}#body`);
    expect(second.sk).not.toBe(first.sk);
    expect(first.requestId).toBe(`${long}1`);
  });

  it('cuts a long messageId and keeps a flood of long reasons under its byte budget, saying how many were left out', () => {
    // Prepare
    const reasons = Array.from({ length: 300 }, (_, i) => `${i}: ${'x'.repeat(2000)}`);

    // Act
    const item = rejectedRecordItem(rejected({ index: 4, messageId: 'm'.repeat(3000), reasons }), EXPIRES);

    // Assess
    const kept = item.reasons as string[];
    expect(item.messageId).toBe(`${'m'.repeat(200)}…`);
    expect(item.sk).toMatch(/#4$/);
    expect(kept[0]).toBe(`${reasons[0]?.slice(0, 1000)}…`);
    expect(kept.at(-1)).toBe(`(and ${300 - (kept.length - 1)} more reasons)`);
    expect(kept.length).toBeGreaterThan(1);
    expect(kept.slice(0, -1).reduce((bytes, r) => bytes + Buffer.byteLength(r), 0)).toBeLessThanOrEqual(16 * 1024);
  });
});
