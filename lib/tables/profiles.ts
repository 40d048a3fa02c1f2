/**
 * The `profiles` table: its key layout, its items and how they are read, for the worker (which
 * writes them, lib/worker/profiles/) and the CLI (which reads them, cli/profile/, cli/group/). A
 * team's own code may read it too (docs/profiles.md has the layout with examples). One table, keys
 * `pk` and `sk`; a profile is a partition holding a core item with its small facts and one item
 * per fact that did not fit the core:
 *
 * | item | pk | sk | attributes |
 * |---|---|---|---|
 * | the core of a profile | `<sourceId>#<kind>#<id>` | `core` | `rev`, `f` (fact sort key to `{o, v?}`), `s` (spilled) |
 * | a trait of a profile | same | `t#<name>` | `v` (the value), `o` |
 * | an anonymous id of a user | `<sourceId>#user#<userId>` | `a#<anonymousId>` | `o` (day last seen) |
 * | a previousId aliased to the user | same | `al#<previousId>` | `o` (version) |
 * | an id the user was aliased to | same | `at#<userId>` | `o` (version) |
 * | a group of a user or anonymous id | same | `g#<groupId>` | `o` (version) |
 * | a member of a group | `<sourceId>#members#<groupId>` | `<userId>` | `kind`, `sourceId`, `groupId`, `userId` |
 * | a user an anonymous id was seen with | `<sourceId>#anon-users#<anonymousId>` | `<userId>` | `kind`, `sourceId`, `anonymousId`, `userId` |
 *
 * The core (`CoreItem`) stays within `CORE_LIMIT_BYTES` by `itemBytes` (one write unit a write);
 * each write of it is conditional on its `rev` (`INSERT` when absent, `UPDATE ... WHERE rev = ?`).
 * `f` maps a fact's sort key (exactly the fact item's) to its `o` and value; `s` is true once any
 * fact of the profile lives in a fact item ("spilled"). A fact goes to the core when it is there
 * already or the profile is not spilled and it fits; else to its item, and the core is marked
 * spilled; a core grown past the limit moves its largest facts out (lib/worker/profiles/store.ts).
 * Readers merge the core's facts and the fact items, the greatest `o` per fact winning, so a fact
 * in both (a write cut short) is harmless (`ProfileGatherer`).
 *
 * `<kind>` is `user`, `anon` (an anonymous id's own profile) or `group`. A profile exists when its
 * partition holds any fact, in its core or an item. When a prefix and an id do not fit
 * DynamoDB's 1,024-byte sort key (ids may be 1,024 bytes), the sort key is the prefix with `~`
 * and the SHA-256 of the id in hex (`al~3f5a...`) and the id is kept in `id` (`factSortKey`).
 * Source ids hold no `#` (lib/admin/sources.ts), so every key is unambiguous.
 *
 * `o` orders the values of one fact, as plain text: for links the version (`<timestamp>#<messageId>`)
 * or the day; for traits the version, `#`, and 16 hex digits of the SHA-256 of the value's canonical
 * JSON (`traitOrder`), so two values of one version order by their hash. Timestamps are always
 * ISO-8601 with milliseconds, 24 characters (lib/spec/timestamps.ts `toIsoMillis`), so text order
 * is time order. The worker writes a fact only when its `o` grows over both the core's and the
 * item's, so each fact converges whatever order events arrive in and wherever it lives, and an
 * event that changes nothing writes nothing.
 *
 * Items of earlier versions: a profile-wide item (`sk = "profile"`, all traits and links in maps;
 * `profileFromLegacyItem`) and an `activity` item. Readers merge a legacy `profile` item's traits and
 * links with the facts by the same `o` (a fact written later wins when its `o` is greater); erasure
 * deletes them. The worker never reads or writes them.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../shared/canonical-json';
import { BatchGetItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { awsCall } from '../shared/aws-call';
import { forEachLimited } from '../shared/concurrency';
import type { Log } from '../shared/log';
import { setOwn } from '../shared/own-keys';
import { DeadlineError, retryPending, type Backoff, type Clock } from '../shared/retry';
import { marshallItem, unmarshallItem, type AttributeMap } from './dynamo-wire';
import { queryPages } from './query';

export const PROFILES_TABLE = 'profiles';
/** The sort key of a legacy profile-wide item (earlier versions; read and erased, never written). */
export const LEGACY_PROFILE_SK = 'profile';

