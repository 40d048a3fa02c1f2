/**
 * Drift and export from observed schemas, on hand-made observations (times the emulator tests
 * cannot wait for: a path last seen weeks ago). cli-schemas.test.ts covers the same on the stack.
 */
import { driftSince } from '../../../cli/schemas/drift';
import { planFromObserved } from '../../../cli/schemas/export';
import type { JsonType } from '../../../lib/spec/property-paths';
import type { ObservedEvent, ObservedPath } from '../../../lib/tables/schemas';

const day = (n: number) => new Date(Date.UTC(2026, 10, n)).toISOString();

function event(name: string, firstSeen: string, lastSeen: string, capped = false): ObservedEvent {
  return { type: 'track', event: name, firstSeen, lastSeen, count: 10, paths: 1, cappedPaths: capped ? 3 : 0, capped };
}

function path(name: string, types: Array<[JsonType, string]>, lastSeen: string): ObservedPath {
  return { path: name, types: types.map(([type, firstSeen]) => ({ type, firstSeen })), firstSeen: types[0]?.[1] ?? '', lastSeen };
}

describe('driftSince', () => {
  const since = day(20);

  it('reports new events, new paths, paths that gained a type and paths not seen since', () => {
    const observed = [
      {
        event: event('Order Completed', day(1), day(25)),
        paths: [
          path(
            'properties.total',
            [
              ['number', day(1)],
              ['string', day(22)],
            ],
            day(25),
          ),
          path('properties.coupon', [['string', day(21)]], day(25)),
          path('properties.legacy_id', [['string', day(1)]], day(10)),
          path('properties.stable', [['string', day(1)]], day(25)),
        ],
      },
      { event: event('Signed Up', day(23), day(25)), paths: [] },
    ];

    const changes = driftSince(observed, since).map(({ event, path, change, types }) => ({ event, path, change, types }));

    expect(changes).toEqual([
      { event: 'Order Completed', path: 'properties.coupon', change: 'new-path', types: ['string'] },
      { event: 'Order Completed', path: 'properties.total', change: 'new-type', types: ['number', 'string'] },
      { event: 'Order Completed', path: 'properties.legacy_id', change: 'not-seen', types: ['string'] },
      { event: 'Signed Up', path: null, change: 'new-event', types: [] },
    ]);
  });

  it('counts integer and number as one kind, and an old conflict as no change', () => {
    const observed = [
      {
        event: event('Order Completed', day(1), day(25)),
        paths: [
          path(
            'properties.total',
            [
              ['integer', day(1)],
              ['number', day(22)],
            ],
            day(25),
          ),
          path(
            'properties.old_conflict',
            [
              ['string', day(1)],
              ['boolean', day(2)],
            ],
            day(25),
          ),
        ],
      },
    ];

    expect(driftSince(observed, since)).toEqual([]);
  });

  it('reports an event key not seen since as one change, not each of its paths', () => {
    const observed = [{ event: event('Gone', day(1), day(5)), paths: [path('properties.a', [['string', day(1)]], day(5))] }];

    expect(driftSince(observed, since)).toEqual([
      { event: 'Gone', eventType: 'track', path: null, change: 'not-seen', types: [], at: day(5) },
    ]);
  });

  it('does not call a path not seen when its last sighting is within the hour its last-seen may lag', () => {
    const justBefore = new Date(Date.parse(since) - 30 * 60_000).toISOString();
    const observed = [{ event: event('E', day(1), day(25)), paths: [path('properties.a', [['string', day(1)]], justBefore)] }];

    expect(driftSince(observed, since)).toEqual([]);
  });
});

describe('planFromObserved', () => {
  it('writes one schema per event key from the types seen at each path of properties and traits', () => {
    const observed = [
      {
        event: event('Order Completed', day(1), day(2)),
        paths: [
          path('properties', [['object', day(1)]], day(2)),
          path(
            'properties.total',
            [
              ['integer', day(1)],
              ['number', day(1)],
              ['null', day(2)],
            ],
            day(2),
          ),
          path('properties.items', [['array', day(1)]], day(2)),
          path('properties.items[]', [['object', day(1)]], day(2)),
          path('properties.items[].sku', [['string', day(1)]], day(2)),
          path('properties["__proto__"]', [['string', day(1)]], day(2)),
          path('properties["a…#0123456789ab"]', [['string', day(1)]], day(2)),
          path('context.page.url', [['string', day(1)]], day(2)),
        ],
      },
    ];

    const { plan, notes } = planFromObserved(observed, { context: false });

    expect(plan.mode).toBe('warn');
    const schema = plan.events['Order Completed'] as { properties: { properties: { properties: Record<string, unknown> } } };
    expect(Object.keys(schema.properties)).toEqual(['properties']);
    expect(schema.properties.properties.properties.total).toEqual({ type: ['number', 'null'] });
    expect(schema.properties.properties.properties.items).toEqual({
      type: 'array',
      items: { type: 'object', properties: { sku: { type: 'string' } } },
    });
    expect(Object.getOwnPropertyNames(schema.properties.properties.properties)).toContain('__proto__');
    expect(notes).toEqual(['1 path(s) with shortened property names are left out']);
  });
});
