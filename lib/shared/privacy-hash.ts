/**
 * The hashes of privacy policies (docs/privacy.md). `hash` is an HMAC-SHA256 under the stage's
 * privacy key (PRIVACY_HASH_KEY, kept like the erasure hash key), written `hmac-v<version>:<hex>`:
 * the version says which key made it, so a key can rotate and the old hashes stay recognisable.
 * `sha256_for_ad_matching` is a plain SHA-256 of the trimmed, lower-cased text, the form ad
 * platforms match on, and guessable by anyone: it protects nothing.
 */
import { hash } from 'node:crypto';

export interface PrivacyKey {
  version: number;
  key: string;
}

/** The stage's privacy keys, current first; the older ones are kept only to find what they hashed. */
export interface PrivacyKeyRing {
  current: PrivacyKey;
  previous: PrivacyKey[];
}

const MIN_KEY_LENGTH = 16;

/**
 * Reads PRIVACY_HASH_KEY: `<key>` (version 1) or `<version>:<key>[,<version>:<key>...]`, the
 * current key first. Returns the problems instead when it cannot be used.
 */
export function parsePrivacyKeyRing(text: string): { ring: PrivacyKeyRing } | { problems: string[] } {
  const problems: string[] = [];
  const keys = text.split(',').map((part, index): PrivacyKey => {
    const match = /^(\d{1,6}):(.*)$/.exec(part.trim());
    const key = match ? (match[2] ?? '') : part.trim();
    const version = match ? Number(match[1]) : 1;
    if (!match && index > 0) problems.push(`PRIVACY_HASH_KEY entry ${index + 1} must be written <version>:<key>`);
    if (version < 1) problems.push(`PRIVACY_HASH_KEY entry ${index + 1} has version ${version}; versions start at 1`);
    if (key.length < MIN_KEY_LENGTH) problems.push(`PRIVACY_HASH_KEY entry ${index + 1} must be at least ${MIN_KEY_LENGTH} characters`);
    return { version, key };
  });
  const versions = new Set(keys.map((k) => k.version));
  if (versions.size !== keys.length) problems.push('PRIVACY_HASH_KEY names a version twice');
  const [current, ...previous] = keys;
  if (problems.length > 0 || !current) return { problems };
  return { ring: { current, previous } };
}

/** The text a value is hashed as: strings as they are, other JSON values as JSON. */
export function hashInput(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * HMAC-SHA256 (RFC 2104) as two one-shot SHA-256s over the key's inner and outer pads, computed once
 * per key: `createHmac` builds a stream object per call, and the one-shot form took about a quarter
 * less CPU for a short id (the bench's policy hashes one per event; tests/unit/shared/privacy-hash
 * checks it against createHmac). When the inner pad is ASCII (a key of ASCII characters, at most a
 * block long), the inner hash is of the pad's text and the text, which UTF-8 encodes to the same
 * bytes: no copy into a buffer (about a quarter less CPU again). Otherwise one buffer holds the pad
 * and the text, and the text's bytes are zeroed after each hash, so no raw value stays in it.
 */
interface Pads {
  inner: Buffer;
  outer: Buffer;
  /** The inner pad as text, when each of its bytes is ASCII (its UTF-8 encoding is then itself). */
  innerText: string | undefined;
}
const BLOCK = 64;
const DIGEST = 32;
const pads = new WeakMap<PrivacyKey, Pads>();

function padsOf(key: PrivacyKey): Pads {
  let found = pads.get(key);
  if (found === undefined) {
    const bytes = Buffer.from(key.key, 'utf8');
    const block = Buffer.alloc(BLOCK);
    (bytes.length > BLOCK ? hash('sha256', bytes, 'buffer') : bytes).copy(block);
    const inner = Buffer.alloc(BLOCK + 1024);
    const outer = Buffer.alloc(BLOCK + DIGEST);
    for (let i = 0; i < BLOCK; i++) {
      inner[i] = (block[i] as number) ^ 0x36;
      outer[i] = (block[i] as number) ^ 0x5c;
    }
    const ascii = inner.subarray(0, BLOCK).every((byte) => byte < 0x80);
    found = { inner, outer, innerText: ascii ? inner.toString('latin1', 0, BLOCK) : undefined };
    pads.set(key, found);
  }
  return found;
}

/** `hmac-v<version>:` and the hex HMAC-SHA256 of `text` under `key`. */
export function keyedHash(text: string, key: PrivacyKey): string {
  const own = padsOf(key);
  // The inner digest as 'binary' (latin1) text, one char per byte: a Buffer would be an ArrayBuffer per hash.
  if (own.innerText !== undefined) {
    own.outer.write(hash('sha256', own.innerText + text, 'binary'), BLOCK, 'binary');
    return `hmac-v${key.version}:${hash('sha256', own.outer, 'hex')}`;
  }
  if (BLOCK + text.length * 3 > own.inner.length) {
    const grown = Buffer.alloc(BLOCK + text.length * 3);
    own.inner.copy(grown, 0, 0, BLOCK);
    own.inner = grown;
  }
  const length = BLOCK + own.inner.write(text, BLOCK, 'utf8');
  own.outer.write(hash('sha256', own.inner.subarray(0, length), 'binary'), BLOCK, 'binary');
  own.inner.fill(0, BLOCK, length);
  return `hmac-v${key.version}:${hash('sha256', own.outer, 'hex')}`;
}

/** Hex SHA-256 of the trimmed, lower-cased text: what ad platforms match emails and ids on. */
export function adMatchingSha256(text: string): string {
  return hash('sha256', text.trim().toLowerCase(), 'hex');
}

/** Every form an id may be stored in under a policy that hashes it, the current key's first. */
export function keyedHashes(text: string, ring: PrivacyKeyRing): string[] {
  return [ring.current, ...ring.previous].map((key) => keyedHash(text, key));
}
