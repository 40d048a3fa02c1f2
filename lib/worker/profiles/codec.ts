/**
 * Profiles as items of the `profiles` table (layout.ts) and back. Written in the worker's own wire
 * form (dynamo-wire.ts) and read with the low-level client, whose answers keep every attribute
 * name: a trait or an id named `__proto__` or `constructor` survives the round trip, which the
 * document client's reading would not let it (it drops `__proto__`).
 */
import { marshallItem, type AttributeMap } from '../dynamo-wire';
import type { Item } from '../items';
import { setOwn } from '../../shared/own-keys';
import { ID_ATTRIBUTE, LINK_KINDS, compareVersions, profileItemKey, type ProfileKind, type Version } from './layout';
import type { Profile } from './profile';

function objectOf(entries: Iterable<readonly [string, unknown]>): Record<string, unknown> | undefined {
  const object: Record<string, unknown> = {};
  let any = false;
  for (const [key, value] of entries) {
    setOwn(object, key, value);
    any = true;
  }
  return any ? object : undefined;
}

/** The item for a profile, attributes in the order of layout.ts; empty maps are left out. */
export function profileItem(profile: Profile): Item {
  const { key } = profile;
  const versions = [...new Set([...profile.traits.values()].map((t) => t.version))].sort(compareVersions);
  const index = new Map<Version, number>(versions.map((v, i) => [v, i]));
  const item: Item = { ...profileItemKey(key), kind: key.kind, sourceId: key.sourceId, [ID_ATTRIBUTE[key.kind]]: key.id, rev: profile.rev };
  const traits = objectOf([...profile.traits].map(([name, t]) => [name, t.value] as const));
  if (traits) {
    item.traits = traits;
    item.traitVersions = objectOf([...profile.traits].map(([name, t]) => [name, index.get(t.version) ?? 0] as const));
    item.versions = versions;
  }
  for (const kind of LINK_KINDS) {
    const links = profile.links.get(kind);
    const object = links && objectOf(links);
    if (object) item[kind] = object;
  }
  if (profile.activity) {
    item.firstSeen = profile.activity.firstSeen;
    item.lastSeen = profile.activity.lastSeen;
    item.counts = objectOf(profile.activity.counts) ?? {};
  }
  return item;
}

export function profileWireItem(profile: Profile): AttributeMap {
  return marshallItem(profileItem(profile));
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The profile an item holds; undefined when it is not a profile item. */
export function profileFromItem(item: Record<string, unknown>): Profile | undefined {
  const kind = item.kind as ProfileKind;
  if (kind !== 'user' && kind !== 'anon' && kind !== 'group') return undefined;
  const id = item[ID_ATTRIBUTE[kind]];
  if (typeof item.sourceId !== 'string' || typeof id !== 'string') return undefined;
  const profile: Profile = {
    key: { kind, sourceId: item.sourceId, id },
    rev: typeof item.rev === 'number' ? item.rev : 0,
    traits: new Map(),
    links: new Map(),
  };
  const versions = Array.isArray(item.versions) ? (item.versions as unknown[]) : [];
  if (isObject(item.traits)) {
    const traitVersions = isObject(item.traitVersions) ? item.traitVersions : {};
    for (const name of Object.keys(item.traits)) {
      const version = versions[Number(traitVersions[name])];
      profile.traits.set(name, { value: item.traits[name], version: typeof version === 'string' ? version : '#' });
    }
  }
  for (const kind of LINK_KINDS) {
    const links = item[kind];
    if (!isObject(links)) continue;
    profile.links.set(kind, new Map(Object.keys(links).map((id) => [id, String(links[id])])));
  }
  if (typeof item.firstSeen === 'string' && typeof item.lastSeen === 'string') {
    const counts = isObject(item.counts) ? item.counts : {};
    profile.activity = {
      firstSeen: item.firstSeen,
      lastSeen: item.lastSeen,
      counts: new Map(Object.keys(counts).map((type) => [type, Number(counts[type])])),
    };
  }
  return profile;
}
