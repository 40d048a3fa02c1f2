/**
 * Quarantine items (lib/worker/quarantine.ts): what the worker itself cannot store is kept with its
 * raw text (cut at the raw-text limit, and marked so) and the reason, under a key of its own.
 */
import { RAW_TEXT_LIMIT } from '../../../lib/message/format';
import { refusedItem, unreadableMessageItem } from '../../../lib/worker/quarantine';
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
  it('keeps the refused item as its JSON text under its source, with the reason', () => {
    const event = {
      pk: 'src#u1',
      sk: '2026-01-01T00:00:00.000Z#m1',
      sourceId: 'src',
      receivedAt: '2026-01-02T00:00:00.000Z',
      messageId: 'm1',
    };

    const item = refusedItem(event, 'DynamoDB refused the item: too big', '2026-03-01T00:00:00.000Z', EXPIRES);

    expect(item).toMatchObject({
      pk: 'src',
      sk: '2026-01-02T00:00:00.000Z##refused#src#u1#2026-01-01T00:00:00.000Z#m1',
      route: 'worker',
      raw: JSON.stringify(event),
      truncated: false,
      reasons: ['DynamoDB refused the item: too big'],
      messageId: 'm1',
      expiresAt: EXPIRES,
    });
  });

  it('falls back to (unknown) and the batch time for an item without source or receive time, and cuts long text', () => {
    const huge = { pk: 'p', sk: 's', blob: 'x'.repeat(RAW_TEXT_LIMIT) };

    const item = refusedItem(huge, 'refused', '2026-03-01T00:00:00.000Z', EXPIRES);

    expect(item).toMatchObject({ pk: '(unknown)', receivedAt: '2026-03-01T00:00:00.000Z', truncated: true, messageId: undefined });
    expect(String(item.raw)).toHaveLength(RAW_TEXT_LIMIT);
  });
});
