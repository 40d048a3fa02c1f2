import { groupIntoBatches, packMessages } from '../../../lib/ingest/enqueue';
import { decodeMessage, serializeEventRecord, UnreadableMessageError } from '../../../lib/message/format';

const record = (n: number, size: number) =>
  serializeEventRecord(
    { sourceId: 'src', receivedAt: '2026-01-01T00:00:00.000Z', requestId: 'req' },
    JSON.stringify({ type: 'track', messageId: `m${n}`, timestamp: 't', pad: 'x'.repeat(size) }),
  );

describe('packMessages', () => {
  it('keeps every message under the cap and every record, in order', () => {
    const records = Array.from({ length: 100 }, (_, i) => record(i, 3000));

    const messages = packMessages(records, 64 * 1024);

    expect(messages.every((m) => Buffer.byteLength(m) <= 64 * 1024)).toBe(true);
    const decoded = messages.flatMap(decodeMessage);
    expect(decoded.map((r) => (r.kind === 'event' ? r.event.messageId : ''))).toEqual(records.map((_, i) => `m${i}`));
    expect(messages.length).toBe(Math.ceil((100 * records[0]!.bytes) / (64 * 1024)));
  });

  it('sends a record larger than the cap alone rather than dropping it', () => {
    const messages = packMessages([record(1, 10), record(2, 100_000), record(3, 10)], 64 * 1024);
    expect(messages).toHaveLength(3);
  });
});

describe('groupIntoBatches', () => {
  it('respects 10 entries and 1 MiB per request', () => {
    const body = 'x'.repeat(300 * 1024);
    const batches = groupIntoBatches(Array.from({ length: 7 }, (_, i) => ({ Id: String(i), MessageBody: body })));
    expect(batches.map((b) => b.length)).toEqual([3, 3, 1]);
    const small = groupIntoBatches(Array.from({ length: 25 }, (_, i) => ({ Id: String(i), MessageBody: 'x' })));
    expect(small.map((b) => b.length)).toEqual([10, 10, 5]);
  });
});

describe('decodeMessage', () => {
  it.each([
    ['nope', 'queue message is not JSON'],
    ['[]', 'queue message is not a JSON object'],
    ['{"v":2,"records":[]}', 'queue message version 2 is not 1'],
    ['{"v":1}', 'queue message has no records array'],
    ['{"v":1,"records":[{"kind":"event","sourceId":"s"}]}', 'queue message record 0 is malformed'],
  ])('refuses %s', (body, message) => {
    expect(() => decodeMessage(body)).toThrow(new UnreadableMessageError(message));
  });
});
