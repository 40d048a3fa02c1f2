/**
 * The first step of schema learning (lib/worker/schemas/observe.ts), in memory: which events have
 * an event key, what time a batch's shapes are seen at, and which known paths are due for a
 * refresh of their last-seen. tests/integration/schema-learning.test.ts runs the learner on DynamoDB Local.
 */
import type { EventRecord } from '../../../lib/message/format';
import { PATH_REFRESH_MS } from '../../../lib/tables/schemas';
import { TYPE_BITS } from '../../../lib/spec/property-paths';
import { additionsOf, observeBatch } from '../../../lib/worker/schemas/observe';
import { SchemaCache } from '../../../lib/worker/schemas/state';

const BATCH_TIME = '2026-11-05T10:00:00.000Z';
const T = Date.parse(BATCH_TIME);

function write(event: Record<string, unknown>, receivedAt: string = BATCH_TIME): { record: EventRecord } {
  return { record: { kind: 'event', sourceId: 'src', receivedAt, requestId: 'r', event } as unknown as EventRecord };
}

describe('observeBatch', () => {
  it('leaves out events without an event key (an alias, a track without a name) and counts the rest by key', () => {
    // Prepare
    const writes = [
      write({ type: 'alias', userId: 'u', previousId: 'p' }),
      write({ type: 'track', properties: { a: 1 } }),
      write({ type: 'track', event: 'Paid', properties: { a: 1 } }),
      write({ type: 'track', event: 'Paid', properties: { a: 2 } }),
    ];

    // Act
    const observations = observeBatch(writes, new SchemaCache(() => T), BATCH_TIME);

    // Assess
    expect(observations.map((o) => [o.state.type, o.state.key, o.count])).toEqual([['track', 'Paid', 2]]);
  });

  it('takes the batch time for a record without a receive time, and the latest receive time of a key', () => {
    // Prepare
    const later = '2026-11-05T10:00:09.000Z';
    const writes = [
      write({ type: 'page', name: 'Home' }, ''),
      write({ type: 'screen', name: 'Cart' }),
      write({ type: 'screen', name: 'Cart' }, later),
    ];

    // Act
    const [page, screen] = observeBatch(writes, new SchemaCache(() => T), BATCH_TIME);

    // Assess
    expect(page?.seen).toBe(BATCH_TIME);
    expect(screen?.seen).toBe(later);
    expect(screen?.seenMs).toBe(Date.parse(later));
  });
});

describe('additionsOf', () => {
  it('writes again the last-seen of a known path not written for over an hour, and not of one written within the hour', () => {
    // Prepare
    const cache = new SchemaCache(() => T);
    const state = cache.event('src', 'track', 'Paid');
    state.paths.set('properties.old', { mask: TYPE_BITS.integer | TYPE_BITS.number, lastSeenMs: T - PATH_REFRESH_MS - 1 });
    state.paths.set('properties.recent', { mask: TYPE_BITS.integer | TYPE_BITS.number, lastSeenMs: T - 60_000 });
    const [observation] = observeBatch([write({ type: 'track', event: 'Paid', properties: { old: 1, recent: 2 } })], cache, BATCH_TIME);

    // Act
    const additions = additionsOf(observation!);

    // Assess
    expect(additions.touch).toEqual(['properties.old']);
    expect(additions.types).toEqual([]);
    expect(additions.paths.map(([path]) => path)).not.toContain('properties.recent');
  });

  it('never takes a known path for stale when the receive time cannot be read', () => {
    // Prepare
    const cache = new SchemaCache(() => T);
    const state = cache.event('src', 'track', 'Paid');
    state.paths.set('properties.old', { mask: TYPE_BITS.integer | TYPE_BITS.number, lastSeenMs: 1 });
    const [observation] = observeBatch([write({ type: 'track', event: 'Paid', properties: { old: 1 } }, 'not a time')], cache, BATCH_TIME);

    // Act
    const additions = additionsOf(observation!);

    // Assess
    expect(observation?.seenMs).toBe(0);
    expect(additions.touch).toEqual([]);
  });
});
