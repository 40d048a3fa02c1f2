/**
 * The profile merge and its fact items, in memory (the integration tests run the same code through
 * the worker on DynamoDB Local): order-independence of the merge as the table applies it (a fact
 * kept when its `o` grows), the fact items' keys and sizes at the longest names and ids, legacy
 * profile items (earlier versions) read and merged by the same order, the capped read, and what one
 * event contributes.
 */
import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import { random } from '../../../bench/fixtures';
import type { EventRecord } from '../../../lib/message/format';
import { marshallItem, unmarshallItem } from '../../../lib/tables/dynamo-wire';
import {
  CAPS,
  compareOrders,
  factFromItem,
  factItem,
  factSortKey,
  factsOf,
  itemBytes,
  LINK_KINDS,
  ProfileGatherer,
  profileFromLegacyItem,
  traitOrder,
  versionOf,
  type Fact,
  type ProfileKey,
} from '../../../lib/tables/profiles';
import { coalesce, contributionOf, storableTrait } from '../../../lib/worker/profiles/contributions';
import { shuffled } from '../../support/random';
import { canonicalJson } from '../../../lib/shared/canonical-json';
import { emptyProfile, mergeProfiles, type Profile } from '../../../lib/worker/profiles/profile';

const KEY: ProfileKey = { kind: 'user', sourceId: 'src', id: 'u-1' };

/** Many small deltas: 150 trait names and 120 anonymous ids, with repeats and ties of versions. */
function touches(seed: number): Profile[] {
  const rand = random(seed);
  return Array.from({ length: 600 }, (_, i) => {
    const touch = emptyProfile(KEY);
    const ts = `2026-01-0${1 + Math.floor(rand() * 9)}T00:00:0${Math.floor(rand() * 10)}.000Z`;
    const version = versionOf(ts, `m-${Math.floor(rand() * 50)}`);
    const value = Math.floor(rand() * 4) === 0 ? null : { n: i % 7 };
    touch.traits.set(`t${Math.floor(rand() * 150)}`, { value, order: traitOrder(version, value) });
    touch.links.set('anonymousIds', new Map([[`a-${Math.floor(rand() * 120)}`, ts.slice(0, 10)]]));
    return touch;
  });
}

/** The table as the worker writes it: each fact's item replaced only by one with a greater `o`. */
type Table = Map<string, Fact>;

function applyToTable(table: Table, delta: Profile): void {
  for (const fact of factsOf(delta)) {
    const { sk } = factSortKey(fact.kind, fact.name);
    const stored = table.get(sk);
    if (!stored || compareOrders(fact.o, stored.o) > 0) table.set(sk, fact);
  }
}

/** Merges `all` into a table in random batches, each coalesced first, as the worker does. */
function mergeInBatches(all: readonly Profile[], seed: number): string {
  const rand = random(seed);
  const table: Table = new Map();
  for (let i = 0; i < all.length; ) {
    const size = 1 + Math.floor(rand() * 40);
    const delta = emptyProfile(KEY);
    for (const touch of all.slice(i, i + size)) mergeProfiles(delta, touch);
    applyToTable(table, delta);
    i += size;
  }
  return canonicalJson([...table].sort(([a], [b]) => compareOrders(a, b)));
}

