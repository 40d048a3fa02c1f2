/** The privacy policy engine alone: reading a policy, each action, and that nothing is changed in place. */
import { createHash, createHmac } from 'node:crypto';
import { parsePrivacyKeyRing } from '../../../lib/shared/privacy-hash';
import { readPrivacyPolicy, type PrivacyPolicy } from '../../../lib/spec/privacy-policy';
import { isIPv4 } from 'node:net';
import { applyPolicy, compilePolicy, isDottedQuad, redactQuery, truncateIp, type Tally } from '../../../lib/spec/privacy-rules';

const KEY = { version: 3, key: 'unit-privacy-key-0123456789' };
const hmac = (text: string) => `hmac-v3:${createHmac('sha256', KEY.key).update(text).digest('hex')}`;

function apply(policy: PrivacyPolicy, event: Record<string, unknown>, tally: Tally = new Map()) {
  const read = readPrivacyPolicy(policy);
  if ('problems' in read) throw new Error(read.problems.join('; '));
  return applyPolicy(compilePolicy(read.policy, KEY), event, tally);
}

describe('readPrivacyPolicy', () => {
  it('names every bad rule by where it is', () => {
    const read = readPrivacyPolicy({
      ip: 'mask',
      fields: [
        { path: 'a', action: 'redact_query' },
        { path: 'b', action: 'drop', params: ['x'] },
      ],
      keys: [{ action: 'drop' }, { names: ['*'], action: 'hash' }],
      consent: [{ category: 'Ads', action: 'drop', keep: ['x'] }],
      extra: 1,
    });
    expect('problems' in read && read.problems).toEqual([
      'unknown field "extra": a policy has "ip", "fields", "keys" and "consent"',
      '"ip" must be one of keep, truncate, hash, drop, got "mask"',
      'fields[0].params must list the query parameters to redact (non-empty names), as "redact_query" needs them',
      'fields[1].params is only for "redact_query"',
      'keys[0] must have either "preset" or "names"',
      'keys[1].names must list key name patterns (letters, digits, "_", "-" and "*")',
      'consent[0].keep is only for "strip"',
    ]);
  });
});

describe('structural fields', () => {
  it('refuses rules on the fields events are stored by, and redacting ids', () => {
    const read = readPrivacyPolicy({
      fields: [
        { path: 'timestamp', action: 'drop' },
        { path: 'userId', action: 'redact' },
        { path: 'groupId', action: 'drop' },
        { path: 'userId', action: 'drop' },
      ],
    });
    expect('problems' in read && read.problems).toEqual([
      'fields[0].path "timestamp" is a field events are stored and found by; no rule may change it',
      'fields[1] would redact "userId", making every one the same; hash it instead',
      'fields[2] would drop "groupId", which its event type cannot be stored without; hash it instead',
    ]);
  });

  it('leaves top-level structure and ids to field rules, whatever the key matchers say', () => {
    const out = apply(
      { keys: [{ names: ['*e*', 'user*', 'prop*'], action: 'redact' }] },
      {
        type: 'track',
        userId: 'u',
        event: 'E',
        properties: { a: 1 },
      },
    );
    expect(out).toEqual({ event: { type: 'track', userId: 'u', event: 'E', properties: '[redacted]' } });
  });
});