export type ProfileKind = 'user' | 'anon' | 'group';

export const ID_ATTRIBUTE: Record<ProfileKind, 'userId' | 'anonymousId' | 'groupId'> = {
  user: 'userId',
  anon: 'anonymousId',
  group: 'groupId',
};

/** The kinds of link a profile holds, and which profiles hold each. */
export const LINK_KINDS = ['anonymousIds', 'aliases', 'aliasedTo', 'groups'] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

/** A fact's kind: a trait, or a link of one kind. */
export type FactKind = 'trait' | LinkKind;
export const FACT_KINDS: readonly FactKind[] = ['trait', ...LINK_KINDS];

/** The sort key prefix of each kind of fact. */
export const FACT_PREFIX: Record<FactKind, string> = { trait: 't', anonymousIds: 'a', aliases: 'al', aliasedTo: 'at', groups: 'g' };
const KIND_OF_PREFIX = new Map<string, FactKind>(FACT_KINDS.map((kind) => [FACT_PREFIX[kind], kind]));

/**
 * Caps on what one fact holds (a trait's name and value), and on what the CLI prints per kind
 * (the most recent by `o`; it says on stderr how many it left out). Counts are not capped in the
 * table: the core stays within 1 KB and every other fact is its own small item, so no item approaches
 * DynamoDB's 400 KB.
 */
export const CAPS = {
  /** Traits printed. */
  traits: 100,
  /** Bytes of a trait name; longer names are not kept in profiles (the events have them). */
  traitNameBytes: 128,
  /**
   * Bytes of a trait value, as JSON and as DynamoDB counts it (whichever is larger: a list of small
   * numbers is half again larger in DynamoDB); a longer value is kept as `{"$omitted": ..., "bytes": n}`.
   */
  traitValueBytes: 1024,
  /** Links printed, per kind. */
  links: { anonymousIds: 50, aliases: 50, aliasedTo: 10, groups: 50 } satisfies Record<LinkKind, number>,
} as const;

/** The print cap of a kind of fact. */
export function shownCap(kind: FactKind): number {
  return kind === 'trait' ? CAPS.traits : CAPS.links[kind];
}

export interface ProfileKey {
  kind: ProfileKind;
  sourceId: string;
  id: string;
}

export function profilePartitionKey(key: ProfileKey): string {
  return `${key.sourceId}#${key.kind}#${key.id}`;
}

/** The members partition of a group: one item per userId that joined it, the userId as sort key. */
export function membersPartitionKey(sourceId: string, groupId: string): string {
  return `${sourceId}#members#${groupId}`;
}

export function membershipKey(sourceId: string, groupId: string, userId: string): { pk: string; sk: string } {
  return { pk: membersPartitionKey(sourceId, groupId), sk: userId };
}

/** The users an anonymous id was seen with: one item per userId, the userId as sort key. */
export function anonymousUsersPartitionKey(sourceId: string, anonymousId: string): string {
  return `${sourceId}#anon-users#${anonymousId}`;
}

export function anonymousUserKey(sourceId: string, anonymousId: string, userId: string): { pk: string; sk: string } {
  return { pk: anonymousUsersPartitionKey(sourceId, anonymousId), sk: userId };
}

/** Text that identifies a profile in maps and sets (ids may hold any character, so JSON). */
export function keyText(key: ProfileKey): string {
  return JSON.stringify([key.kind, key.sourceId, key.id]);
}

/** `<timestamp>#<messageId>`: the event that set a trait or a link. Timestamps never hold `#`. */
export type Version = string;

