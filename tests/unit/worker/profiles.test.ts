/**
 * The profile merge and its item form, in memory (the integration tests run the same code through
 * the worker on DynamoDB Local): order-independence with the caps in play, the caps' bound on an
 * item's size, every key kept through the wire form, and what one event contributes.
 */
import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import { dynamoItemBytes, type AttributeValue } from '../../../bench/fake-aws';
import { random } from '../../../bench/fixtures';
import type { EventRecord } from '../../../lib/message/format';
import { marshallItem, unmarshallItem } from '../../../lib/tables/dynamo-wire';
import { activityItem, profileFromItem, profileItem } from '../../../lib/tables/profiles';
import { coalesce, contributionOf, storableTrait } from '../../../lib/worker/profiles/contributions';
import { CAPS, LINK_KINDS, versionOf, type ProfileKey } from '../../../lib/tables/profiles';
import { shuffled } from '../../support/random';
import { canonicalJson, copyProfile, emptyProfile, mergeProfiles, type Profile } from '../../../lib/worker/profiles/profile';

const KEY: ProfileKey = { kind: 'user', sourceId: 'src', id: 'u-1' };

/** Many small deltas: 150 trait names and 120 anonymous ids, more than the caps keep, with repeats and ties. */
function touches(seed: number): Profile[] {
  const rand = random(seed);
  return Array.from({ length: 600 }, (_, i) => {
    const touch = emptyProfile(KEY);
    const ts = `2026-01-0${1 + Math.floor(rand() * 9)}T00:00:0${Math.floor(rand() * 10)}.000Z`;
    const version = versionOf(ts, `m-${Math.floor(rand() * 50)}`);
    touch.traits.set(`t${Math.floor(rand() * 150)}`, { value: Math.floor(rand() * 4) === 0 ? null : { n: i % 7 }, version });
    touch.links.set('anonymousIds', new Map([[`a-${Math.floor(rand() * 120)}`, ts.slice(0, 10)]]));
    touch.activity = { counts: new Map([['track', 1]]), firstSeen: ts, lastSeen: ts };
    return touch;
  });
}

/** Merges `all` into a stored profile in random batches, each coalesced first, as the worker does. */
function mergeInBatches(all: readonly Profile[], seed: number): Profile {
  const rand = random(seed);
  let stored = emptyProfile(KEY);
  for (let i = 0; i < all.length; ) {
    const size = 1 + Math.floor(rand() * 40);
    const delta = emptyProfile(KEY);
    for (const touch of all.slice(i, i + size)) mergeProfiles(delta, touch);
    stored = copyProfile(stored);
    mergeProfiles(stored, delta);
    i += size;
  }
  return stored;
}

const itemText = (profile: Profile) => canonicalJson({ ...profileItem(profile), rev: 0 });

describe('mergeProfiles', () => {
  it('gives the same profile for any order and batching of the same touches, with the caps in play', () => {
    const all = touches(1);
    const expected = itemText(mergeInBatches(all, 10));

    for (let seed = 2; seed < 7; seed++) expect(itemText(mergeInBatches(shuffled(all, seed), seed * 10))).toBe(expected);
    // Redelivered touches change nothing but the counts.
    const again = mergeInBatches([...all, ...shuffled(all, 99).slice(0, 100)], 7);
    expect(itemText({ ...again, activity: undefined })).toBe(itemText({ ...mergeInBatches(all, 10), activity: undefined }));
  });

  it('keeps the most recent traits and links, up to the caps', () => {
    const profile = mergeInBatches(touches(3), 1);
    const versions = [...profile.traits.values()].map((t) => t.version).sort();

    expect(profile.traits.size).toBe(CAPS.traits);
    expect(profile.links.get('anonymousIds')?.size).toBe(CAPS.links.anonymousIds);
    // Every trait left out was set at or before the oldest one kept.
    const oldestKept = versions[0] ?? '';
    const dropped = touches(3).filter((t) => ![...t.traits.keys()].every((name) => profile.traits.has(name)));
    for (const touch of dropped) for (const entry of touch.traits.values()) expect(entry.version <= oldestKept).toBe(true);
    expect(profile.activity?.counts.get('track')).toBe(600);
  });

  it('breaks a tie of versions by the canonical JSON of the values, in either order', () => {
    const a = emptyProfile(KEY);
    a.traits.set('plan', { value: { b: 1, a: 2 }, version: 'v#1' });
    const b = emptyProfile(KEY);
    b.traits.set('plan', { value: 'pro', version: 'v#1' });

    const ab = copyProfile(a);
    mergeProfiles(ab, b);
    const ba = copyProfile(b);
    mergeProfiles(ba, a);

    expect(ab.traits.get('plan')).toEqual(ba.traits.get('plan'));
  });
});