describe('applyPolicy', () => {
  it('hashes with the keyed HMAC under a versioned prefix, and leaves a value already hashed alone', () => {
    const tally: Tally = new Map();
    const once = apply({ fields: [{ path: 'userId', action: 'hash' }] }, { userId: 'u-1' }, tally);
    const twice = 'event' in once ? apply({ fields: [{ path: 'userId', action: 'hash' }] }, once.event, tally) : once;
    expect(once).toEqual({ event: { userId: hmac('u-1') } });
    expect(twice).toEqual(once);
    expect([...tally]).toEqual([['fields[0]', 1]]);
  });

  it("hashes a value repeated in one request once, through the request's memo, with the same result", () => {
    const read = readPrivacyPolicy({
      fields: [
        { path: 'userId', action: 'hash' },
        { path: 'traits.email', action: 'sha256_for_ad_matching' },
      ],
    });
    if ('problems' in read) throw new Error(read.problems.join('; '));
    const policy = compilePolicy(read.policy, KEY);
    const memo = new Map<string, string>();
    const events = [1, 2, 3].map(() => applyPolicy(policy, { userId: 'u-1', traits: { email: 'A@x.example' } }, new Map(), memo));
    const sha = createHash('sha256').update('a@x.example').digest('hex');
    for (const applied of events) expect(applied).toEqual({ event: { userId: hmac('u-1'), traits: { email: sha } } });
    expect([...memo.values()]).toEqual([hmac('u-1'), sha]);
  });

  it('matches `*` one level down, in objects and arrays, and copies what it changes', () => {
    const shared = { a: { card: '4111', keep: 1 }, b: [{ card: '5500' }] };
    const event = { properties: shared };
    const out = apply(
      {
        fields: [
          { path: 'properties.*.card', action: 'drop' },
          { path: 'properties.b.*.card', action: 'redact' },
        ],
      },
      event,
    );
    expect(out).toEqual({ event: { properties: { a: { keep: 1 }, b: [{ card: '[redacted]' }] } } });
    expect(shared).toEqual({ a: { card: '4111', keep: 1 }, b: [{ card: '5500' }] });
  });

  it('drops array elements a wildcard names, also from an array an earlier rule copied', () => {
    const out = apply(
      {
        fields: [
          { path: 'properties.items.*.x', action: 'redact' },
          { path: 'properties.items.*', action: 'drop' },
        ],
      },
      { properties: { items: [{ x: 1 }, { x: 2 }] } },
    );
    expect(out).toEqual({ event: { properties: { items: [] } } });
  });

  it('applies rules on separate paths in one walk: the result and counts of applying them one by one, in order', () => {
    const policy: PrivacyPolicy = {
      ip: 'truncate',
      fields: [
        { path: 'context.page.url', action: 'redact_query', params: ['ref'] },
        { path: 'userId', action: 'hash' },
        { path: 'properties.*.card', action: 'drop' },
        { path: 'context.page.search', action: 'redact_query', params: ['ref'] },
        { path: 'traits.email', action: 'hash' },
      ],
    };
    const context = { ip: '203.0.113.9', page: { url: 'https://a.example/?ref=x&b=1', search: '?ref=x&b=1', title: 'T' }, locale: 'de' };
    const first = { userId: 'u-1', context, properties: { a: { card: '4111', keep: 1 }, b: [{ card: '5500' }], c: 2 } };
    // Only the search changes: the tally lists fields[3] before ip, as rule-by-rule counting would.
    const second = { anonymousId: 'a', context: { ip: '198.51.100.0', page: { url: 'https://a.example/', search: '?ref=y' } } };
    const sentFirst = structuredClone(first);
    const tally: Tally = new Map();

    // Act
    const outs = [apply(policy, second, tally), apply(policy, first, tally)];

    // Assess: against the expected events, and against each rule applied alone, one after another.
    expect(outs).toEqual([
      { event: { anonymousId: 'a', context: { ip: '198.51.100.0', page: { url: 'https://a.example/', search: '?ref=redacted' } } } },
      {
        event: {
          userId: hmac('u-1'),
          context: {
            ip: '203.0.113.0',
            page: { url: 'https://a.example/?ref=redacted&b=1', search: '?ref=redacted&b=1', title: 'T' },
            locale: 'de',
          },
          properties: { a: { keep: 1 }, b: [{ card: '5500' }], c: 2 },
        },
      },
    ]);
    expect([...tally]).toEqual([
      ['fields[3]', 2],
      ['ip', 1],
      ['fields[0]', 1],
      ['fields[1]', 1],
      ['fields[2]', 1],
    ]);
    const oneByOne = (event: Record<string, unknown>) =>
      [{ ip: policy.ip }, ...(policy.fields ?? []).map((rule) => ({ fields: [rule] }))].reduce(
        (out, single) => ('event' in out ? apply(single, out.event) : out),
        { event } as ReturnType<typeof apply>,
      );
    expect(outs).toEqual([oneByOne(second), oneByOne(first)]);
    expect(first).toEqual(sentFirst);
  });

  it('applies rules whose paths meet in order: a rule sees what an earlier one made of its value', () => {
    const page = { url: 'https://a.example/?ref=x', title: 'T' };
    const url = { path: 'context.page.url', action: 'redact_query' as const, params: ['ref'] };
    const whole = { path: 'context.page', action: 'redact' as const };
    const urlFirst: Tally = new Map();
    const pageFirst: Tally = new Map();

    expect(apply({ fields: [url, whole] }, { context: { page } }, urlFirst)).toEqual({ event: { context: { page: '[redacted]' } } });
    expect(apply({ fields: [whole, url] }, { context: { page } }, pageFirst)).toEqual({ event: { context: { page: '[redacted]' } } });
    expect([...urlFirst]).toEqual([
      ['fields[0]', 1],
      ['fields[1]', 1],
    ]);
    expect([...pageFirst]).toEqual([['fields[0]', 1]]);
  });

  it('matches key names however they are cased or separated, at any depth', () => {
    const out = apply(
      {
        keys: [
          { preset: 'segment-red', action: 'drop' },
          { names: ['*token*'], action: 'redact' },
        ],
      },
      { properties: { Credit_Card_Number: '4111', nested: { userPassword: 'x', password: 'p', sessionTokenId: 't' } } },
    );
    expect(out).toEqual({ event: { properties: { nested: { userPassword: 'x', sessionTokenId: '[redacted]' } } } });
  });

  it('withholds or strips by consent, keeping what the event cannot be stored without', () => {
    const policy: PrivacyPolicy = {
      consent: [
        { category: 'Analytics', action: 'strip', keep: ['properties.plan'] },
        { category: 'Ads', action: 'drop' },
      ],
    };
    const event = {
      type: 'track',
      event: 'E',
      userId: 'u',
      properties: { plan: 'p', x: 1 },
      context: { consent: { categoryPreferences: { Analytics: false } }, ip: '1.2.3.4' },
    };
    expect(apply(policy, event)).toEqual({
      event: {
        type: 'track',
        event: 'E',
        userId: 'u',
        properties: { plan: 'p' },
        context: { consent: { categoryPreferences: { Analytics: false } } },
      },
    });
    expect(apply(policy, { ...event, context: { consent: { categoryPreferences: { Ads: false } } } })).toEqual({ withheld: 'Ads' });
  });
});

