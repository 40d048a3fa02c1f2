/**
 * The authenticator's cache and verdicts, over the real document client and a DynamoDB in process
 * (tests/support/fake-dynamodb.ts): hits and misses, the short negative cache for unknown keys,
 * expiry, revoked keys and disabled sources. tests/integration/auth.test.ts covers the same
 * against DynamoDB Local through the HTTP routes.
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import { constantTimeEqual, createAuthenticator, credentialsFromHeader } from '../../../lib/ingest/auth';
import { ForbiddenError, UnauthorizedError } from '../../../lib/ingest/http-errors';
import { hashKey, type KeyRecord, type SourceRecord } from '../../../lib/tables/sources';
import { fakeDynamoDb } from '../../support/fake-dynamodb';

const tables = { keys: 'keys-table', sources: 'sources-table' };
const KEY = 'sk_live_abcdefghijklmnop';

/** The keys and sources tables, as plain items a test may change between calls. */
function fakeTables() {
  const keys = new Map<string, KeyRecord>();
  const sources = new Map<string, SourceRecord>();
  const fake = fakeDynamoDb((request) => {
    if (request.operation !== 'GetItem') return undefined;
    const key = request.body.Key as Record<string, { S: string }>;
    const item = request.body.TableName === tables.keys ? keys.get(key.keyHash?.S ?? '') : sources.get(key.sourceId?.S ?? '');
    return { body: item ? { Item: marshall(item, { removeUndefinedValues: true }) } : {} };
  });
  const reads = (table: string) => fake.requests.filter((r) => r.body.TableName === table).length;
  return { ...fake, keys, sources, reads };
}

function withKey(db: ReturnType<typeof fakeTables>, key = KEY, record: Partial<KeyRecord> = {}, source: Partial<SourceRecord> = {}) {
  db.keys.set(hashKey(key), {
    keyHash: hashKey(key),
    sourceId: 'src-1',
    keyPrefix: key.slice(0, 7),
    createdAt: '2026-01-01T00:00:00.000Z',
    ...record,
  });
  db.sources.set('src-1', { sourceId: 'src-1', ...source });
}