export function versionOf(timestamp: string, messageId: string): Version {
  return `${timestamp}#${messageId}`;
}

/** The day of an event time (`YYYY-MM-DD`): anonymous links move at most once a day, so a known link costs no write. */
export function dayOf(timestamp: string): string {
  return timestamp.slice(0, 10);
}

/** Plain text order, the order of `o` (see the file comment). */
export function compareOrders(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A trait's `o`: its version, `#`, and 16 hex digits of the SHA-256 of its value's canonical JSON. */
export function traitOrder(version: Version, value: unknown): string {
  return `${version}#${sha256(canonicalJson(value)).slice(0, 16)}`;
}

/** DynamoDB's limit on a sort key, in UTF-8 bytes. */
export const SORT_KEY_LIMIT_BYTES = 1024;

/** A fact's sort key, and the id kept in `id` when the sort key holds its hash (see the file comment). */
export function factSortKey(kind: FactKind, name: string): { sk: string; id?: string } {
  const plain = `${FACT_PREFIX[kind]}#${name}`;
  if (Buffer.byteLength(plain) <= SORT_KEY_LIMIT_BYTES) return { sk: plain };
  return { sk: `${FACT_PREFIX[kind]}~${sha256(name)}`, id: name };
}

/** A fact of a profile: a trait (`value` set) or a link, and its order `o`. */
export interface Fact {
  kind: FactKind;
  /** The trait's name, or the linked id. */
  name: string;
  o: string;
  value?: unknown;
}

/** A fact's item in the partition of `key`. */
export function factItem(key: ProfileKey, fact: Fact): Record<string, unknown> {
  const { sk, id } = factSortKey(fact.kind, fact.name);
  const item: Record<string, unknown> = { pk: profilePartitionKey(key), sk, o: fact.o };
  if (fact.kind === 'trait') item.v = fact.value ?? null;
  if (id !== undefined) item.id = id;
  return item;
}

/** The fact an item holds (JSON form); undefined when it holds none (a legacy item, anything else). */
export function factFromItem(item: Record<string, unknown>): Fact | undefined {
  const { sk, o } = item;
  if (typeof sk !== 'string' || typeof o !== 'string') return undefined;
  const at = sk.search(/[#~]/);
  if (at < 0) return undefined;
  const kind = KIND_OF_PREFIX.get(sk.slice(0, at));
  if (!kind) return undefined;
  const name = sk[at] === '~' ? item.id : sk.slice(at + 1);
  if (typeof name !== 'string') return undefined;
  return kind === 'trait' ? { kind, name, o, value: item.v } : { kind, name, o };
}

/** The sort key of a profile's core item: its small facts in one map (see the file comment). */
export const CORE_SK = 'core';
/** The most bytes (`itemBytes`) a core item holds, so a core write costs one write unit. */
export const CORE_LIMIT_BYTES = 1024;

/** A fact's entry in a core item's `f` map (keyed by the fact's sort key). */
export interface CoreEntry {
  o: string;
  v?: unknown;
  /** The fact's id when its sort key holds a hash (the worker keeps such facts in items). */
  id?: string;
}

/** A core item as the worker reads and writes it (JSON form). */
export interface CoreItem {
  pk: string;
  sk: typeof CORE_SK;
  /** Bumped by every write; each write is conditional on the `rev` it read. */
  rev: number;
  f: Record<string, CoreEntry>;
  /** True once any fact of the profile lives in a fact item. */
  s?: boolean;
}

/** The core entry of a fact. */
export function coreEntry(fact: Fact): CoreEntry {
  const { id } = factSortKey(fact.kind, fact.name);
  const entry: CoreEntry = { o: fact.o };
  if (fact.kind === 'trait') entry.v = fact.value ?? null;
  if (id !== undefined) entry.id = id;
  return entry;
}

/** The core item of the partition of `key`, when `item` is one (JSON form, as read); undefined otherwise. */
export function coreFromItem(item: Record<string, unknown> | undefined): CoreItem | undefined {
  if (!item || item.sk !== CORE_SK || typeof item.pk !== 'string' || typeof item.rev !== 'number') return undefined;
  const f: Record<string, CoreEntry> = {};
  const stored = isObject(item.f) ? item.f : {};
  for (const sk of Object.keys(stored)) {
    const entry = stored[sk];
    if (isObject(entry) && typeof entry.o === 'string') setOwn(f, sk, entry as unknown as CoreEntry);
  }
  return { pk: item.pk, sk: CORE_SK, rev: item.rev, f, ...(item.s === true ? { s: true } : {}) };
}

/** The facts a core item holds. */
export function coreFacts(core: CoreItem): Fact[] {
  const facts: Fact[] = [];
  for (const sk of Object.keys(core.f)) {
    const fact = factFromItem({ ...core.f[sk], sk });
    if (fact) facts.push(fact);
  }
  return facts;
}

/** DynamoDB's limit on an item, in its own bytes (`itemBytes`). */
export const ITEM_LIMIT_BYTES = 400 * 1024;

/**
 * The DynamoDB actions the profile code calls on the profiles table, worker and CLI together: the
 * worker role's grant on the table is exactly this list (tests/deploy/serverless-package.test.ts).
 * BatchGetItem: reads of the cores and facts a batch touches; PartiQL statements
 * (BatchExecuteStatement): conditional core and fact writes, `INSERT` and `UPDATE`; BatchWriteItem: link items and erasure's deletes;
 * PutItem: a link item BatchWriteItem refused, resent alone (lib/worker/write.ts); Query: erasure
 * reads the user's partition (the worker's only Query of the table). The CLI also Queries (its own role).
 */
export const PROFILE_WORKER_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLInsert',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PutItem',
  'dynamodb:Query',
] as const;

/** What an erasure removed from the profiles table, counted in its audit record. */
export interface ProfileErasure {
  /** The user's own profile deleted: 1 when its partition held any item, else 0. */
  profiles: number;
  /** Links naming the user removed: anonymous-user items, and alias links in other profiles. */
  links: number;
  memberships: number;
}

export interface TraitEntry {
  value: unknown;
  /** The trait's `o` (`traitOrder`). */
  order: string;
}

/** Counts per kind of fact a read left out (beyond `CAPS`), present when any. */
export type Omitted = Partial<Record<FactKind, number>>;

export interface Profile {
  key: ProfileKey;
  traits: Map<string, TraitEntry>;
  /** Per kind, the linked id to its `o` (a day or a version). */
  links: Map<LinkKind, Map<string, string>>;
  /** What a capped read left out. */
  omitted?: Omitted;
}

export function emptyProfile(key: ProfileKey): Profile {
  return { key, traits: new Map(), links: new Map() };
}

/** The facts of a profile (a delta, or one read). */
export function factsOf(profile: Profile): Fact[] {
  const facts: Fact[] = [];
  for (const [name, entry] of profile.traits) facts.push({ kind: 'trait', name, o: entry.order, value: entry.value });
  for (const [kind, links] of profile.links) for (const [name, o] of links) facts.push({ kind, name, o });
  return facts;
}

// ---- Sizes, by DynamoDB's rules ----

/**
 * The bytes DynamoDB counts for an item in the wire form: each attribute's name (UTF-8) and value;
 * strings by UTF-8 bytes, numbers by significant digits (about one byte per two, plus one), null
 * and booleans 1, lists and maps 3 plus 1 per element (and a map's names). The size its writes are
 * billed by (1 KB a write unit) and the one the 400 KB limit applies to.
 */
export function itemBytes(item: AttributeMap): number {
  let bytes = 0;
  for (const name of Object.keys(item)) bytes += Buffer.byteLength(name) + valueBytes(item[name] as AttributeValue);
  return bytes;
}

/** The bytes DynamoDB counts for one value in the wire form. */
export function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return numberBytes(value.N);
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.B !== undefined) return value.B.length;
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + Buffer.byteLength(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, n) => sum + numberBytes(n), 0);
  if (value.M !== undefined) {
    let bytes = 3;
    for (const name of Object.keys(value.M)) bytes += 1 + Buffer.byteLength(name) + valueBytes(value.M[name] as AttributeValue);
    return bytes;
  }
  if (value.L !== undefined) return value.L.reduce((sum, inner) => sum + 1 + valueBytes(inner), 3);
  return 0;
}

