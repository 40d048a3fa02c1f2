/**
 * Who is sending: credentials from the request, checked against SHA-256 hashes of keys stored in
 * DynamoDB. Lookups are cached in memory so a warm function does not pay a read per request;
 * revoking a key or disabling a source takes effect within the cache lifetime.
 */
import { timingSafeEqual } from 'node:crypto';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ForbiddenError, UnauthorizedError } from './http-errors';
import { hashKey, type KeyRecord, type SourceRecord } from '../shared/source-records';

export interface Principal {
  sourceId: string;
  /** First characters of the key, safe to log and show. */
  keyPrefix: string;
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
  now?: () => number;
}

export interface Authenticator {
  /** Resolves a key to its source; throws `UnauthorizedError` (unknown, revoked) or `ForbiddenError` (disabled source). */
  authenticateKey(key: string): Promise<Principal>;
  /** Reads a source (cached); `undefined` when it does not exist. */
  getSource(sourceId: string): Promise<SourceRecord | undefined>;
}

/** Unknown keys are cached briefly, so a key created a moment ago starts working quickly. */
const NEGATIVE_CACHE_MS = 5000;

export function createAuthenticator(deps: AuthDeps): Authenticator {
  const now = deps.now ?? Date.now;
  const ttlMs = deps.cacheSeconds * 1000;
  const keys = new Map<string, { value: KeyRecord | undefined; expires: number }>();
  const sources = new Map<string, { value: SourceRecord | undefined; expires: number }>();

  async function cached<T>(
    cache: Map<string, { value: T | undefined; expires: number }>,
    id: string,
    load: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const hit = cache.get(id);
    if (hit && hit.expires > now()) return hit.value;
    const value = await load();
    if (cache.size > 10_000) cache.clear();
    cache.set(id, { value, expires: now() + (value === undefined ? Math.min(ttlMs, NEGATIVE_CACHE_MS) : ttlMs) });
    return value;
  }

  const getSource = (sourceId: string): Promise<SourceRecord | undefined> =>
    cached(sources, sourceId, async () => {
      const { Item } = await deps.documents.send(new GetCommand({ TableName: deps.tables.sources, Key: { sourceId } }));
      return Item as SourceRecord | undefined;
    });

  return {
    getSource,
    async authenticateKey(key) {
      const keyHash = hashKey(key);
      const record = await cached(keys, keyHash, async () => {
        const { Item } = await deps.documents.send(new GetCommand({ TableName: deps.tables.keys, Key: { keyHash } }));
        return Item as KeyRecord | undefined;
      });
      if (!record) throw new UnauthorizedError('unknown API key');
      if (record.revokedAt) throw new UnauthorizedError(`API key ${record.keyPrefix}… was revoked`);
      const source = await getSource(record.sourceId);
      if (!source) throw new UnauthorizedError('the source of this API key no longer exists');
      if (source.disabled) throw new ForbiddenError(`source "${source.sourceId}" is disabled`);
      return { sourceId: record.sourceId, keyPrefix: record.keyPrefix };
    },
  };
}
