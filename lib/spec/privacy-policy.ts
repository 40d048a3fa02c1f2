/**
 * A source's privacy policy: the file `segment-ingest sources privacy <id> --set` reads, checked
 * here (every problem named by the rule it is in), and the words of its actions. Applying it is
 * lib/ingest/privacy.ts; the keyed hash is privacy-hash.ts; docs/privacy.md is the manual.
 */

/** What happens to `context.ip` (filled from the request's source address when the sender sent none). */
export const IP_ACTIONS = ['keep', 'truncate', 'hash', 'drop'] as const;
/**
 * What a field rule or a key matcher does to a value. `sha256_for_ad_matching` is unkeyed (anyone
 * can hash a guess and compare), so it is named for the one use it is fit for: the normalised
 * SHA-256 that ad platforms match on.
 */
export const FIELD_ACTIONS = ['drop', 'redact', 'hash', 'sha256_for_ad_matching', 'redact_query'] as const;
export const CONSENT_ACTIONS = ['drop', 'strip'] as const;

export type IpAction = (typeof IP_ACTIONS)[number];
export type FieldAction = (typeof FIELD_ACTIONS)[number];
export type ConsentAction = (typeof CONSENT_ACTIONS)[number];

export interface FieldRule {
  /** Dot-separated, `*` for any one key (or array element) at that level: `properties.*.card`. */
  path: string;
  action: FieldAction;
  /** `redact_query` only: the query parameters whose values are replaced. */
  params?: string[];
}

export interface KeyRule {
  /** A preset list of names (`segment-red`), or `names`: patterns with `*`, matched against every key at every depth. */
  preset?: KeyPreset;
  names?: string[];
  action: Exclude<FieldAction, 'redact_query'>;
}

export interface ConsentRule {
  /** The category as `context.consent.categoryPreferences` names it; denied when its value is `false`. */
  category: string;
  action: ConsentAction;
  /** `strip` only: the paths the category still allows, besides the fields an event cannot be stored without. */
  keep?: string[];
}

export interface PrivacyPolicy {
  ip?: IpAction;
  fields?: FieldRule[];
  keys?: KeyRule[];
  consent?: ConsentRule[];
}

/**
 * Key names Segment's Privacy Portal recommends classifying Red (blocked at the source): passwords,
 * social security and passport numbers, card numbers and codes, bank accounts, credentials. Matched
 * after `normalizeKeyName`, so `creditCardNumber`, `credit_card_number` and `Credit-Card-Number` are one.
 */
export const KEY_PRESETS = {
  'segment-red': [
    'password',
    'passwd',
    'pwd',
    'ssn',
    'socialsecuritynumber',
    'passportnumber',
    'driverslicense',
    'driverslicensenumber',
    'creditcard',
    'creditcardnumber',
    'cardnumber',
    'ccnumber',
    'cvv',
    'cvc',
    'cardcvv',
    'cardexpiry',
    'cardexpirationdate',
    'bankaccountnumber',
    'iban',
    'routingnumber',
    'token',
    'accesstoken',
    'refreshtoken',
    'authtoken',
    'apikey',
    'secret',
    'clientsecret',
  ],
} as const;
export type KeyPreset = keyof typeof KEY_PRESETS;

/**
 * Top-level fields the store is built on (keys, sort keys, event keys): field rules may not touch
 * them, and key matchers leave them alone at the top level.
 */
const STRUCTURE = ['type', 'messageId', 'timestamp', 'originalTimestamp', 'rawTimestamp', 'sentAt', 'event', 'name'] as const;
/** Ids: hashing keeps them usable as keys; redacting would make every user one. */
const IDS = ['userId', 'anonymousId', 'groupId', 'previousId'] as const;
export const STRUCTURAL_FIELDS: ReadonlySet<string> = new Set(STRUCTURE);
const ID_FIELDS: ReadonlySet<string> = new Set(IDS);
/** Fields a stripped event keeps whatever its consent, and key matchers leave alone at the top: without them it cannot be stored or found. */
export const ESSENTIAL_FIELDS = [...STRUCTURE, ...IDS] as const;

const MAX_RULES = 200;
const MAX_POLICY_BYTES = 64 * 1024;
/** What `redact` writes in place of a value. */
export const REDACTED = '[redacted]';

/** Lower case without `_`, `-`, spaces and dots: how key matchers compare names. */
export function normalizeKeyName(name: string): string {
  return name.toLowerCase().replace(/[_\-\s.]/g, '');
}

/** The path's segments; `undefined` for a path that cannot name a field. */
export function splitPath(path: string): string[] | undefined {
  const segments = path.split('.');
  return segments.every((s) => s.length > 0) ? segments : undefined;
}

/** Reads a policy file's value; every problem names the rule it is in (`fields[2].action`). */
export function readPrivacyPolicy(value: unknown): { policy: PrivacyPolicy } | { problems: string[] } {
  if (!isRecord(value)) return { problems: ['the policy must be a JSON object with "ip", "fields", "keys" and/or "consent"'] };
  const problems: string[] = [];
  for (const key of Object.keys(value))
    if (!['ip', 'fields', 'keys', 'consent'].includes(key))
      problems.push(`unknown field "${key}": a policy has "ip", "fields", "keys" and "consent"`);
  if (value.ip !== undefined && !oneOf(IP_ACTIONS, value.ip))
    problems.push(`"ip" must be one of ${IP_ACTIONS.join(', ')}, got ${show(value.ip)}`);
  const rules = ['fields', 'keys', 'consent'] as const;
  const count = rules.reduce((sum, name) => sum + (Array.isArray(value[name]) ? (value[name] as unknown[]).length : 0), 0);
  if (count > MAX_RULES) problems.push(`the policy has ${count} rules; at most ${MAX_RULES}`);
  problems.push(...listProblems(value.fields, 'fields', fieldRuleProblems));
  problems.push(...listProblems(value.keys, 'keys', keyRuleProblems));
  problems.push(...listProblems(value.consent, 'consent', consentRuleProblems));
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > MAX_POLICY_BYTES) problems.push(`the policy is ${bytes} bytes as compact JSON; at most ${MAX_POLICY_BYTES}`);
  return problems.length > 0 ? { problems } : { policy: value as PrivacyPolicy };
}