function numberBytes(text: string): number {
  const digits = text.replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

/** The bytes DynamoDB would count for a JSON value (as the worker's wire form writes it). */
export function jsonValueBytes(value: unknown): number {
  return valueBytes((marshallItem({ v: value }).v ?? { NULL: true }) as AttributeValue);
}

// ---- Legacy items ----

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The profile a legacy profile-wide item (`sk = "profile"`, earlier versions) holds: `traits` with
 * `traitVersions` (name to an index into `versions`), and each link kind as a map from the id to
 * its day or version. A trait's `o` is computed from its version and value, as the worker's are.
 * Undefined when the item is not one.
 */
export function profileFromLegacyItem(item: Record<string, unknown>): Profile | undefined {
  const kind = item.kind as ProfileKind;
  if (item.sk !== LEGACY_PROFILE_SK || (kind !== 'user' && kind !== 'anon' && kind !== 'group')) return undefined;
  const id = item[ID_ATTRIBUTE[kind]];
  if (typeof item.sourceId !== 'string' || typeof id !== 'string') return undefined;
  const profile = emptyProfile({ kind, sourceId: item.sourceId, id });
  const versions = Array.isArray(item.versions) ? (item.versions as unknown[]) : [];
  if (isObject(item.traits)) {
    const traitVersions = isObject(item.traitVersions) ? item.traitVersions : {};
    for (const name of Object.keys(item.traits)) {
      const version = versions[Number(traitVersions[name])];
      const value = item.traits[name];
      profile.traits.set(name, { value, order: traitOrder(typeof version === 'string' ? version : '#', value) });
    }
  }
  for (const link of LINK_KINDS) {
    const links = item[link];
    if (!isObject(links)) continue;
    profile.links.set(link, new Map(Object.keys(links).map((id) => [id, String(links[id])])));
  }
  return profile;
}

// ---- Reads ----

/** What reads and writes of the profiles table need: the low-level client (its answers keep every attribute name), the table, time. */
export interface ProfileStore {
  writer: DynamoDBClient;
  table: string;
  clock: Clock;
  log: Log;
}

const BATCH_GET_KEYS = 100;
const READ_BACKOFF: Backoff = { baseMs: 50, capMs: 1000, jitter: 'full' };

export function remaining(store: ProfileStore, deadline: number): number {
  return Math.max(1, Math.ceil(deadline - store.clock.now()));
}

/** Text that identifies an item by its keys. */
export const itemId = (key: { pk: unknown; sk: unknown }): string => `${String(key.pk)}\u0000${String(key.sk)}`;

/**
 * The items at `keys` of the profiles table, as JSON keyed by `itemId`, read in pages of 100;
 * unprocessed keys are retried until `deadline`, then it throws (`DeadlineError`). `attributes`
 * limits what is read (the keys are always read).
 */
export async function readItems(
  store: ProfileStore,
  keys: ReadonlyArray<{ pk: string; sk: string }>,
  consistent: boolean,
  deadline: number,
  attributes?: readonly string[],
): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  const projection = attributes && {
    ProjectionExpression: ['pk', 'sk', ...attributes].map((_, i) => `#a${i}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(['pk', 'sk', ...attributes].map((name, i) => [`#a${i}`, name])),
  };
  const readPage = async (pending: ReadonlyArray<Record<string, AttributeValue>>) => {
    const command = new BatchGetItemCommand({
      RequestItems: { [store.table]: { Keys: [...pending], ConsistentRead: consistent, ...projection } },
    });
    const response = await awsCall({ service: 'DynamoDB', timeoutMs: remaining(store, deadline) }, () => store.writer.send(command));
    for (const wire of response.Responses?.[store.table] ?? []) {
      const item = unmarshallItem(wire, 'null');
      found.set(itemId(item as { pk: unknown; sk: unknown }), item);
    }
    return response.UnprocessedKeys?.[store.table]?.Keys ?? [];
  };
  const unique = [...new Map(keys.map((k) => [itemId(k), k])).values()];
  for (let i = 0; i < unique.length; i += BATCH_GET_KEYS) {
    const page = unique.slice(i, i + BATCH_GET_KEYS).map((k) => marshallItem(k));
    const { pending } = await retryPending(page, { policy: READ_BACKOFF, deadline, clock: store.clock }, readPage);
    if (pending.length > 0) throw new DeadlineError(remaining(store, deadline), 'reading the profiles');
  }
  return found;
}

/** Every item of a profile's partition, page by page (strongly consistent; each call within `deadline`). */
export function partitionPages(store: ProfileStore, key: ProfileKey, deadline: number): AsyncGenerator<Record<string, unknown>[]> {
  return mapPages(
    queryPages(
      store.writer,
      {
        TableName: store.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: profilePartitionKey(key) } },
        ConsistentRead: true,
      },
      (send) => awsCall({ service: 'DynamoDB', timeoutMs: remaining(store, deadline) }, send),
    ),
  );
}