async function refusalOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('createAuthenticator', () => {
  it("resolves a key to its source, looking it up by the key's SHA-256 and never sending the key", async () => {
    // Prepare
    const db = fakeTables();
    withKey(db);
    const auth = createAuthenticator({ documents: db.documents, tables, cacheSeconds: 60, now: () => 0 });

    // Act
    const principal = await auth.authenticateKey(KEY);

    // Assess
    // The fake's key record has no scope: a key made before scopes, named unscoped.
    expect(principal).toEqual({ sourceId: 'src-1', keyPrefix: 'sk_live', scope: 'unscoped' });
    expect(db.requests.map((r) => r.body.Key)).toEqual([{ keyHash: { S: hashKey(KEY) } }, { sourceId: { S: 'src-1' } }]);
    expect(db.requests.some((r) => r.text.includes(KEY))).toBe(false);
  });

  it('answers from its cache within the lifetime, and reads again once it has passed', async () => {
    const db = fakeTables();
    withKey(db);
    let time = 0;
    const auth = createAuthenticator({ documents: db.documents, tables, cacheSeconds: 60, now: () => time });

    await auth.authenticateKey(KEY);
    time = 59_999;
    await auth.authenticateKey(KEY);
    const readsWithinLifetime = db.requests.length;
    time = 60_000;
    await auth.authenticateKey(KEY);

    expect(readsWithinLifetime).toBe(2);
    expect(db.reads(tables.keys)).toBe(2);
    expect(db.reads(tables.sources)).toBe(2);
  });

  it('reads on every request when the lifetime is 0', async () => {
    const db = fakeTables();
    withKey(db);
    const auth = createAuthenticator({ documents: db.documents, tables, cacheSeconds: 0, now: () => 0 });

    for (let i = 0; i < 3; i++) await auth.authenticateKey(KEY);

    expect(db.reads(tables.keys)).toBe(3);
  });

  it('refuses an unknown key and remembers that for 5 s only, so a key created meanwhile soon works', async () => {
    const db = fakeTables();
    let time = 0;
    const auth = createAuthenticator({ documents: db.documents, tables, cacheSeconds: 60, now: () => time });

    const unknown = await refusalOf(auth.authenticateKey(KEY));
    withKey(db);
    time = 4_999;
    const stillUnknown = await refusalOf(auth.authenticateKey(KEY));
    const readsWhileCached = db.reads(tables.keys);
    time = 5_000;
    const principal = await auth.authenticateKey(KEY);

    expect(unknown).toBeInstanceOf(UnauthorizedError);
    expect((unknown as UnauthorizedError).message).toBe('unknown API key');
    expect(stillUnknown).toBeInstanceOf(UnauthorizedError);
    expect(readsWhileCached).toBe(1);
    expect(principal.sourceId).toBe('src-1');
    expect(db.reads(tables.keys)).toBe(2);
  });

  it('keeps the negative cache no longer than the lifetime when that is shorter', async () => {
    const db = fakeTables();
    let time = 0;
    const auth = createAuthenticator({ documents: db.documents, tables, cacheSeconds: 2, now: () => time });

    await refusalOf(auth.authenticateKey(KEY));
    time = 2_000;
    await refusalOf(auth.authenticateKey(KEY));

    expect(db.reads(tables.keys)).toBe(2);
  });

  it('refuses a revoked key with 401, naming its prefix, once its cached entry has expired', async () => {
    const db = fakeTables();
    withKey(db);
    let time = 0;
    const auth = createAuthenticator({ documents: db.documents, tables, cacheSeconds: 60, now: () => time });
    await auth.authenticateKey(KEY);

    db.keys.set(hashKey(KEY), { ...db.keys.get(hashKey(KEY))!, revokedAt: '2026-01-02T00:00:00.000Z' });
    const beforeExpiry = await auth.authenticateKey(KEY);
    time = 60_000;
    const refused = await refusalOf(auth.authenticateKey(KEY));

    expect(beforeExpiry.sourceId).toBe('src-1');
    expect(refused).toBeInstanceOf(UnauthorizedError);
    expect((refused as UnauthorizedError).status).toBe(401);
    expect((refused as UnauthorizedError).message).toBe('API key sk_live… was revoked');
  });

  it('refuses a key of a disabled source with 403', async () => {
    const db = fakeTables();
    withKey(db, KEY, {}, { disabled: true });
    const auth = createAuthenticator({ documents: db.documents, tables, cacheSeconds: 60, now: () => 0 });

    const refused = await refusalOf(auth.authenticateKey(KEY));

    expect(refused).toBeInstanceOf(ForbiddenError);
    expect((refused as ForbiddenError).message).toBe('source "src-1" is disabled');
  });

  it('refuses a key whose source no longer exists with 401', async () => {
    const db = fakeTables();
    withKey(db);
    db.sources.clear();
    const auth = createAuthenticator({ documents: db.documents, tables, cacheSeconds: 60, now: () => 0 });

    const refused = await refusalOf(auth.authenticateKey(KEY));

    expect(refused).toBeInstanceOf(UnauthorizedError);
    expect((refused as UnauthorizedError).message).toBe('the source of this API key no longer exists');
  });

  it('caches sources for getSource too, an unknown one briefly', async () => {
    const db = fakeTables();
    db.sources.set('src-1', { sourceId: 'src-1', name: 'One' });
    let time = 0;
    const auth = createAuthenticator({ documents: db.documents, tables, cacheSeconds: 60, now: () => time });

    const first = await auth.getSource('src-1');
    const missing = await auth.getSource('src-2');
    db.sources.set('src-2', { sourceId: 'src-2' });
    time = 1_000;
    await auth.getSource('src-1');
    const stillMissing = await auth.getSource('src-2');
    time = 5_000;
    const found = await auth.getSource('src-2');

    expect(first).toEqual({ sourceId: 'src-1', name: 'One' });
    expect(missing).toBeUndefined();
    expect(stillMissing).toBeUndefined();
    expect(found).toEqual({ sourceId: 'src-2' });
    expect(db.reads(tables.sources)).toBe(3);
  });
});

describe('credentialsFromHeader', () => {
  const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;

  it('reads the key from the Basic username, ignoring the password, with or without the colon', () => {
    expect(credentialsFromHeader(basic('key-1:'))).toEqual({ kind: 'key', key: 'key-1' });
    expect(credentialsFromHeader(basic('key-1:ignored'))).toEqual({ kind: 'key', key: 'key-1' });
    expect(credentialsFromHeader(basic('key-1'))).toEqual({ kind: 'key', key: 'key-1' });
    expect(credentialsFromHeader(`  basic   ${Buffer.from('key-1:').toString('base64')}`)).toEqual({ kind: 'key', key: 'key-1' });
  });

  it('reads a Bearer token as the key', () => {
    expect(credentialsFromHeader('Bearer key-2')).toEqual({ kind: 'key', key: 'key-2' });
    expect(credentialsFromHeader('bearer key-2')).toEqual({ kind: 'key', key: 'key-2' });
  });

  it('names what is wrong with a header that holds no key', () => {
    expect(credentialsFromHeader(undefined)).toEqual({ kind: 'none' });
    expect(credentialsFromHeader(basic(':password'))).toEqual({
      kind: 'none',
      problem: 'the Basic credentials have an empty username; put the API key there',
    });
    expect(credentialsFromHeader('Bearer')).toEqual({ kind: 'none', problem: 'the Bearer token is empty' });
    expect(credentialsFromHeader('Digest abc')).toEqual({
      kind: 'none',
      problem: 'unsupported Authorization scheme "Digest"; use Basic or Bearer',
    });
  });
});

describe('constantTimeEqual', () => {
  it('is true only for equal strings, whatever their lengths', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });
});
