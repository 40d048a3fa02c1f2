/**
 * A privacy policy compiled once per version (lib/ingest/privacy.ts caches it; lib/admin compiles it to check it), and applied to one
 * event: consent, then `context.ip`, then the field rules, then the key matchers. Nothing is
 * changed in place: an object on the way to a changed value is copied (a batch's events share
 * their `context` objects, and the item as sent is the quarantine's if the event is refused).
 * Hashing is idempotent (a value already in the hash's form is left alone), so an event replayed
 * from storage keeps its hashes.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { setOwn } from '../shared/own-keys';
import { adMatchingSha256, hashInput, keyedHash, type PrivacyKey } from '../shared/privacy-hash';
import {
  ESSENTIAL_FIELDS,
  KEY_PRESETS,
  normalizeKeyName,
  REDACTED,
  splitPath,
  type FieldAction,
  type IpAction,
  type PrivacyPolicy,
} from './privacy-policy';

/** A rule's effect on one value: a new value, the same one, or `DROP`. `memo`: the hashes made in this request. */
type Op = (value: unknown, memo: Memo) => unknown;
/**
 * Hashes already made in one request, by rule kind and input: a batch repeats its user's id and
 * email in every event, and each HMAC costs microseconds. Kept per request only (no raw value
 * outlives the request that carried it).
 */
export type Memo = Map<string, string>;
export const DROP: unique symbol = Symbol('drop');

interface FieldStep {
  label: string;
  segments: string[];
  op: Op;
}
interface ConsentStep {
  label: string;
  category: string;
  keep: string[][] | undefined;
}

export interface CompiledPolicy {
  consent: ConsentStep[];
  ip: { label: string; op: Op } | undefined;
  fields: FieldStep[];
  /** The key matchers' action for a key name (cached per name); `undefined` without key rules. */
  keyOp: ((name: string) => { label: string; op: Op } | undefined) | undefined;
}

/** Counts per rule label (`fields[0]`, `keys[1]`, `ip`, `consent[0]`) for one request. */
export type Tally = Map<string, number>;

/** What applying a policy made of an event: the event (the same object when nothing changed) or its withholding. */
export type Applied = { event: Record<string, unknown> } | { withheld: string };

const HASHED = /^hmac-v\d+:[0-9a-f]{64}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Deeper than this, key matchers cannot look: such a subtree is redacted whole. */
const MAX_KEY_DEPTH = 64;
const KEY_CACHE_ENTRIES = 10_000;

/** Compiles a policy read by `readPrivacyPolicy`; `key` is the stage's current privacy key (required by `hash`). */
export function compilePolicy(policy: PrivacyPolicy, key: PrivacyKey | undefined): CompiledPolicy {
  const needsKey = policy.ip === 'hash' || [...(policy.fields ?? []), ...(policy.keys ?? [])].some((r) => r.action === 'hash');
  if (needsKey && !key) throw new Error('the policy hashes, and this stage has no PRIVACY_HASH_KEY');
  const opFor = (action: FieldAction, params?: string[]): Op => valueOp(action, key, params);
  return {
    consent: (policy.consent ?? []).map((rule, i) => ({
      label: `consent[${i}]`,
      category: rule.category,
      keep: rule.action === 'drop' ? undefined : (rule.keep ?? []).map((p) => splitPath(p) ?? []),
    })),
    ip: policy.ip === undefined || policy.ip === 'keep' ? undefined : { label: 'ip', op: ipOp(policy.ip, key) },
    fields: (policy.fields ?? []).map((rule, i) => ({
      label: `fields[${i}]`,
      segments: splitPath(rule.path) ?? [],
      op: opFor(rule.action, rule.params),
    })),
    keyOp: keyMatcher(policy, opFor),
  };
}

function valueOp(action: FieldAction, key: PrivacyKey | undefined, params?: string[]): Op {
  switch (action) {
    case 'drop':
      return () => DROP;
    case 'redact':
      return (v) => (v === null ? v : REDACTED);
    case 'hash':
      return (v, memo) =>
        v === null || (typeof v === 'string' && HASHED.test(v))
          ? v
          : memoized(memo, 'k', hashInput(v), (t) => keyedHash(t, key as PrivacyKey));
    case 'sha256_for_ad_matching':
      return (v, memo) =>
        v === null || (typeof v === 'string' && SHA256_HEX.test(v)) ? v : memoized(memo, 's', hashInput(v), adMatchingSha256);
    case 'redact_query': {
      const names = new Set((params ?? []).map((p) => p.toLowerCase()));
      return (v) => (typeof v === 'string' ? redactQuery(v, names) : v);
    }
  }
}

function memoized(memo: Memo, kind: string, text: string, hash: (text: string) => string): string {
  const id = `${kind}\u0000${text}`;
  let hashed = memo.get(id);
  if (hashed === undefined) {
    hashed = hash(text);
    memo.set(id, hashed);
  }
  return hashed;
}