async function* mapPages(pages: AsyncGenerator<Record<string, AttributeValue>[]>): AsyncGenerator<Record<string, unknown>[]> {
  for await (const page of pages) yield page.map((wire) => unmarshallItem(wire, 'null'));
}

/**
 * Gathers a profile from its partition's items, keeping per kind at most `caps` facts, the
 * greatest by `o` (ties by name), whatever order the fact items come in, and counting the ones left
 * out. A legacy `profile` item (earlier versions) is given first (`addLegacy`): its facts merge with
 * the fact items by `o`, each name counted once. Memory stays within the caps (and the legacy item).
 */
export class ProfileGatherer {
  private readonly kept = new Map<FactKind, Map<string, Fact>>(FACT_KINDS.map((kind) => [kind, new Map()]));
  /** Distinct names seen per kind. */
  private readonly seen = new Map<FactKind, number>();
  private readonly legacy = new Map<FactKind, Set<string>>(FACT_KINDS.map((kind) => [kind, new Set()]));
  private readonly inCore = new Map<FactKind, Set<string>>(FACT_KINDS.map((kind) => [kind, new Set()]));
  private coreAdded = false;
  private any = false;

  constructor(
    readonly key: ProfileKey,
    private readonly caps: (kind: FactKind) => number = shownCap,
  ) {}

