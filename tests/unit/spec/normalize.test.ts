import { canonicalJson } from '../../../lib/shared/canonical-json';
import { normalizeEvent, type NormalizeOptions } from '../../../lib/spec/normalize';
import { SPEC_TYPES } from '../../../lib/spec/event-types';

const options: NormalizeOptions = {
  allowedTypes: SPEC_TYPES,
  clock: 'segment' as const,
  receivedAtMs: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
  maxEventBytes: 32 * 1024,
};

function ok(input: unknown, overrides: Partial<NormalizeOptions> = {}) {
  const verdict = normalizeEvent(input, { ...options, ...overrides });
  if (!verdict.ok) throw new Error(`expected valid, got ${verdict.reasons.join('; ')}`);
  return verdict;
}

describe('normalizeEvent', () => {
  it('turns numeric ids into decimal strings', () => {
    const { event } = ok({ type: 'group', userId: 42, groupId: 7, messageId: 99 });
    expect(event).toMatchObject({ userId: '42', groupId: '7', messageId: '99' });
  });

  it('derives the same messageId for the same payload, whatever the key order or sentAt', () => {
    const a = ok({ type: 'track', event: 'A', userId: 'u', properties: { x: 1, y: 2 }, sentAt: '2026-01-01T00:00:00Z' });
    const b = ok({ properties: { y: 2, x: 1 }, userId: 'u', event: 'A', type: 'track', sentAt: '2026-02-02T00:00:00Z' });
    const c = ok({ type: 'track', event: 'B', userId: 'u', properties: { x: 1, y: 2 } });
    expect(a.event.messageId).toMatch(/^auto-[0-9a-f]{32}$/);
    expect(b.event.messageId).toBe(a.event.messageId);
    expect(c.event.messageId).not.toBe(a.event.messageId);
  });

  it('uses the receive time when there is no readable timestamp, and keeps the raw value', () => {
    const { event } = ok({ type: 'identify', userId: 'u', timestamp: 'last tuesday' });
    expect(event.timestamp).toBe('2026-01-02T03:04:05.006Z');
    expect(event.rawTimestamp).toBe('last tuesday');
  });

  it('falls back to originalTimestamp when timestamp is missing', () => {
    const { event } = ok({ type: 'identify', userId: 'u', originalTimestamp: '2025-12-31T23:59:59.999Z' });
    expect(event.timestamp).toBe('2025-12-31T23:59:59.999Z');
    expect(event.rawTimestamp).toBeUndefined();
  });

  it('merges batch defaults under the item own keys, and handles null context', () => {
    const { event } = ok(
      { type: 'page', anonymousId: 'a', context: null, integrations: { Mixpanel: false } },
      { defaults: { context: { ip: '1.2.3.4' }, integrations: { All: true, Mixpanel: true } } },
    );
    expect(event.context).toEqual({ ip: '1.2.3.4' });
    expect(event.integrations).toEqual({ All: true, Mixpanel: false });
  });

  it('keeps unknown fields, drops writeKey, accepts version as number or string', () => {
    const { event } = ok({ type: 'screen', userId: 'u', _metadata: { bundled: [] }, projectId: 'p', writeKey: 'secret', version: '1.1' });
    expect(event).toMatchObject({ _metadata: { bundled: [] }, projectId: 'p', version: '1.1' });
    expect(event.writeKey).toBeUndefined();
    expect(ok({ type: 'screen', userId: 'u', version: 2 }).event.version).toBe(2);
  });

  it('treats a null or empty userId as absent', () => {
    expect(ok({ type: 'track', event: 'E', userId: null, anonymousId: 'a' }).event.userId).toBeUndefined();
    const verdict = normalizeEvent({ type: 'track', event: 'E', userId: '' }, options);
    expect(verdict).toEqual({
      ok: false,
      reasons: ['either "userId" or "anonymousId" is required'],
      reason: 'missing-identity',
      messageId: undefined,
    });
  });

  it('treats a null or empty anonymousId as absent', () => {
    expect(ok({ type: 'track', event: 'E', userId: 'u', anonymousId: null }).event).not.toHaveProperty('anonymousId');
    expect(ok({ type: 'track', event: 'E', userId: 'u', anonymousId: '' }).event).not.toHaveProperty('anonymousId');
    expect(normalizeEvent({ type: 'track', event: 'E', anonymousId: '' }, options)).toMatchObject({
      ok: false,
      reasons: ['either "userId" or "anonymousId" is required'],
    });
  });

  it('quotes an unknown type in its reason, cut to 64 characters, and names the JSON type of a type that is not a string', () => {
    const reasons = (type: unknown) => {
      const verdict = normalizeEvent({ type, userId: 'u' }, options);
      return verdict.ok ? [] : verdict.reasons;
    };
    const allowed = 'identify, track, page, screen, group, alias, delete';

    expect(reasons('t'.repeat(200))).toEqual([`"type" must be one of ${allowed}, got "${'t'.repeat(64)}…"`]);
    expect(reasons({ name: 'track' })).toEqual([`"type" must be one of ${allowed}, got an object`]);
  });

  it('requires what each type requires', () => {
    const reasons = (input: unknown) => {
      const verdict = normalizeEvent(input, options);
      return verdict.ok ? [] : verdict.reasons;
    };
    expect(reasons({ type: 'track', userId: 'u', event: '' })).toEqual(['"event" must not be empty']);
    expect(reasons({ type: 'group', userId: 'u' })).toEqual(['missing required field "groupId"']);
    expect(reasons({ type: 'alias', anonymousId: 'a', previousId: 'p' })).toEqual(['missing required field "userId"']);
    expect(reasons({ type: 'delete' })).toEqual(['missing required field "userId"']);
    expect(reasons({ userId: 'u' })).toEqual([
      'missing required field "type" (one of identify, track, page, screen, group, alias, delete)',
    ]);
  });

  it('does not mutate its input', () => {
    const input = { type: 'track', event: 'E', userId: 5, writeKey: 'k' };
    const copy = structuredClone(input);
    ok(input);
    expect(input).toEqual(copy);
  });

  it('rejects an event over the size limit', () => {
    const verdict = normalizeEvent(
      { type: 'track', event: 'E', userId: 'u', properties: { p: 'x'.repeat(2000) } },
      { ...options, maxEventBytes: 1024 },
    );
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.reasons[0]).toMatch(/^event is \d+ bytes serialized; the limit is 1024$/);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: undefined, c: null })).toBe('{"b":[{"c":2,"d":1}],"c":null}');
  });

  it('writes what JSON cannot hold inside an array as null, as JSON.stringify does', () => {
    const value = [undefined, () => 1, 'x'];

    expect(canonicalJson(value)).toBe('[null,null,"x"]');
    expect(canonicalJson(value)).toBe(JSON.stringify(value));
  });
});
