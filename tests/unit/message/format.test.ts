/**
 * The queue message format: what the ingest function writes is exactly what JSON.stringify of the
 * records would give, sizes are exact UTF-8 byte counts, and the worker reads it back.
 */
import {
  decodeMessage,
  encodeMessage,
  serializeEventRecord,
  serializeRecord,
  ENVELOPE_BYTES,
  UnreadableMessageError,
} from '../../../lib/message/format';

const meta = { sourceId: 'src-"1"', receivedAt: '2026-03-14T12:00:00.000Z', requestId: 'req-é' };
const event = {
  type: 'page',
  messageId: 'm',
  timestamp: '2026-03-14T09:30:00.000Z',
  name: 'Preise – Übersicht',
  properties: { emoji: '🙂' },
};

describe('serializeEventRecord', () => {
  it('writes the record JSON.stringify would, with its UTF-8 size', () => {
    const record = serializeEventRecord(meta, JSON.stringify(event));

    expect(record.json).toBe(JSON.stringify({ kind: 'event', ...meta, event }));
    expect(record.bytes).toBe(Buffer.byteLength(record.json));
  });

  it('serializes each request with its own fields', () => {
    const other = { ...meta, requestId: 'req-2' };

    const first = serializeEventRecord(meta, '{}');
    const second = serializeEventRecord(other, '{}');

    expect(JSON.parse(first.json)).toMatchObject({ requestId: 'req-é' });
    expect(JSON.parse(second.json)).toMatchObject({ requestId: 'req-2' });
  });
});

describe('encodeMessage and decodeMessage', () => {
  it('round-trips records through the versioned envelope', () => {
    const records = [
      serializeEventRecord(meta, JSON.stringify(event)),
      serializeRecord({
        kind: 'rejected',
        ...meta,
        route: '/v1/batch',
        index: 1,
        raw: '{}',
        rawBytes: 2,
        truncated: false,
        reasons: ['bad'],
      }),
      serializeEventRecord(meta, JSON.stringify({ ...event, messageId: 'm2' })),
    ];

    const body = encodeMessage(records);

    expect(Buffer.byteLength(body)).toBe(ENVELOPE_BYTES + records.reduce((sum, r) => sum + r.bytes, 0) + records.length - 1);
    expect(decodeMessage(body)).toEqual(records.map((r) => JSON.parse(r.json)));
    expect(JSON.parse(encodeMessage([]))).toEqual({ v: 1, records: [] });
    expect(JSON.parse(encodeMessage(records.slice(0, 1)))).toEqual({ v: 1, records: [JSON.parse(records[0]?.json ?? '')] });
  });

  it('refuses what is not a v1 message', () => {
    for (const body of ['nope', '[]', '{"v":2,"records":[]}', '{"v":1}', '{"v":1,"records":[{"kind":"event"}]}']) {
      expect(() => decodeMessage(body)).toThrow(UnreadableMessageError);
    }
  });
});
