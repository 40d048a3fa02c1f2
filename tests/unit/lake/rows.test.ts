/** lib/lake/rows.ts and layout.ts: events as rows, rows through Parquet and back, object keys. */
import { LAKE_COLUMNS, parseObjectKey, partitionPrefix } from '../../../lib/lake/layout';
import { eventRow, readParquet, writeParquet } from '../../../lib/lake/rows';

describe('eventRow', () => {
  it('puts ids, times, JSON objects and every other top-level field in their columns', () => {
    const row = eventRow(
      'group',
      {
        type: 'group',
        messageId: 'm1',
        userId: 42,
        groupId: 'g1',
        traits: { n: 1 },
        timestamp: 'not a time',
        sentAt: '2026-12-07T10:00:00Z',
        __proto__x: 1,
      },
      '2026-12-07T10:00:01.000Z',
    );
    expect(row).toEqual({
      message_id: 'm1',
      user_id: '42',
      anonymous_id: null,
      group_id: 'g1',
      traits: '{"n":1}',
      timestamp: null,
      original_timestamp: null,
      sent_at: new Date('2026-12-07T10:00:00Z'),
      received_at: new Date('2026-12-07T10:00:01.000Z'),
      context: null,
      integrations: null,
      extra: '{"__proto__x":1}',
    });
    expect(Object.keys(row)).toEqual(LAKE_COLUMNS.group.map((c) => c.name));
  });

  it('reads back what it wrote, nulls included', async () => {
    const rows = [eventRow('alias', { messageId: 'a', previousId: 'p', timestamp: '2026-12-07T10:00:00.000Z' }, undefined)];
    expect(await readParquet(writeParquet('alias', rows))).toEqual(rows);
  });
});

describe('object keys', () => {
  it('encode the source id in the path and parse back to the partition; other objects are not the lake', () => {
    const prefix = partitionPrefix({ type: 'screen', sourceId: 'ios app/1', day: '2026-12-07' });
    expect(prefix).toBe('screens/source_id=ios%20app%2F1/dt=2026-12-07/');
    expect(parseObjectKey(`${prefix}part-1.parquet`)).toEqual({ type: 'screen', sourceId: 'ios app/1', day: '2026-12-07' });
    expect(parseObjectKey('athena-results/x.csv')).toBeUndefined();
    expect(parseObjectKey('other/source_id=a/dt=2026-12-07/part-1.parquet')).toBeUndefined();
  });
});
