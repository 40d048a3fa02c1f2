/**
 * normalizeEvent: the verdicts and the normalised JSON it produces, pinned so that performance
 * work on the hot path cannot change what is stored.
 */
import { EVENT_TYPES } from '../../../lib/spec/event-types';
import { canonicalJson } from '../../../lib/shared/canonical-json';
import { normalizeEvent, type NormalizeOptions } from '../../../lib/spec/normalize';
import { segmentEvent } from '../../support/events';

const RECEIVED = Date.UTC(2026, 2, 14, 12, 0, 0);
const options: NormalizeOptions = {
  allowedTypes: EVENT_TYPES,
  clock: 'segment' as const,
  receivedAtMs: RECEIVED,
  maxEventBytes: 32 * 1024,
};

function accepted(input: unknown, extra: Partial<NormalizeOptions> = {}) {
  const verdict = normalizeEvent(input, { ...options, ...extra });
  if (!verdict.ok) throw new Error(`rejected: ${verdict.reasons.join('; ')}`);
  return verdict;
}

describe('normalizeEvent', () => {
  it('keeps a canonical event as it is, and its JSON is the event', () => {
    // Prepare
    const input = segmentEvent('track', { timestamp: '2026-03-14T09:30:00.002Z', messageId: 'm-1' });

    // Act
    const verdict = accepted(input);

    // Assess
    expect(verdict.event).toEqual(input);
    expect(verdict.json).toBe(JSON.stringify(input));
  });

  it('never mutates its input', () => {
    const input = segmentEvent('identify', { userId: 42, writeKey: 'secret', timestamp: 1764590400 });
    const before = structuredClone(input);

    accepted(input);

    expect(input).toEqual(before);
  });

  it('drops writeKey, turns numeric ids into strings and null or empty ids into absent ones', () => {
    const verdict = accepted({
      type: 'group',
      userId: null,
      anonymousId: 7,
      groupId: 9,
      writeKey: 'k',
      messageId: 5,
      timestamp: '2026-03-14T09:30:00.000Z',
    });

    expect(verdict.json).toBe('{"type":"group","anonymousId":"7","groupId":"9","messageId":"5","timestamp":"2026-03-14T09:30:00.000Z"}');
  });

  it('normalises readable timestamps to ISO-8601 UTC milliseconds', () => {
    const cases: Array<[unknown, string]> = [
      ['2026-03-14T09:30:00.002Z', '2026-03-14T09:30:00.002Z'],
      ['2026-03-14T09:30:00Z', '2026-03-14T09:30:00.000Z'],
      ['2026-03-14 09:30:00', '2026-03-14T09:30:00.000Z'],
      ['2026-03-14T10:30:00.123456+01:00', '2026-03-14T09:30:00.123Z'],
      ['2026-03-14T10:30:00+0100', '2026-03-14T09:30:00.000Z'],
      [1764590400, '2025-12-01T12:00:00.000Z'],
      ['1764590400123', '2025-12-01T12:00:00.123Z'],
      ['Sat, 14 Mar 2026 09:30:00 GMT', '2026-03-14T09:30:00.000Z'],
      ['2026-02-30T00:00:00.000Z', '2026-03-02T00:00:00.000Z'],
    ];
    for (const [timestamp, expected] of cases) {
      const verdict = accepted({ type: 'track', event: 'E', userId: 'u', messageId: 'm', timestamp });
      expect([timestamp, verdict.event.timestamp]).toEqual([timestamp, expected]);
      expect(verdict.event.rawTimestamp).toBeUndefined();
    }
  });

  it('keeps an unreadable timestamp as rawTimestamp and falls back to originalTimestamp, then the receive time', () => {
    const withOriginal = accepted({
      type: 'track',
      event: 'E',
      userId: 'u',
      messageId: 'm',
      timestamp: 'yesterday',
      originalTimestamp: '2026-01-01T00:00:00Z',
    });
    const without = accepted({ type: 'track', event: 'E', userId: 'u', messageId: 'm', timestamp: '2026-13-01T00:00:00.000Z' });
    const none = accepted({ type: 'track', event: 'E', userId: 'u', messageId: 'm' });

    expect(withOriginal.event).toMatchObject({ timestamp: '2026-01-01T00:00:00.000Z', rawTimestamp: 'yesterday' });
    expect(without.event).toMatchObject({ timestamp: new Date(RECEIVED).toISOString(), rawTimestamp: '2026-13-01T00:00:00.000Z' });
    expect(none.event.timestamp).toBe(new Date(RECEIVED).toISOString());
    expect('rawTimestamp' in none.event).toBe(false);
  });

  it('derives the same messageId for the same content, whatever the key order or sentAt', () => {
    const a = accepted({
      type: 'track',
      event: 'E',
      userId: 'u',
      timestamp: '2026-01-01T00:00:00Z',
      sentAt: '2026-01-01T00:00:01Z',
      properties: { a: 1, b: 2 },
    });
    const b = accepted({
      properties: { b: 2, a: 1 },
      userId: 'u',
      event: 'E',
      type: 'track',
      timestamp: '2026-01-01T00:00:00Z',
      sentAt: '2026-01-01T00:00:09Z',
    });

    expect(a.event.messageId).toMatch(/^auto-[0-9a-f]{32}$/);
    expect(b.event.messageId).toBe(a.event.messageId);
  });

  it('takes the type from the route and refuses a conflicting one', () => {
    expect(accepted({ event: 'E', userId: 'u', messageId: 'm' }, { routeType: 'track' }).event.type).toBe('track');
    expect(normalizeEvent({ type: 'page', userId: 'u' }, { ...options, routeType: 'track' })).toEqual({
      ok: false,
      reasons: ['"type" is "page" but this route takes track events'],
      reason: 'bad-type',
      messageId: undefined,
    });
  });

  it('lists every reason an event is invalid, with its messageId', () => {
    expect(normalizeEvent({ type: 'track', messageId: 'm-9', event: '', context: 3 }, options)).toEqual({
      ok: false,
      reasons: ['"context" must be an object or null', '"event" must not be empty', 'either "userId" or "anonymousId" is required'],
      // The most fundamental of the three: an event without an identity cannot be stored at all.
      reason: 'missing-identity',
      messageId: 'm-9',
    });
    expect(normalizeEvent({ type: 'bogus', userId: 'u' }, options)).toEqual({
      ok: false,
      reasons: ['"type" must be one of identify, track, page, screen, group, alias, got "bogus"'],
      reason: 'bad-type',
      messageId: undefined,
    });
    expect(normalizeEvent({ userId: 'u' }, options)).toMatchObject({
      ok: false,
      reasons: ['missing required field "type" (one of identify, track, page, screen, group, alias)'],
    });
    expect(normalizeEvent([1], options)).toEqual({
      ok: false,
      reasons: ['each event must be a JSON object, got an array'],
      reason: 'bad-shape',
      messageId: undefined,
    });
  });

  it('merges batch-level context and integrations under the event own keys', () => {
    const verdict = accepted(
      { type: 'track', event: 'E', userId: 'u', messageId: 'm', timestamp: '2026-01-01T00:00:00.000Z', context: { ip: '1' } },
      { defaults: { context: { ip: '2', locale: 'fr' }, integrations: { All: false } } },
    );

    expect(verdict.event.context).toEqual({ ip: '1', locale: 'fr' });
    expect(verdict.event.integrations).toEqual({ All: false });
  });

  it('refuses an event over the size limit, counting UTF-8 bytes', () => {
    const event = {
      type: 'track',
      event: 'E',
      userId: 'u',
      messageId: 'm',
      timestamp: '2026-01-01T00:00:00.000Z',
      properties: { text: 'é'.repeat(600) },
    };
    const bytes = Buffer.byteLength(JSON.stringify(event));

    expect(normalizeEvent(event, { ...options, maxEventBytes: bytes }).ok).toBe(true);
    expect(normalizeEvent(event, { ...options, maxEventBytes: bytes - 1 })).toEqual({
      ok: false,
      reasons: [`event is ${bytes} bytes serialized; the limit is ${bytes - 1}`],
      reason: 'too-large',
      messageId: 'm',
    });
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and leaves out undefined values', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: undefined, e: 'x' })).toBe('{"b":[{"c":2,"d":1}],"e":"x"}');
  });
});