describe('mergeProfiles', () => {
  it('gives the same facts for any order, batching and redelivery of the same touches', () => {
    const all = touches(1);
    const expected = mergeInBatches(all, 10);

    for (let seed = 2; seed < 7; seed++) expect(mergeInBatches(shuffled(all, seed), seed * 10)).toBe(expected);
    expect(mergeInBatches([...all, ...shuffled(all, 99).slice(0, 100)], 7)).toBe(expected);
    expect(expected).toContain('"t#t');
    expect(expected).toContain('"a#a-');
  });

  it('keeps the latest value of a trait, and breaks a tie of versions by the hash of the values, in either order', () => {
    const touch = (value: unknown, version: string) => {
      const profile = emptyProfile(KEY);
      profile.traits.set('plan', { value, order: traitOrder(version, value) });
      return profile;
    };
    const v1 = versionOf('2026-01-01T00:00:00.000Z', 'm1');
    const v2 = versionOf('2026-01-02T00:00:00.000Z', 'm0');
    const merged = (...profiles: Profile[]) => {
      const target = emptyProfile(KEY);
      for (const p of profiles) mergeProfiles(target, p);
      return target.traits.get('plan')?.value;
    };

    expect(merged(touch('old', v1), touch('new', v2))).toBe('new');
    expect(merged(touch('new', v2), touch('old', v1))).toBe('new');
    expect(merged(touch({ b: 1, a: 2 }, v1), touch('pro', v1))).toEqual(merged(touch('pro', v1), touch({ a: 2, b: 1 }, v1)));
  });

  it('orders `o` as text the way versions order: by time, then messageId', () => {
    const early = traitOrder(versionOf('2026-01-01T00:00:00.000Z', 'zzz'), 1);
    const late = traitOrder(versionOf('2026-01-01T00:00:00.001Z', 'aaa'), 1);
    const tied = traitOrder(versionOf('2026-01-01T00:00:00.001Z', 'aab'), 1);

    expect(compareOrders(early, late)).toBe(-1);
    expect(compareOrders(late, tied)).toBe(-1);
    expect(late).toMatch(/^2026-01-01T00:00:00\.001Z#aaa#[0-9a-f]{16}$/);
  });
});

describe('fact items', () => {
  it('keeps every name and id as data through the wire form', () => {
    const key: ProfileKey = { kind: 'anon', sourceId: 'src', id: '__proto__' };
    const facts: Fact[] = [
      { kind: 'trait', name: '__proto__', o: traitOrder('v#1', { constructor: 'x' }), value: { constructor: 'x' } },
      { kind: 'trait', name: 'toString', o: traitOrder('v#2', null), value: null },
      { kind: 'groups', name: '__proto__', o: 'v#1' },
    ];

    const back = facts.map((fact) => factFromItem(unmarshallItem(marshallItem(factItem(key, fact)), 'throw')));

    expect(back).toEqual(facts);
    expect(factItem(key, facts[0] as Fact)).toMatchObject({ pk: 'src#anon#__proto__', sk: 't#__proto__' });
    expect(factItem(key, facts[2] as Fact)).toEqual({ pk: 'src#anon#__proto__', sk: 'g#__proto__', o: 'v#1' });
  });

  it('hashes a sort key that would pass 1,024 bytes, keeps the id in `id`, and reads it back', () => {
    const longest = 'é'.repeat(512); // 1,024 bytes of UTF-8, the longest id the ingest accepts
    const fits = 'x'.repeat(1021); // `al#` and 1,021 bytes: exactly 1,024

    for (const kind of LINK_KINDS) {
      const { sk, id } = factSortKey(kind, longest);
      expect(Buffer.byteLength(sk)).toBeLessThanOrEqual(1024);
      expect(sk).toMatch(/^[a-z]+~[0-9a-f]{64}$/);
      expect(id).toBe(longest);
      const fact: Fact = { kind, name: longest, o: 'v#1' };
      expect(factFromItem(unmarshallItem(marshallItem(factItem(KEY, fact)), 'throw'))).toEqual(fact);
    }
    expect(factSortKey('aliases', fits)).toEqual({ sk: `al#${fits}` });
    expect(factSortKey('aliases', `${fits}x`).sk).toMatch(/^al~/);
  });

  it('stays far under 400 KB with the longest names, values and ids the ingest accepts', () => {
    const key: ProfileKey = { kind: 'user', sourceId: 's'.repeat(64), id: 'u'.repeat(1024) };
    // The value DynamoDB counts largest for its JSON size: a list of one-digit numbers.
    const value = storableTrait(Array.from({ length: 340 }, () => 1));
    const version = versionOf('2026-01-01T00:00:00.000Z', '\u{1F600}'.repeat(100));
    const facts: Fact[] = [
      { kind: 'trait', name: 'n'.repeat(CAPS.traitNameBytes), o: traitOrder(version, value), value },
      ...LINK_KINDS.map((kind): Fact => ({ kind, name: 'i'.repeat(1024), o: kind === 'anonymousIds' ? '2026-01-01' : version })),
    ];

    for (const fact of facts) {
      const item = marshallItem(factItem(key, fact));
      expect(itemBytes(item)).toBeLessThan(4 * 1024);
      expect(Buffer.byteLength(String(item.sk?.S))).toBeLessThanOrEqual(1024);
    }
  });
});

describe('legacy profile items and the capped read', () => {
  const legacyItem = {
    pk: 'src#user#u-1',
    sk: 'profile',
    kind: 'user',
    sourceId: 'src',
    userId: 'u-1',
    rev: 4,
    traits: { plan: 'old', email: 'e@example.com' },
    traitVersions: { plan: 0, email: 1 },
    versions: ['2026-01-01T00:00:00.000Z#m1', '2026-01-03T00:00:00.000Z#m3'],
    anonymousIds: { 'a-1': '2026-01-01' },
    groups: { 'g-1': '2026-01-01T00:00:00.000Z#m1' },
  };

  it('reads a legacy item as facts whose `o` is computed as the worker computes it', () => {
    const profile = profileFromLegacyItem(legacyItem);

    expect(profile?.traits.get('plan')).toEqual({ value: 'old', order: traitOrder('2026-01-01T00:00:00.000Z#m1', 'old') });
    expect(profile?.links.get('anonymousIds')).toEqual(new Map([['a-1', '2026-01-01']]));
  });

  it('merges a legacy item with fact items by `o`: a newer fact wins, an older one loses', () => {
    const gatherer = new ProfileGatherer(KEY);
    const plan: Fact = { kind: 'trait', name: 'plan', o: traitOrder('2026-01-02T00:00:00.000Z#m2', 'new'), value: 'new' };
    const email: Fact = { kind: 'trait', name: 'email', o: traitOrder('2026-01-02T00:00:00.000Z#m2', 'x'), value: 'x' };

    gatherer.addLegacy(legacyItem);
    gatherer.add(factItem(KEY, plan));
    gatherer.add(factItem(KEY, email));
    const profile = gatherer.profile();

    expect(profile?.traits.get('plan')?.value).toBe('new');
    expect(profile?.traits.get('email')?.value).toBe('e@example.com');
    expect(profile?.omitted).toBeUndefined();
  });

  it('keeps the most recent facts of each kind up to its cap, whatever order they come in, and counts the rest', () => {
    const facts: Fact[] = Array.from({ length: 130 }, (_, i) => ({
      kind: 'trait',
      name: `t${i}`,
      o: traitOrder(versionOf(`2026-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`, `m${i}`), i),
      value: i,
    }));
    const gathered = (order: readonly Fact[]) => {
      const gatherer = new ProfileGatherer(KEY);
      order.forEach((fact) => gatherer.add(factItem(KEY, fact)));
      return gatherer.profile();
    };

    const first = gathered(facts);
    const expected = [...facts].sort((a, b) => compareOrders(b.o, a.o)).slice(0, CAPS.traits);

    expect([...(first?.traits.keys() ?? [])].sort()).toEqual(expected.map((f) => f.name).sort());
    expect(first?.omitted).toEqual({ trait: 30 });
    expect(gathered(shuffled(facts, 3))).toEqual(first);
  });

  it.each([
    ['a members item', { pk: 'src#members#g1', sk: 'u-1' }],
    ['an unknown kind', { sk: 'profile', kind: 'device', sourceId: 'src', userId: 'u-1' }],
    ['a sourceId that is not text', { sk: 'profile', kind: 'user', sourceId: 7, userId: 'u-1' }],
    ['no id for its kind', { sk: 'profile', kind: 'group', sourceId: 'src', userId: 'u-1' }],
    ['an activity item of earlier versions', { sk: 'activity', firstSeen: '2026-01-01', lastSeen: '2026-01-02' }],
  ])('is neither a fact nor a legacy profile: %s', (_what, item) => {
    expect(profileFromLegacyItem(item)).toBeUndefined();
    expect(factFromItem(item)).toBeUndefined();
  });
});

describe('items as stored by someone else', () => {
  it('reads attributes of the DynamoDB types the worker never writes (sets, binary, an empty value) without failing', () => {
    // Prepare: what a hand edit in the console or an export tool can leave in the table.
    // An attribute of no known type (`odd`) is what a newer SDK's unknown member would deserialise to.
    const wire = {
      tags: { SS: ['a', 'b'] },
      scores: { NS: ['1', '2.5'] },
      blob: { B: Uint8Array.from([1, 2, 3]) },
      odd: {},
    } as unknown as Record<string, SdkAttributeValue>;

    // Act
    const item = unmarshallItem(wire, 'null');

    // Assess
    expect(item).toEqual({ tags: ['a', 'b'], scores: [1, 2.5], blob: 'AQID', odd: null });
  });
});

describe('storableTrait', () => {
  it('keeps what DynamoDB holds, as JSON text what it cannot, and a note for what is too long', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 40; i++) deep = { deep };

    expect(storableTrait({ city: 'Berlin' })).toEqual({ city: 'Berlin' });
    expect(storableTrait(2 ** 60)).toEqual({ $json: String(2 ** 60) });
    expect(storableTrait(deep)).toEqual({ $json: JSON.stringify(deep) });
    expect(storableTrait({ '': 1 })).toEqual({ $json: '{"":1}' });
    expect(storableTrait('x'.repeat(1100))).toMatchObject({ bytes: 1102 });
  });
});