  /** A legacy profile item's facts; before any `add`. */
  addLegacy(item: Record<string, unknown>): void {
    const legacy = profileFromLegacyItem(item);
    if (!legacy) return;
    this.any = true;
    for (const fact of factsOf(legacy)) {
      this.legacy.get(fact.kind)?.add(fact.name);
      this.count(fact.kind);
      this.keep(fact);
    }
  }

  /**
   * The partition's core item (read by key before the pages): its facts are counted once each, and
   * a fact item of the same fact (a harmless duplicate) merges with it by `o` without being counted.
   */
  addCore(item: Record<string, unknown> | undefined): void {
    const core = coreFromItem(item);
    if (!core || this.coreAdded) return;
    this.coreAdded = true;
    // A core emptied by an erasure, alone in its partition, is no profile.
    for (const fact of coreFacts(core)) {
      this.any = true;
      const known = this.inCore.get(fact.kind) as Set<string>;
      if (known.has(fact.name)) continue;
      known.add(fact.name);
      if (!this.legacy.get(fact.kind)?.has(fact.name)) this.count(fact.kind);
      this.keep(fact);
    }
  }

  /** An item of the partition; anything but a fact item or the core item is passed over. */
  add(item: Record<string, unknown>): void {
    if (item.sk === CORE_SK) {
      this.addCore(item);
      return;
    }
    const fact = factFromItem(item);
    if (!fact) return;
    this.any = true;
    if (!this.legacy.get(fact.kind)?.has(fact.name) && !this.inCore.get(fact.kind)?.has(fact.name)) this.count(fact.kind);
    this.keep(fact);
  }

