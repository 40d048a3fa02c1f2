/**
 * A privacy policy compiled once per version (lib/ingest/privacy.ts caches it; lib/admin compiles it to check it), and applied to one
 * event: consent, then `context.ip`, then the field rules, then the key matchers. Nothing is
 * changed in place: an object on the way to a changed value is copied (a batch's events share
 * their `context` objects, and the item as sent is the quarantine's if the event is refused).
 * Hashing is idempotent (a value already in the hash's form is left alone), so an event replayed
 * from storage keeps its hashes.
 */
import { isIPv6 } from 'node:net';
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
 * Hashes already made in one request, by input: a batch repeats its user's id and email in every
 * event, and each HMAC costs microseconds. One map for both kinds, told apart by the hash's form (a
 * keyed hash starts `hmac-v`, an ad-matching one is hex), so no key is built per lookup. Kept per
 * request only (no raw value outlives the request that carried it).
 */
export type Memo = Map<string, string>;
export const DROP: unique symbol = Symbol('drop');

interface FieldStep {
  label: string;
  segments: string[];
  /** The path's first segment when it names a key (not `*`): the step is skipped when the event lacks it. */
  head: string | undefined;
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
  /** `keyOp` for the event's top level, where the structure and ids are kept (`TOP_LEVEL_KEPT`): one lookup per key. */
  topKeyOp: CompiledPolicy['keyOp'];
  /** `ip` and `fields` as one walk, when no two of their paths can reach the same value (`planSteps`). */
  plan: Plan | undefined;
}

/**
 * The `ip` and field rules as one tree of paths, walked once per event: each object on the way to
 * several rules' values is looked up once, where rule by rule it is looked up once per rule.
 * Only built when no rule's path can name a value at or below another's (`context.ip` and
 * `context.page.url` share the walk; `properties.*` and `properties.items.x` do not, the first names
 * the second's parent): then no rule sees what another changed, the rules commute, and the walk's
 * result is the rules' in order. What each
 * rule changed is counted per event and added to the tally in the rules' order, as they would be.
 */
interface Plan {
  root: PlanNode;
  labels: string[];
  /** Per rule, the changes in the event being walked (applyPolicy is synchronous: one per policy suffices). */
  counts: number[];
}
interface PlanNode {
  /** The rule whose value this is (a leaf) … */
  leaf: { index: number; op: Op } | undefined;
  /** … or the keys below it on the way to rules' values: named ones (`names[i]` to `children[i]`), or every key (`*`), never both. */
  names: string[];
  children: PlanNode[];
  star: PlanNode | undefined;
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
  const compiled: CompiledPolicy = {
    consent: (policy.consent ?? []).map((rule, i) => ({
      label: `consent[${i}]`,
      category: rule.category,
      keep: rule.action === 'drop' ? undefined : (rule.keep ?? []).map((p) => splitPath(p) ?? []),
    })),
    ip: policy.ip === undefined || policy.ip === 'keep' ? undefined : { label: 'ip', op: ipOp(policy.ip, key) },
    fields: (policy.fields ?? []).map((rule, i) => {
      const segments = splitPath(rule.path) ?? [];
      return { label: `fields[${i}]`, segments, head: segments[0] === '*' ? undefined : segments[0], op: opFor(rule.action, rule.params) };
    }),
    ...keyMatcher(policy, opFor),
    plan: undefined,
  };
  const steps = [...(compiled.ip ? [{ ...compiled.ip, segments: IP_PATH }] : []), ...compiled.fields];
  compiled.plan = planSteps(steps);
  return compiled;
}

/** The steps as a `Plan`; `undefined` when two of them may reach the same value, or a level mixes `*` and names. */
function planSteps(steps: ReadonlyArray<{ label: string; segments: readonly string[]; op: Op }>): Plan | undefined {
  if (steps.length === 0) return undefined;
  const overlap = (a: readonly string[], b: readonly string[]) =>
    a.slice(0, Math.min(a.length, b.length)).every((segment, i) => segment === '*' || b[i] === '*' || segment === b[i]);
  for (let i = 0; i < steps.length; i++)
    for (let j = i + 1; j < steps.length; j++) if (overlap(steps[i]?.segments ?? [], steps[j]?.segments ?? [])) return undefined;
  const root: PlanNode = { leaf: undefined, names: [], children: [], star: undefined };
  for (const [index, step] of steps.entries()) {
    let node = root;
    for (const segment of step.segments) {
      let child = segment === '*' ? node.star : node.children[node.names.indexOf(segment)];
      if (!child) {
        child = { leaf: undefined, names: [], children: [], star: undefined };
        if (segment === '*') node.star = child;
        else {
          node.names.push(segment);
          node.children.push(child);
        }
      }
      if (node.star && node.names.length > 0) return undefined;
      node = child;
    }
    node.leaf = { index, op: step.op };
  }
  return { root, labels: steps.map((step) => step.label), counts: steps.map(() => 0) };
}