describe('the profile item', () => {
  it('keeps every name and id as data through the wire form', () => {
    const profile = emptyProfile({ kind: 'anon', sourceId: 'src', id: '__proto__' });
    profile.rev = 3;
    profile.traits.set('__proto__', { value: { constructor: 'x' }, version: versionOf('2026-01-01T00:00:00.000Z', 'm1') });
    profile.traits.set('toString', { value: null, version: versionOf('2026-01-02T00:00:00.000Z', 'm2') });
    profile.links.set('groups', new Map([['__proto__', versionOf('2026-01-01T00:00:00.000Z', 'm1')]]));
    profile.activity = { counts: new Map([['identify', 2]]), firstSeen: '2026-01-01T00:00:00.000Z', lastSeen: '2026-01-02T00:00:00.000Z' };

    // Two items since issue 22: the identity, and the activity apart.
    const wire = (item: Record<string, unknown>) => unmarshallItem(marshallItem(item), 'throw');
    const back = profileFromItem(wire(profileItem(profile)), wire(activityItem(profile.key, profile.activity)));

    expect(back).toEqual(profile);
    expect(profileItem(profile)).toMatchObject({
      pk: 'src#anon#__proto__',
      sk: 'profile',
      versions: ['2026-01-01T00:00:00.000Z#m1', '2026-01-02T00:00:00.000Z#m2'],
    });
  });

  it('stays under 400 KB at every cap with the longest names, values and ids', () => {
    const longId = (prefix: string, i: number) => `${prefix}${i}`.padEnd(1024, 'x');
    const profile = emptyProfile({ kind: 'user', sourceId: 's'.repeat(64), id: longId('u', 0) });
    for (let i = 0; i < CAPS.traits; i++) {
      // The value DynamoDB counts largest for its JSON size: a list of one-digit numbers.
      const value = Array.from({ length: 340 }, () => 1);
      expect(Buffer.byteLength(JSON.stringify(value))).toBeLessThanOrEqual(CAPS.traitValueBytes);
      profile.traits.set(longId('t', i).slice(0, CAPS.traitNameBytes), {
        value,
        version: versionOf('2026-01-01T00:00:00.000Z', `${i}`.padEnd(100, 'm')),
      });
    }
    for (const kind of LINK_KINDS) {
      const value = kind === 'anonymousIds' ? '2026-01-01' : versionOf('2026-01-01T00:00:00.000Z', 'm'.repeat(100));
      profile.links.set(kind, new Map(Array.from({ length: CAPS.links[kind] }, (_, i) => [longId(kind, i), value])));
    }
    profile.activity = { counts: new Map([['track', 1e15]]), firstSeen: '2026-01-01T00:00:00.000Z', lastSeen: '2026-01-01T00:00:00.000Z' };

    const bytes = dynamoItemBytes(
      marshallItem(profileItem(profile)) as Record<string, SdkAttributeValue> as Record<string, AttributeValue>,
    );

    expect(bytes).toBeLessThan(400 * 1024);
    expect(bytes).toBeGreaterThan(250 * 1024); // the bound is worth stating: the caps are not far below it
  });
});

describe('the profile item as stored by someone else', () => {
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

  it.each([
    ['a members item', { pk: 'src#members#g1', sk: 'u-1' }],
    ['an unknown kind', { kind: 'device', sourceId: 'src', userId: 'u-1' }],
    ['a sourceId that is not text', { kind: 'user', sourceId: 7, userId: 'u-1' }],
    ['no id for its kind', { kind: 'group', sourceId: 'src', userId: 'u-1' }],
  ])('is no profile for %s', (_what, item) => {
    // Act
    const profile = profileFromItem(item);

    // Assess
    expect(profile).toBeUndefined();
  });

  it('reads a profile item without rev, trait versions or counts as revision 0, the oldest version and no counts', () => {
    // Prepare
    const item = { kind: 'user', sourceId: 'src', userId: 'u-1', traits: { plan: 'pro' } };
    const activity = { firstSeen: '2026-01-01', lastSeen: '2026-01-02' };

    // Act
    const profile = profileFromItem(item, activity);

    // Assess
    expect(profile?.rev).toBe(0);
    expect(profile?.traits.get('plan')).toEqual({ value: 'pro', version: '#' });
    expect(profile?.activity).toEqual({ firstSeen: '2026-01-01', lastSeen: '2026-01-02', counts: new Map() });
  });

  it('writes an activity without counts as an activity item without counts, which reads back as the same profile', () => {
    // Prepare
    const profile = emptyProfile(KEY);
    profile.activity = { counts: new Map(), firstSeen: '2026-01-01T00:00:00.000Z', lastSeen: '2026-01-01T00:00:00.000Z' };

    // Act
    const item = profileItem(profile);
    const activity = activityItem(profile.key, profile.activity);

    // Assess
    expect(Object.keys(activity).filter((name) => name.endsWith('Count'))).toEqual([]);
    expect(profileFromItem(unmarshallItem(marshallItem(item), 'throw'), unmarshallItem(marshallItem(activity), 'throw'))).toEqual(profile);
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
