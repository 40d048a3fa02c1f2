/**
 * Who is sending: credentials from the request, checked against SHA-256 hashes of keys stored in
 * DynamoDB. Lookups are cached in memory so a warm function does not pay a read per request;
 * revoking a key or disabling a source takes effect within the cache lifetime.
 */
import { timingSafeEqual } from 'node:crypto';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ForbiddenError, UnauthorizedError } from './http-errors';
import { awsCall } from '../shared/aws-call';
import { LruCache } from '../shared/lru-cache';
import { hashKey, scopeOf, type KeyRecord, type KeyScope, type SourceRecord, type UNSCOPED } from '../tables/sources';

export interface Principal {
  sourceId: string;
  /** First characters of the key, safe to log and show. */
  keyPrefix: string;
  /** The key's scope; absent when no key was used (a webhook authenticated by its signature alone). */
  scope?: KeyScope | typeof UNSCOPED;
}

export type Credentials = { kind: 'key'; key: string } | { kind: 'none'; problem?: string };

/**
 * Reads a key from `Authorization: Basic base64(key:)` (the password is ignored) or
 * `Authorization: Bearer key`. Returns `none` with a problem when the header is malformed.
 */
export function credentialsFromHeader(authorization: string | undefined): Credentials {
  if (!authorization) return { kind: 'none' };
  const [scheme = '', value = ''] = authorization.trim().split(/\s+/, 2);
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const key = colon === -1 ? decoded : decoded.slice(0, colon);
    return key ? { kind: 'key', key } : { kind: 'none', problem: 'the Basic credentials have an empty username; put the API key there' };
  }
  if (/^bearer$/i.test(scheme)) {
    return value ? { kind: 'key', key: value } : { kind: 'none', problem: 'the Bearer token is empty' };
  }
  return { kind: 'none', problem: `unsupported Authorization scheme "${scheme}"; use Basic or Bearer` };
}

/** Compares two strings in time that does not depend on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export interface AuthDeps {
  documents: DynamoDBDocumentClient;
  tables: { keys: string; sources: string };
  cacheSeconds: number;
  /** The longest one key or source read may take, within the request's own deadline. */
  lookupTimeoutMs?: number;
  now?: () => number;
}

export interface Authenticator {
  /**
   * Resolves a key to its source; throws `UnauthorizedError` (unknown, revoked) or `ForbiddenError`
   * (disabled source), and a `DependencyError` or `DeadlineError` (a 503) when DynamoDB does not
   * answer by `deadline`.
   */
  authenticateKey(key: string, deadline?: number): Promise<Principal>;
  /** Reads a source (cached); `undefined` when it does not exist. Throws like `authenticateKey`. */
  getSource(sourceId: string, deadline?: number): Promise<SourceRecord | undefined>;
}

/** Unknown keys and sources are cached briefly, so one created a moment ago starts working quickly. */
const NEGATIVE_CACHE_MS = 5000;
/**
 * Cache sizes. Known keys and sources get room for every active one; unknown ones (anyone can
 * send random keys) have a small cache of their own, so a flood of them can never evict a valid
 * key, and each costs one read at most every five seconds.
 */
const KNOWN_ENTRIES = 10_000;
const UNKNOWN_ENTRIES = 1_000;

/** A cache of lookups by id: found records in one LRU, misses in another, smaller one. */
class LookupCache<T> {
  private readonly known: LruCache<T>;
  private readonly unknown: LruCache<true>;

  constructor(
    private readonly ttlMs: number,
    now: () => number,
  ) {
    this.known = new LruCache(KNOWN_ENTRIES, now);
    this.unknown = new LruCache(UNKNOWN_ENTRIES, now);
  }

  async get(id: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const hit = this.known.get(id);
    if (hit) return hit.value;
    if (this.unknown.get(id)) return undefined;
    const value = await load();
    if (value === undefined) this.unknown.set(id, true, Math.min(this.ttlMs, NEGATIVE_CACHE_MS));
    else this.known.set(id, value, this.ttlMs);
    return value;
  }
}

export function createAuthenticator(deps: AuthDeps): Authenticator {
  const now = deps.now ?? Date.now;
  const ttlMs = deps.cacheSeconds * 1000;
  const keys = new LookupCache<KeyRecord>(ttlMs, now);
  const sources = new LookupCache<SourceRecord>(ttlMs, now);

  /** One GetItem, ended by the lookup timeout or the request's deadline, whichever comes first. */
  async function read(
    table: string,
    key: Record<string, string>,
    deadline: number | undefined,
  ): Promise<Record<string, unknown> | undefined> {
    const timeout = Math.max(1, Math.min(deps.lookupTimeoutMs ?? 1000, (deadline ?? Infinity) - now()));
    const command = new GetCommand({ TableName: table, Key: key });
    const call = { service: 'DynamoDB' as const, timeoutMs: timeout, abortable: true };
    const { Item } = await awsCall(call, (abortSignal) => deps.documents.send(command, { abortSignal }));
    return Item;
  }

  const getSource = (sourceId: string, deadline?: number): Promise<SourceRecord | undefined> =>
    sources.get(sourceId, async () => (await read(deps.tables.sources, { sourceId }, deadline)) as SourceRecord | undefined);

  return {
    getSource,
    async authenticateKey(key, deadline) {
      const keyHash = hashKey(key);
      const record = await keys.get(keyHash, async () => (await read(deps.tables.keys, { keyHash }, deadline)) as KeyRecord | undefined);
      if (!record) throw new UnauthorizedError('unknown API key');
      if (record.revokedAt) throw new UnauthorizedError(`API key ${record.keyPrefix}… was revoked`);
      const source = await getSource(record.sourceId, deadline);
      if (!source) throw new UnauthorizedError('the source of this API key no longer exists');
      if (source.disabled) throw new ForbiddenError(`source "${source.sourceId}" is disabled`);
      return { sourceId: record.sourceId, keyPrefix: record.keyPrefix, scope: scopeOf(record) };
    },
  };
}