function valueOp(action: FieldAction, key: PrivacyKey | undefined, params?: string[]): Op {
  switch (action) {
    case 'drop':
      return () => DROP;
    case 'redact':
      return (v) => (v === null ? v : REDACTED);
    case 'hash':
      return (v, memo) => {
        if (v === null || (typeof v === 'string' && HASHED.test(v))) return v;
        const text = hashInput(v);
        let hashed = memo.get(text);
        if (hashed === undefined || hashed.charCodeAt(0) !== H) memo.set(text, (hashed = keyedHash(text, key as PrivacyKey)));
        return hashed;
      };
    case 'sha256_for_ad_matching':
      return (v, memo) => {
        if (v === null || (typeof v === 'string' && SHA256_HEX.test(v))) return v;
        const text = hashInput(v);
        let hashed = memo.get(text);
        if (hashed === undefined || hashed.charCodeAt(0) === H) memo.set(text, (hashed = adMatchingSha256(text)));
        return hashed;
      };
    case 'redact_query': {
      const names = new Set((params ?? []).map((p) => p.toLowerCase()));
      return (v) => (typeof v === 'string' ? redactQuery(v, names) : v);
    }
  }
}

/** `h`, the first character of a keyed hash (`hmac-v1:…`) and never of a hex one. */
const H = 0x68;

