/**
 * Issue 10, 11: a flood of requests with random keys (one read each) must not cost a valid key its
 * cache entry. The document client is a fake that answers in process and counts reads: a fast
 * unit test of the caches; tests/integration/auth.test.ts proves the lookups on DynamoDB Local.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createAuthenticator } from '../../../lib/ingest/auth';
import { UnauthorizedError } from '../../../lib/ingest/http-errors';
import { LruCache } from '../../../lib/shared/lru-cache';
import { hashKey } from '../../../lib/tables/sources';

function fakeTables(validKey: string) {
  const reads: string[] = [];
  const documents = {
    send: async (command: { input: { TableName: string; Key: Record<string, string> } }) => {
      const { TableName, Key } = command.input;
      reads.push(`${TableName}:${Object.values(Key)[0]}`);
      if (TableName === 'keys' && Key.keyHash === hashKey(validKey))
        return { Item: { keyHash: Key.keyHash, sourceId: 's1', keyPrefix: 'sk_live' } };
      if (TableName === 'sources' && Key.sourceId === 's1') return { Item: { sourceId: 's1' } };
      return {};
    },
  } as unknown as DynamoDBDocumentClient;
  return { documents, reads };
}

describe('the key cache under a flood of random keys', () => {
  it('keeps a valid key cached through 50,000 unknown keys', async () => {
    // Prepare
    const { documents, reads } = fakeTables('sk_valid');
    const auth = createAuthenticator({ documents, tables: { keys: 'keys', sources: 'sources' }, cacheSeconds: 60 });
    await auth.authenticateKey('sk_valid');
    const readsBefore = reads.length;

    // Act
    let refused = 0;
    for (let i = 0; i < 50_000; i++) {
      try {
        await auth.authenticateKey(`sk_random_${i}`);
      } catch (error) {
        if (error instanceof UnauthorizedError) refused++;
      }
    }
    const flood = reads.length - readsBefore;
    await auth.authenticateKey('sk_valid');

    // Assess: every random key cost its read, and the valid one none.
    expect(refused).toBe(50_000);
    expect(flood).toBe(50_000);
    expect(reads.length - readsBefore).toBe(50_000);
  });

  it('reads an unknown key again after the short negative cache, and not before', async () => {
    let clock = 0;
    const { documents, reads } = fakeTables('sk_valid');
    const auth = createAuthenticator({ documents, tables: { keys: 'keys', sources: 'sources' }, cacheSeconds: 60, now: () => clock });

    await expect(auth.authenticateKey('sk_nope')).rejects.toThrow('unknown API key');
    await expect(auth.authenticateKey('sk_nope')).rejects.toThrow('unknown API key');
    clock += 5001;
    await expect(auth.authenticateKey('sk_nope')).rejects.toThrow('unknown API key');

    expect(reads).toHaveLength(2);
  });
});

describe('LruCache', () => {
  it('evicts the least recently used entry, counting reads as use', () => {
    const cache = new LruCache<number>(2, () => 0);
    cache.set('a', 1, 1000);
    cache.set('b', 2, 1000);
    cache.get('a');
    cache.set('c', 3, 1000);

    expect(cache.get('a')).toMatchObject({ value: 1, expires: 1000 });
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')?.value).toBe(3);
    expect(cache.size).toBe(2);
  });

  it('forgets an entry once its time is up', () => {
    let clock = 0;
    const cache = new LruCache<string>(10, () => clock);
    cache.set('k', 'v', 100);
    clock = 99;
    expect(cache.get('k')?.value).toBe('v');
    clock = 100;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});