describe('contributionOf', () => {
  const record = (event: Record<string, unknown>): EventRecord => ({
    kind: 'event',
    sourceId: 'src',
    receivedAt: '2026-01-01T00:00:00.000Z',
    requestId: 'req',
    event: { type: 'track', messageId: 'm1', timestamp: '2026-01-01T00:00:00.000Z', ...event },
  });

  it('adds nothing for an event that neither links nor sets anything (activity is derived from the events at read time)', () => {
    expect(contributionOf(record({ userId: 'u' }), 'msg')).toBeUndefined();
    expect(contributionOf(record({ anonymousId: 'a' }), 'msg')).toBeUndefined();
    const linked = contributionOf(record({ userId: 'u', anonymousId: 'a' }), 'msg');
    expect(linked?.touches.map((t) => [t.key.kind, [...t.links.keys()]])).toEqual([['user', ['anonymousIds']]]);
    expect(linked?.anonymousUser).toEqual({ anonymousId: 'a', userId: 'u' });
  });

  it('links an alias both ways and names both ids for the erasure checks, but not an alias to itself', () => {
    const alias = contributionOf(record({ type: 'alias', userId: 'new', previousId: 'old' }), 'msg');
    const self = contributionOf(record({ type: 'alias', userId: 'same', previousId: 'same' }), 'msg');

    expect(alias?.subjects).toEqual(['new', 'old']);
    expect(alias?.touches.map((t) => [t.key.id, [...t.links.keys()]])).toEqual([
      ['new', ['aliases']],
      ['old', ['aliasedTo']],
    ]);
    expect(self).toBeUndefined();
  });

  it('adds nothing for an event without a userId or an anonymousId', () => {
    // Act
    const contribution = contributionOf(record({ type: 'identify', traits: { plan: 'pro' } }), 'msg');

    // Assess
    expect(contribution).toBeUndefined();
  });

  it('skips trait names that are empty or longer than a profile keeps, and keeps an undefined value as null', () => {
    // Prepare
    const long = 'n'.repeat(CAPS.traitNameBytes + 1);
    const traits = { '': 'empty name', [long]: 'long name', plan: 'pro', gone: undefined };

    // Act
    const contribution = contributionOf(record({ type: 'identify', userId: 'u', traits }), 'msg');

    // Assess
    const kept = contribution?.touches[0]?.traits;
    expect([...(kept?.keys() ?? [])].sort()).toEqual(['gone', 'plan']);
    expect(kept?.get('gone')?.value).toBeNull();
  });

  it('makes members of users only, and coalesces a batch into one delta per profile', () => {
    const anonymous = contributionOf(record({ type: 'group', anonymousId: 'a', groupId: 'g', traits: { n: 1 } }), 'm1');
    const user = contributionOf(record({ type: 'group', userId: 'u', groupId: 'g', traits: { m: 2 } }), 'm2');

    const deltas = coalesce([anonymous, user].filter((c) => c !== undefined));

    expect(anonymous?.memberships).toEqual([]);
    expect(user?.memberships).toEqual([{ groupId: 'g', userId: 'u' }]);
    expect([...deltas.values()].map((d) => [d.delta.key.kind, [...d.owners]])).toEqual([
      ['anon', ['m1']],
      ['group', ['m1', 'm2']],
      ['user', ['m2']],
    ]);
  });
});