  private count(kind: FactKind): void {
    this.seen.set(kind, (this.seen.get(kind) ?? 0) + 1);
  }

  private keep(fact: Fact): void {
    const kept = this.kept.get(fact.kind) as Map<string, Fact>;
    const known = kept.get(fact.name);
    if (known) {
      if (compareOrders(fact.o, known.o) > 0) kept.set(fact.name, fact);
      return;
    }
    kept.set(fact.name, fact);
    if (kept.size <= this.caps(fact.kind)) return;
    let least: Fact | undefined;
    for (const entry of kept.values()) if (!least || compareFacts(entry, least) < 0) least = entry;
    if (least) kept.delete(least.name);
  }

  /** The profile gathered; undefined when the partition held no fact and no legacy profile item. */
  profile(): Profile | undefined {
    if (!this.any) return undefined;
    const profile = emptyProfile(this.key);
    const omitted: Omitted = {};
    for (const [kind, kept] of this.kept) {
      const distinct = this.seen.get(kind) ?? 0;
      if (distinct > kept.size) omitted[kind] = distinct - kept.size;
      for (const fact of kept.values()) {
        if (fact.kind === 'trait') profile.traits.set(fact.name, { value: fact.value, order: fact.o });
        else {
          let links = profile.links.get(fact.kind);
          if (!links) profile.links.set(fact.kind, (links = new Map()));
          links.set(fact.name, fact.o);
        }
      }
    }
    if (Object.keys(omitted).length > 0) profile.omitted = omitted;
    return profile;
  }
}

/** Orders facts of one kind by `o`, ties by name. */
function compareFacts(a: Fact, b: Fact): number {
  return compareOrders(a.o, b.o) || compareOrders(a.name, b.name);
}

/** A stored profile (facts and any legacy item merged), the most recent `CAPS` of each kind; undefined when it holds nothing. */
export async function readProfile(store: ProfileStore, key: ProfileKey, deadline: number): Promise<Profile | undefined> {
  const gatherer = new ProfileGatherer(key);
  const legacyKey = { pk: profilePartitionKey(key), sk: LEGACY_PROFILE_SK };
  const coreKey = { pk: profilePartitionKey(key), sk: CORE_SK };
  const found = await readItems(store, [legacyKey, coreKey], true, deadline);
  const legacy = found.get(itemId(legacyKey));
  if (legacy) gatherer.addLegacy(legacy);
  gatherer.addCore(found.get(itemId(coreKey)));
  for await (const page of partitionPages(store, key, deadline)) for (const item of page) gatherer.add(item);
  return gatherer.profile();
}

/** Parallel partition reads of `readProfiles`. */
const READ_LANES = 8;

/** Stored profiles at `keys`, keyed by `keyText`, read 8 at a time; absent ones are missing from the map. */
export async function readProfiles(store: ProfileStore, keys: readonly ProfileKey[], deadline: number): Promise<Map<string, Profile>> {
  const profiles = new Map<string, Profile>();
  await forEachLimited(keys, READ_LANES, async (key) => {
    const profile = await readProfile(store, key, deadline);
    if (profile) profiles.set(keyText(key), profile);
  });
  return profiles;
}

/** Traits as an object by name (for readers that want plain JSON). */
export function traitsObject(profile: Profile): Record<string, unknown> {
  const traits: Record<string, unknown> = {};
  for (const [name, entry] of profile.traits) setOwn(traits, name, entry.value);
  return traits;
}