function keyMatcher(policy: PrivacyPolicy, opFor: (action: FieldAction) => Op): Pick<CompiledPolicy, 'keyOp' | 'topKeyOp'> {
  const rules = (policy.keys ?? []).map((rule, i) => {
    const names = rule.preset ? [...KEY_PRESETS[rule.preset]] : (rule.names ?? []);
    const exact = new Set(names.filter((n) => !n.includes('*')).map(normalizeKeyName));
    const globs = names.filter((n) => n.includes('*')).map((n) => new RegExp(`^${normalizeKeyName(n).split('*').map(escape).join('.*')}$`));
    return { label: `keys[${i}]`, op: opFor(rule.action), matches: (name: string) => exact.has(name) || globs.some((g) => g.test(name)) };
  });
  if (rules.length === 0) return { keyOp: undefined, topKeyOp: undefined };
  // Key names repeat from event to event: each is normalised and matched once per instance.
  const matcher = (kept: ReadonlySet<string> | undefined) => {
    const cache = new Map<string, { label: string; op: Op } | null>();
    return (name: string) => {
      let found = cache.get(name);
      if (found === undefined) {
        const normal = normalizeKeyName(name);
        const rule = kept?.has(name) ? undefined : rules.find((r) => r.matches(normal));
        found = rule ? { label: rule.label, op: rule.op } : null;
        if (cache.size >= KEY_CACHE_ENTRIES) cache.clear();
        cache.set(name, found);
      }
      return found ?? undefined;
    };
  };
  return { keyOp: matcher(undefined), topKeyOp: matcher(TOP_LEVEL_KEPT) };
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
  if (isDottedQuad(ip)) return `${ip.slice(0, ip.lastIndexOf('.'))}.0`;
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

/**
 * node:net's `isIPv4` (four decimal octets, 0 to 255, no leading zeros) without its regular
 * expression: every event's `context.ip` is checked (tests/unit/spec/privacy-rules.test.ts compares the two).
 */
export function isDottedQuad(ip: string): boolean {
  const n = ip.length;
  if (n < 7 || n > 15) return false;
  for (let i = 0, octets = 0; ; i++) {
    const start = i;
    let value = 0;
    for (let digit = ip.charCodeAt(i) - 48; digit >= 0 && digit <= 9 && i < n; digit = ip.charCodeAt(++i) - 48) value = value * 10 + digit;
    const length = i - start;
    if (length === 0 || length > 3 || value > 255 || (length > 1 && ip.charCodeAt(start) === 48)) return false;
    if (++octets === 4) return i === n;
    if (ip.charCodeAt(i) !== 46) return false;
  }
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
  const run: Run = { tally, memo, owned: ownsEvent && out === event ? [event] : [] };
  if (policy.plan) out = applyPlan(policy.plan, out, run);
  else {
    if (policy.ip && Object.hasOwn(out, 'context')) out = rewrite(out, IP_PATH, 0, policy.ip, run) as Record<string, unknown>;
    for (const step of policy.fields)
      if (step.head === undefined || Object.hasOwn(out, step.head))
        out = rewrite(out, step.segments, 0, step, run) as Record<string, unknown>;
  }
  if (policy.keyOp && policy.topKeyOp) out = rewriteTop(out, policy.topKeyOp, policy.keyOp, run);
  return { event: out };
}

/** The top level's ids and structure are named by field rules only (privacy-policy.ts checks those). */
const TOP_LEVEL_KEPT: ReadonlySet<string> = new Set(ESSENTIAL_FIELDS);

interface Run {
  tally: Tally;
  memo: Memo;
  /** The objects this application copied (a few per event: a list is cheaper than a set). */
  owned: object[];
}

const IP_PATH = ['context', 'ip'];

function applyPlan(plan: Plan, event: Record<string, unknown>, run: Run): Record<string, unknown> {
  const { counts, labels } = plan;
  try {
    return walkPlan(event, plan.root, counts, run) as Record<string, unknown>;
  } finally {
    // Added to the tally and zeroed for the next event, also when a rule threw.
    for (let i = 0; i < counts.length; i++) {
      const n = counts[i] as number;
      if (n === 0) continue;
      counts[i] = 0;
      run.tally.set(labels[i] as string, (run.tally.get(labels[i] as string) ?? 0) + n);
    }
  }
}

/** `rewrite` for every rule of the plan below `node` at once. */
function walkPlan(node: object, plan: PlanNode, counts: number[], run: Run): unknown {
  let out = node as Record<string, unknown>;
  if (plan.star) {
    for (const key of Object.keys(node)) out = walkPlanKey(out, key, plan.star, counts, run);
    return Array.isArray(out) && out.includes(DROP) ? out.filter((v) => v !== DROP) : out;
  }
  const { names, children } = plan;
  for (let i = 0; i < names.length; i++) out = walkPlanKey(out, names[i] as string, children[i] as PlanNode, counts, run);
  return out;
}

/** `rewriteKey` for the plan's rules below `record[key]`. */
function walkPlanKey(record: Record<string, unknown>, key: string, plan: PlanNode, counts: number[], run: Run): Record<string, unknown> {
  if (!Object.hasOwn(record, key)) return record;
  const child = record[key];
  let next: unknown;
  if (plan.leaf) {
    next = plan.leaf.op(child, run.memo);
    if (next === child) return record;
    counts[plan.leaf.index] = (counts[plan.leaf.index] as number) + 1;
  } else {
    if (!isContainer(child)) return record;
    next = walkPlan(child, plan, counts, run);
    if (next === child) return record;
  }
  const copy = writable(record, run);
  if (next === DROP && !Array.isArray(copy)) delete copy[key];
  else setOwn(copy, key, next);
  return copy;
}

/** `node` itself when this application already copied it, else its shallow copy (then owned). */
function writable(node: object, run: Run): Record<string, unknown> {
  if (run.owned.includes(node)) return node as Record<string, unknown>;
  const copy = (Array.isArray(node) ? [...(node as unknown[])] : { ...node }) as Record<string, unknown>;
  run.owned.push(copy);
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
function rewriteTop(event: Record<string, unknown>, topKeyOp: KeyOp, keyOp: KeyOp, run: Run): Record<string, unknown> {
  return rewriteRecord(event, topKeyOp, keyOp, run, 0);
}

type KeyOp = NonNullable<CompiledPolicy['keyOp']>;

/** `rewriteTop` below the top level, where every key name is matched. */
function rewriteKeys(node: object, keyOp: KeyOp, run: Run, depth: number): unknown {
  if (depth > MAX_KEY_DEPTH) return REDACTED;
  if (Array.isArray(node)) return rewriteElements(node as unknown[], keyOp, run, depth);
  return rewriteRecord(node as Record<string, unknown>, keyOp, keyOp, run, depth);
}

/** One object's keys against `levelOp` (the top level's own matcher, or `keyOp` below it); containers recursed into with `keyOp`. */
function rewriteRecord<T extends Record<string, unknown>>(record: T, levelOp: KeyOp, keyOp: KeyOp, run: Run, depth: number): T {
  let copy: Record<string, unknown> | undefined;
  // for…in, not Object.keys: no array per object (a JSON value's objects inherit no enumerable key).
  for (const key in record) {
    const child = record[key];
    const rule = levelOp(key);
    let next: unknown;
    if (rule) next = rule.op(child, run.memo);
    else if (typeof child === 'object' && child !== null) next = rewriteKeys(child, keyOp, run, depth + 1);
    else continue;
    if (next === child) continue;
    if (rule) count(run.tally, rule.label);
    copy ??= writable(record, run);
    if (next === DROP) delete copy[key];
    else setOwn(copy, key, next);
  }
  return (copy ?? record) as T;
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
