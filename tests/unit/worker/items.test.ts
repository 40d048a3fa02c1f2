import { eventItem, fitsDynamo } from '../../../lib/worker/items';
import type { EventRecord } from '../../../lib/message/format';

const record = (event: Record<string, unknown>): EventRecord => ({
  kind: 'event',
  sourceId: 'src',
  receivedAt: '2026-01-01T00:00:00.000Z',
  requestId: 'req',
  event: { type: 'track', messageId: 'm1', timestamp: '2026-01-01T00:00:00.000Z', ...event },
});

describe('eventItem', () => {
  it('keys by source and user, sorted by timestamp and messageId', () => {
    expect(eventItem(record({ userId: 'u' }))).toEqual({
      pk: 'src#u',
      sk: '2026-01-01T00:00:00.000Z#m1',
      sourceId: 'src',
      receivedAt: '2026-01-01T00:00:00.000Z',
      type: 'track',
      messageId: 'm1',
      timestamp: '2026-01-01T00:00:00.000Z',
      userId: 'u',
    });
    expect(eventItem(record({ anonymousId: 'a' })).pk).toBe('src#anon:a');
  });

  it('keeps an event field whose name the service uses, under event_<name>', () => {
    const item = eventItem(record({ userId: 'u', sourceId: 'theirs', pk: 'x' }));
    expect(item).toMatchObject({ sourceId: 'src', event_sourceId: 'theirs', pk: 'src#u', event_pk: 'x' });
  });

  it('writes no expiry attribute when the stage keeps events for ever', () => {
    expect(Object.keys(eventItem(record({ userId: 'u' }), 0))).not.toContain('expiresAt');
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
    expect(item.expiresAt).toBe(Date.parse('2025-03-31T12:00:00.000Z') / 1000);
    expect(json).toMatchObject({ storedAs: 'json', expiresAt: Date.parse('2025-03-02T12:00:00.000Z') / 1000 });
  });

  it('keeps an event field named like the expiry attribute as event_expiresAt, so it never decides the expiry', () => {
    expect(eventItem(record({ userId: 'u', expiresAt: 1 }), 0)).toMatchObject({ event_expiresAt: 1 });
    expect(eventItem(record({ userId: 'u', expiresAt: 1 }), 86_400)).toMatchObject({
      event_expiresAt: 1,
      expiresAt: Date.parse('2026-01-02T00:00:00.000Z') / 1000,
    });
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