describe('truncateIp and redactQuery', () => {
  it('reads IPv4 addresses as node:net does', () => {
    const texts = ['1.2.3.4', '0.0.0.0', '255.255.255.255', '203.0.113.77', '1.2.3.256', '01.2.3.4', '1.2.3.04', '1.2.3', '1.2.3.4.5'];
    texts.push(
      '1.2.3.4.',
      '.1.2.3.4',
      '1..2.3',
      ' 1.2.3.4',
      '1.2.3.4 ',
      '1.2.3.-4',
      '1.2.3.+4',
      '١.2.3.4',
      '1000.2.3.4',
      '1.2.3.4a',
      '',
      '::1',
    );
    for (let i = 0; i < 2000; i++) texts.push([0, 1, 2, 3].map((j) => ((i * 7919 + j * 104729) % 300).toString()).join('.'));
    expect(texts.map(isDottedQuad)).toEqual(texts.map((text) => isIPv4(text)));
  });

  it.each([
    ['203.0.113.77', '203.0.113.0'],
    ['2001:db8:abcd:12:1:2:3:4', '2001:db8:abcd::'],
    ['2001:0db8::1', '2001:db8:0::'],
    ['::ffff:203.0.113.77', '::ffff:203.0.113.0'],
    ['not an ip', undefined],
  ])('%s -> %s', (ip, truncated) => expect(truncateIp(ip)).toBe(truncated));

  it.each([
    ['https://x.example/p?token=abc&utm=1#token=frag', 'https://x.example/p?token=redacted&utm=1#token=frag'],
    ['?Token=abc&x', '?Token=redacted&x'],
    ['https://x.example/p', 'https://x.example/p'],
    ['token=abc', 'token=redacted'],
  ])('%s -> %s', (text, out) => expect(redactQuery(text, new Set(['token']))).toBe(out));
});

describe('parsePrivacyKeyRing', () => {
  it('reads a bare key as version 1, and a rotated ring current first', () => {
    expect(parsePrivacyKeyRing('k'.repeat(16))).toEqual({ ring: { current: { version: 1, key: 'k'.repeat(16) }, previous: [] } });
    expect(parsePrivacyKeyRing(`2:${'n'.repeat(16)},1:${'o'.repeat(16)}`)).toEqual({
      ring: { current: { version: 2, key: 'n'.repeat(16) }, previous: [{ version: 1, key: 'o'.repeat(16) }] },
    });
    expect(parsePrivacyKeyRing('short')).toEqual({ problems: ['PRIVACY_HASH_KEY entry 1 must be at least 16 characters'] });
  });
});