function keyMatcher(policy: PrivacyPolicy, opFor: (action: FieldAction) => Op): CompiledPolicy['keyOp'] {
  const rules = (policy.keys ?? []).map((rule, i) => {
    const names = rule.preset ? [...KEY_PRESETS[rule.preset]] : (rule.names ?? []);
    const exact = new Set(names.filter((n) => !n.includes('*')).map(normalizeKeyName));
    const globs = names.filter((n) => n.includes('*')).map((n) => new RegExp(`^${normalizeKeyName(n).split('*').map(escape).join('.*')}$`));
    return { label: `keys[${i}]`, op: opFor(rule.action), matches: (name: string) => exact.has(name) || globs.some((g) => g.test(name)) };
  });
  if (rules.length === 0) return undefined;
  // Key names repeat from event to event: each is normalised and matched once per instance.
  const cache = new Map<string, { label: string; op: Op } | null>();
  return (name) => {
    let found = cache.get(name);
    if (found === undefined) {
      const normal = normalizeKeyName(name);
      const rule = rules.find((r) => r.matches(normal));
      found = rule ? { label: rule.label, op: rule.op } : null;
      if (cache.size >= KEY_CACHE_ENTRIES) cache.clear();
      cache.set(name, found);
    }
    return found ?? undefined;
  };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function ipOp(action: Exclude<IpAction, 'keep'>, key: PrivacyKey | undefined): Op {
  if (action === 'drop') return () => DROP;
  if (action === 'hash') return valueOp('hash', key);
  return (v) => (typeof v === 'string' ? (truncateIp(v) ?? DROP) : DROP);
}

/** IPv4 to its /24, IPv6 to its /48 (an IPv4-mapped address as IPv4); `undefined` for text that is no address. */
export function truncateIp(ip: string): string | undefined {
  if (isIPv4(ip)) return `${ip.slice(0, ip.lastIndexOf('.'))}.0`;
  if (!isIPv6(ip)) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return `::ffff:${truncateIp(mapped[1]) ?? ''}`;
  const [head = '', tail = ''] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 3)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::`;
}

/** The URL or query string with the values of the named parameters replaced; the rest kept as sent. */
export function redactQuery(text: string, names: ReadonlySet<string>): string {
  const start = text.indexOf('?');
  if (start < 0 && text.includes('://')) return text;
  const hashAt = text.indexOf('#', start < 0 ? 0 : start);
  const end = hashAt < 0 ? text.length : hashAt;
  const from = start < 0 ? 0 : start + 1;
  if (!mayName(text.slice(from, end), names)) return text;
  // One pass over the parameters, `name[=value]` between `&`s: a named one becomes `name=redacted`.
  let out = '';
  let kept = -1;
  for (let at = from; at <= end; ) {
    let amp = text.indexOf('&', at);
    if (amp < 0 || amp > end) amp = end;
    let eq = at;
    while (eq < amp && text.charCodeAt(eq) !== EQUALS) eq++;
    const name = text.slice(at, eq);
    if (names.has(decodeName(name).toLowerCase())) {
      out += `${text.slice(kept < 0 ? 0 : kept, at)}${name}=redacted`;
      kept = amp;
    }
    at = amp + 1;
  }
  return kept < 0 ? text : out + text.slice(kept);
}

const EQUALS = 0x3d;

/**
 * Whether `query` may hold one of `names`: most URLs name none, and a look for each name in the
 * lower-cased text spares them the pass over their parameters. Text with `%` or `+` may encode a
 * name: it gets the pass.
 */
function mayName(query: string, names: ReadonlySet<string>): boolean {
  if (query.length === 0) return false;
  if (query.includes('%') || query.includes('+')) return true;
  const lower = query.toLowerCase();
  for (const name of names) if (lower.includes(name)) return true;
  return false;
}

function decodeName(name: string): string {
  // Most names are plain text: decoding them (and its try) is skipped, not their comparison.
  if (!name.includes('%') && !name.includes('+')) return name;
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

/**
 * Applies `policy` to a valid event (or an item being quarantined); counts what each rule changed in
 * `tally`; `memo` is the request's (lib/ingest/privacy.ts), so a value repeated in it is hashed once.
 * `ownsEvent`: the event's top level is the caller's own copy (normalize's), changed in place
 * rather than copied again; what it holds is still copied before a change.
 */
export function applyPolicy(
  policy: CompiledPolicy,
  event: Record<string, unknown>,
  tally: Tally,
  memo: Memo = new Map(),
  ownsEvent = false,
): Applied {
  let out = event;
  for (const step of policy.consent) {
    if (!denies(out, step.category)) continue;
    count(tally, step.label);
    if (!step.keep) return { withheld: step.category };
    out = strip(out, step.keep);
  }
  // Objects copied by this application: changed in place by the later rules, not copied again.
  const run: Run = { tally, memo, owned: new Set() };
  if (ownsEvent && out === event) run.owned.add(event);
  if (policy.ip) out = rewrite(out, IP_PATH, 0, policy.ip, run) as Record<string, unknown>;
  for (const step of policy.fields) out = rewrite(out, step.segments, 0, step, run) as Record<string, unknown>;
  if (policy.keyOp) out = rewriteKeys(out, policy.keyOp, run, 0) as Record<string, unknown>;
  return { event: out };
}

/** The top level's ids and structure are named by field rules only (privacy-policy.ts checks those). */
const TOP_LEVEL_KEPT: ReadonlySet<string> = new Set(ESSENTIAL_FIELDS);

interface Run {
  tally: Tally;
  memo: Memo;
  owned: Set<object>;
}

const IP_PATH = ['context', 'ip'];

/** `node` itself when this application already copied it, else its shallow copy (then owned). */
function writable(node: object, run: Run): Record<string, unknown> {
  if (run.owned.has(node)) return node as Record<string, unknown>;
  const copy = (Array.isArray(node) ? [...(node as unknown[])] : { ...node }) as Record<string, unknown>;
  run.owned.add(copy);
  return copy;
}

function count(tally: Tally, label: string): void {
  tally.set(label, (tally.get(label) ?? 0) + 1);
}

function denies(event: Record<string, unknown>, category: string): boolean {
  const consent = (event.context as { consent?: { categoryPreferences?: unknown } } | undefined)?.consent;
  const preferences = consent?.categoryPreferences;
  return typeof preferences === 'object' && preferences !== null && (preferences as Record<string, unknown>)[category] === false;
}

/** The event reduced to the fields it cannot be stored without, its consent, and what `keep` names. */
function strip(event: Record<string, unknown>, keep: string[][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of ESSENTIAL_FIELDS) if (event[field] !== undefined) out[field] = event[field];
  for (const path of [['context', 'consent'], ...keep]) copyPath(event, out, path, 0);
  return out;
}

function copyPath(from: unknown, to: Record<string, unknown>, path: string[], depth: number): void {
  if (!isContainer(from)) return;
  const segment = path[depth] as string;
  const keys = segment === '*' ? Object.keys(from) : Object.hasOwn(from, segment) ? [segment] : [];
  for (const key of keys) {
    const value = (from as Record<string, unknown>)[key];
    if (depth === path.length - 1 || !isContainer(value)) {
      if (depth === path.length - 1) setOwn(to, key, value);
      continue;
    }
    const existing = to[key];
    const child = isContainer(existing) && existing !== value ? (existing as Record<string, unknown>) : {};
    setOwn(to, key, child);
    copyPath(value, child, path, depth + 1);
  }
}

/** `node` with the step's op applied at `path` (from `depth`): the same object when nothing changed, else copies along the way. */
function rewrite(node: unknown, path: readonly string[], depth: number, step: { label: string; op: Op }, run: Run): unknown {
  if (!isContainer(node)) return node;
  const segment = path[depth] as string;
  const record = node as Record<string, unknown>;
  if (segment !== '*') return rewriteKey(record, segment, path, depth, step, run);
  let out: unknown = node;
  for (const key of Object.keys(record)) out = rewriteKey(out as Record<string, unknown>, key, path, depth, step, run);
  return Array.isArray(out) && out.includes(DROP) ? out.filter((v) => v !== DROP) : out;
}

function rewriteKey(
  record: Record<string, unknown>,
  key: string,
  path: readonly string[],
  depth: number,
  step: { label: string; op: Op },
  run: Run,
): unknown {
  if (!Object.hasOwn(record, key)) return record;
  const child = record[key];
  const last = depth === path.length - 1;
  const next = last ? step.op(child, run.memo) : rewrite(child, path, depth + 1, step, run);
  if (next === child) return record;
  if (last) count(run.tally, step.label);
  const copy = writable(record, run);
  if (next === DROP && !Array.isArray(copy)) delete copy[key];
  else setOwn(copy, key, next);
  return copy;
}

/**
 * Every key at every depth against the key matchers; copies only what changes. The hot walk of
 * policies with key rules (every key of every event): containers only are recursed into, arrays by
 * index (their elements have no key name to match).
 */
function rewriteKeys(node: object, keyOp: NonNullable<CompiledPolicy['keyOp']>, run: Run, depth: number): unknown {
  if (depth > MAX_KEY_DEPTH) return REDACTED;
  if (Array.isArray(node)) return rewriteElements(node as unknown[], keyOp, run, depth);
  const record = node as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(record)) {
    const child = record[key];
    const rule = depth === 0 && TOP_LEVEL_KEPT.has(key) ? undefined : keyOp(key);
    let next: unknown;
    if (rule) next = rule.op(child, run.memo);
    else if (typeof child === 'object' && child !== null) next = rewriteKeys(child, keyOp, run, depth + 1);
    else continue;
    if (next === child) continue;
    if (rule) count(run.tally, rule.label);
    copy ??= writable(node, run);
    if (next === DROP) delete copy[key];
    else setOwn(copy, key, next);
  }
  return copy ?? node;
}

function rewriteElements(array: unknown[], keyOp: NonNullable<CompiledPolicy['keyOp']>, run: Run, depth: number): unknown {
  let copy: unknown[] | undefined;
  for (let i = 0; i < array.length; i++) {
    const child = array[i];
    if (typeof child !== 'object' || child === null) continue;
    const next = rewriteKeys(child, keyOp, run, depth + 1);
    if (next === child) continue;
    copy ??= writable(array, run) as unknown as unknown[];
    copy[i] = next;
  }
  return copy ?? array;
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
