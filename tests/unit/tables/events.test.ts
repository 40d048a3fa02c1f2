/**
 * The item layout of the event tables (lib/tables/events.ts): each fact stored once, and every
 * field given back by readEventItem.
 */
import type { EventRecord } from '../../../lib/message/format';
import { eventExpiresAt, eventItem, eventPartitionKey, fitsDynamo, identityPartitions, readEventItem } from '../../../lib/tables/events';

function record(event: Record<string, unknown>, keyTime?: string): EventRecord {
  return {
    kind: 'event',
    sourceId: 'src',
    receivedAt: '2026-01-01T00:00:05.000Z',
    requestId: 'r',
    ...(keyTime === undefined ? {} : { keyTime }),
    event: { type: 'track', messageId: 'm1', timestamp: '2026-01-01T00:00:00.000Z', event: 'E', ...event },
  };
}

describe('eventItem', () => {
  it('keeps out what the keys and the table hold, and the receive time as epoch ms', () => {
    expect(eventItem(record({ userId: 'u', anonymousId: 'a' }))).toEqual({
      pk: 'src#u',
      sk: '2026-01-01T00:00:00.000Z#m1',
      _r: Date.parse('2026-01-01T00:00:05.000Z'),
      anonymousId: 'a',
      timestamp: '2026-01-01T00:00:00.000Z',
      event: 'E',
    });
  });

  it('keys by the key time the record carries, and leaves out an originalTimestamp equal to the timestamp', () => {
    const item = eventItem(record({ userId: 'u', originalTimestamp: '2026-01-01T00:00:00.000Z' }, '2025-12-31T23:59:58.000Z'));

    expect(item.sk).toBe('2025-12-31T23:59:58.000Z#m1');
    expect(item._o).toBe(true);
    expect(item).not.toHaveProperty('originalTimestamp');
  });

  it('keeps the anonymousId out of an anonymous partition, and tags a userId that starts with anon: in its escaped partition', () => {
    expect(eventItem(record({ anonymousId: 'a' }))).not.toHaveProperty('anonymousId');
    expect(eventItem(record({ anonymousId: 'a' })).pk).toBe('src#anon:a');
    expect(eventItem(record({ userId: 'anon:x' }))).toMatchObject({ pk: 'src#~anon:x', userId: 'anon:x' });
  });

  it('stores an event field named like one of ours under ~<name>', () => {
    const item = eventItem(record({ userId: 'u', pk: 'theirs', _r: 1, '~x': 2 }));

    expect(item).toMatchObject({ pk: 'src#u', '~pk': 'theirs', '~_r': 1, '~~x': 2 });
  });
});

describe('readEventItem', () => {
  it.each([
    ['identified', { userId: 'u', anonymousId: 'a', originalTimestamp: '2026-01-01T00:00:00.000Z', receivedAt: 'segment-time' }],
    ['anonymous', { anonymousId: 'a', originalTimestamp: '2025-12-31T23:00:00.000Z' }],
    ['with a userId that starts with anon:', { userId: 'anon:x' }],
    ['with fields named like ours', { userId: 'u', pk: 'theirs', sk: 'theirs too', _o: 'no', _json: 'x', '~tilde': true }],
  ])('gives back every field of an %s event', (_label, fields) => {
    const { event } = record(fields);

    const stored = readEventItem(eventItem(record(fields)), 'track');

    expect(stored).toEqual({ event, sourceId: 'src', receivedAt: '2026-01-01T00:00:05.000Z' });
  });

  it('gives back an event stored as JSON text', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 40; i++) deep = { nested: deep };
    const { event } = record({ userId: 'u', properties: deep });

    const item = eventItem(record({ userId: 'u', properties: deep }));

    expect(Object.keys(item).sort()).toEqual(['_json', '_r', 'pk', 'sk', 'timestamp']);
    expect(readEventItem(item, 'track').event).toEqual(event);
  });

  it('reads items of the earlier layout', () => {
    const legacy = {
      pk: 'src#u',
      sk: '2026-01-01T00:00:00.000Z#m1',
      sourceId: 'src',
      receivedAt: '2026-01-01T00:00:05.000Z',
      type: 'track',
      messageId: 'm1',
      userId: 'u',
      event_pk: 'theirs',
    };

    expect(readEventItem(legacy, 'track')).toEqual({
      event: { type: 'track', messageId: 'm1', userId: 'u', pk: 'theirs' },
      sourceId: 'src',
      receivedAt: '2026-01-01T00:00:05.000Z',
    });
  });

  it('writes no expiry attribute when the stage keeps events for ever', () => {
    expect(Object.keys(eventItem(record({ userId: 'u' }), 0))).not.toContain('_x');
  });

  it('expires an event its retention after its timestamp, however late it is written', () => {
    // Prepare: an old event received (replayed) today.
    const old = { ...record({ userId: 'u', timestamp: '2025-03-01T12:00:00.000Z' }), receivedAt: '2026-11-30T00:00:00.000Z' };

    // Act
    const item = eventItem(old, 30 * 86_400);
    const json = eventItem(
      { ...old, event: { ...old.event, deep: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]] } },
      86_400,
    );

    // Assess
    expect(item._x).toBe(Date.parse('2025-03-31T12:00:00.000Z') / 1000);
    expect(typeof json._json).toBe('string');
    expect(json._x).toBe(Date.parse('2025-03-02T12:00:00.000Z') / 1000);
  });

  it('keeps an event field named like the expiry attribute as ~_x, so it never decides the expiry', () => {
    expect(eventItem(record({ userId: 'u', _x: 1 }), 0)).toMatchObject({ '~_x': 1 });
    expect(eventItem(record({ userId: 'u', _x: 1 }), 86_400)).toMatchObject({
      '~_x': 1,
      _x: Date.parse('2026-01-02T00:00:00.000Z') / 1000,
    });
    expect(readEventItem(eventItem(record({ userId: 'u', _x: 1 }), 86_400), 'track').event._x).toBe(1);
  });
});
describe('readEventItem on items it did not write', () => {
  it('reads an item of the earlier layout stored as JSON text', () => {
    // Prepare
    const event = { type: 'track', messageId: 'm1', userId: 'u', properties: { deep: { deeper: true } } };
    const legacy = {
      pk: 'src#u',
      sk: '2026-01-01T00:00:00.000Z#m1',
      sourceId: 'src',
      receivedAt: '2026-01-01T00:00:05.000Z',
      storedAs: 'json',
      json: JSON.stringify(event),
    };

    // Act
    const stored = readEventItem(legacy, 'track');

    // Assess
    expect(stored).toEqual({ event, sourceId: 'src', receivedAt: '2026-01-01T00:00:05.000Z' });
  });

  it('reads a malformed item without keys, separator or receive time without throwing, the key read as the source', () => {
    // Prepare: what a hand edit can leave in a table.
    const noKeys = { timestamp: '2026-01-01T00:00:00.000Z' };
    const noSeparator = { pk: 'src', sk: '2026-01-01T00:00:00.000Z#m9' };

    // Act
    const fromNoKeys = readEventItem(noKeys, 'track');
    const fromNoSeparator = readEventItem(noSeparator, 'page');

    // Assess
    expect(fromNoKeys).toMatchObject({
      sourceId: '',
      receivedAt: undefined,
      event: { type: 'track', timestamp: '2026-01-01T00:00:00.000Z' },
    });
    expect(fromNoSeparator).toMatchObject({ sourceId: 'src', receivedAt: undefined, event: { type: 'page', messageId: 'm9' } });
  });
});