function listProblems(list: unknown, name: string, check: (rule: Record<string, unknown>, where: string) => string[]): string[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) return [`"${name}" must be a list of rules`];
  return list.flatMap((rule, index) => {
    const where = `${name}[${index}]`;
    return isRecord(rule) ? check(rule, where) : [`${where} must be an object`];
  });
}

function fieldRuleProblems(rule: Record<string, unknown>, where: string): string[] {
  const problems = unknownKeys(rule, where, ['path', 'action', 'params']);
  problems.push(...pathProblems(rule.path, `${where}.path`));
  problems.push(...structuralProblems(rule.path, rule.action, where));
  if (!oneOf(FIELD_ACTIONS, rule.action)) problems.push(actionProblem(rule.action, `${where}.action`, FIELD_ACTIONS));
  if (rule.action === 'redact_query') {
    if (!Array.isArray(rule.params) || rule.params.length === 0 || !rule.params.every((p) => typeof p === 'string' && p.length > 0))
      problems.push(`${where}.params must list the query parameters to redact (non-empty names), as "redact_query" needs them`);
  } else if (rule.params !== undefined) problems.push(`${where}.params is only for "redact_query"`);
  return problems;
}

function structuralProblems(path: unknown, action: unknown, where: string): string[] {
  if (typeof path !== 'string') return [];
  if (STRUCTURAL_FIELDS.has(path)) return [`${where}.path "${path}" is a field events are stored and found by; no rule may change it`];
  if (!ID_FIELDS.has(path)) return [];
  if (action === 'redact') return [`${where} would redact "${path}", making every one the same; hash it instead`];
  if (action === 'drop' && (path === 'groupId' || path === 'previousId'))
    return [`${where} would drop "${path}", which its event type cannot be stored without; hash it instead`];
  return [];
}

function keyRuleProblems(rule: Record<string, unknown>, where: string): string[] {
  const problems = unknownKeys(rule, where, ['preset', 'names', 'action']);
  const presets = Object.keys(KEY_PRESETS);
  if ((rule.preset === undefined) === (rule.names === undefined)) problems.push(`${where} must have either "preset" or "names"`);
  if (rule.preset !== undefined && !presets.includes(rule.preset as string))
    problems.push(`${where}.preset must be one of ${presets.join(', ')}, got ${show(rule.preset)}`);
  if (rule.names !== undefined && (!Array.isArray(rule.names) || rule.names.length === 0 || !rule.names.every(isPattern)))
    problems.push(`${where}.names must list key name patterns (letters, digits, "_", "-" and "*")`);
  const actions = FIELD_ACTIONS.filter((a) => a !== 'redact_query');
  if (!oneOf(actions, rule.action)) problems.push(actionProblem(rule.action, `${where}.action`, actions));
  return problems;
}

function consentRuleProblems(rule: Record<string, unknown>, where: string): string[] {
  const problems = unknownKeys(rule, where, ['category', 'action', 'keep']);
  if (typeof rule.category !== 'string' || rule.category.length === 0) problems.push(`${where}.category must name a consent category`);
  if (!oneOf(CONSENT_ACTIONS, rule.action)) problems.push(actionProblem(rule.action, `${where}.action`, CONSENT_ACTIONS));
  if (rule.keep !== undefined) {
    if (rule.action !== 'strip') problems.push(`${where}.keep is only for "strip"`);
    else if (!Array.isArray(rule.keep)) problems.push(`${where}.keep must be a list of paths`);
    else rule.keep.forEach((path, i) => problems.push(...pathProblems(path, `${where}.keep[${i}]`)));
  }
  return problems;
}

function pathProblems(path: unknown, where: string): string[] {
  if (typeof path !== 'string' || splitPath(path) === undefined)
    return [`${where} must be a dot-separated field path such as "traits.email" or "properties.*.card", got ${show(path)}`];
  return [];
}

function actionProblem(action: unknown, where: string, allowed: readonly string[]): string {
  const hint =
    action === 'sha256' ? ' ("sha256" is unkeyed: use "hash", or "sha256_for_ad_matching" for values meant for ad-platform matching)' : '';
  return `${where} must be one of ${allowed.join(', ')}, got ${show(action)}${hint}`;
}

function unknownKeys(rule: Record<string, unknown>, where: string, known: readonly string[]): string[] {
  return Object.keys(rule)
    .filter((key) => !known.includes(key))
    .map((key) => `${where} has an unknown field "${key}" (it takes ${known.map((k) => `"${k}"`).join(', ')})`);
}

function isPattern(value: unknown): boolean {
  return typeof value === 'string' && /^[A-Za-z0-9_\-*]+$/.test(value) && value.replace(/\*/g, '').length > 0;
}

function oneOf<T extends string>(allowed: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (allowed as readonly string[]).includes(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}