describe('eventExpiresAt', () => {
  it("counts the retention from the receive time when the event's timestamp cannot be read", () => {
    // Prepare
    const unreadable = { ...record({ userId: 'u' }), event: { ...record({}).event, timestamp: 'not a time' } };

    // Act
    const expiresAt = eventExpiresAt(unreadable, 86_400);

    // Assess
    expect(expiresAt).toBe(Date.parse('2026-01-01T00:00:05.000Z') / 1000 + 86_400);
  });
});

describe('fitsDynamo', () => {
  it.each([
    [{ a: 1, b: [1, 'x', null, true], c: { d: 0.5 } }, true],
    [{ n: Number.MAX_SAFE_INTEGER }, true],
    [{ n: 2 ** 60 }, false],
    [{ n: -1e20 }, false],
    [{ n: 1e125 }, false],
    [{ n: -1e-129 }, true],
    [{ n: 1e200 }, false],
    [{ n: 1e-200 }, false],
    [{ '': 1 }, false],
  ])('%p -> %p', (value, expected) => {
    expect(fitsDynamo(value, 0)).toBe(expected);
  });

  it('refuses nesting deeper than 32 levels', () => {
    const nest = (depth: number) => {
      let value: unknown = 1;
      for (let i = 0; i < depth; i++) value = { n: value };
      return value;
    };
    expect(fitsDynamo(nest(31), 0)).toBe(true);
    expect(fitsDynamo(nest(33), 0)).toBe(false);
  });
});

describe('partitions of identities (issue 19)', () => {
  // Ids built to collide: a prefix, the escape, "#", and each one's encoded form taken as an id.
  const ids = ['x', 'anon:x', '~x', '~anon:x', '~~x', 'a#b', '#', 'anon:', '~', 'anon:anon:x', 'src#x', '~~anon:x'];

  it('never gives two identities the same partition, whatever their text', () => {
    const partitions = [
      ...ids.map((id) => eventPartitionKey('src', id, undefined)),
      ...ids.map((id) => eventPartitionKey('src', undefined, id)),
    ];

    expect(new Set(partitions).size).toBe(partitions.length);
    expect(ids.map((id) => eventPartitionKey('src', id, undefined)).some((pk) => pk.startsWith('src#anon:'))).toBe(false);
  });

  it('reads each identity back from its item, and finds it in its own partitions, old layout included', () => {
    for (const id of ids) {
      const asUser = eventItem(record({ userId: id }));
      const asVisitor = eventItem(record({ anonymousId: id }));

      expect(readEventItem(asUser, 'track').event.userId).toBe(id);
      expect(readEventItem(asVisitor, 'track').event).toMatchObject({ anonymousId: id });
      expect(readEventItem(asVisitor, 'track').event).not.toHaveProperty('userId');
      expect(identityPartitions('src', id, undefined).map((p) => p.pk)).toContain(asUser.pk);
      expect(identityPartitions('src', id, undefined)[0]?.pk).toBe(asUser.pk);
      expect(identityPartitions('src', undefined, id).map((p) => p.pk)).toEqual([asVisitor.pk]);
    }
    // The old layout put userId anon:x in the visitor's partition: it is searched there too, by its tag.
    expect(identityPartitions('src', 'anon:x', undefined)).toEqual([
      { pk: 'src#~anon:x', filter: expect.objectContaining({ expression: '#uid = :uid' }) },
      { pk: 'src#anon:x', filter: expect.objectContaining({ expression: '#uid = :uid' }) },
    ]);
    expect(identityPartitions('src', 'x', undefined)).toEqual([{ pk: 'src#x' }]);
  });
});
