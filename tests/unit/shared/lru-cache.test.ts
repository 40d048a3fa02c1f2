/** The byte budget of `LruCache` (issue 23); its entry bound and time to live are in tests/unit/ingest/auth-flood.test.ts. */
import { LruCache } from '../../../lib/shared/lru-cache';

it('evicts the least recently used entries once the bytes they hold pass the budget, and counts an entry that grew', () => {
  const cache = new LruCache<string>(100, () => 0, 1000);
  cache.set('a', 'a', 1000, 400);
  cache.set('b', 'b', 1000, 400);
  cache.get('a');

  cache.resize('a', 700);

  expect(cache.get('b')).toBeUndefined();
  expect(cache.get('a')?.value).toBe('a');
  expect(cache.bytes).toBe(700);
  cache.set('c', 'c', 1000, 600);
  expect(cache.get('a')).toBeUndefined();
  expect([cache.size, cache.bytes]).toEqual([1, 600]);
});

it('takes an expired entry out of the count', () => {
  let clock = 0;
  const cache = new LruCache<string>(100, () => clock, 1000);
  cache.set('k', 'v', 100, 300);
  clock = 100;

  expect(cache.get('k')).toBeUndefined();
  expect(cache.bytes).toBe(0);
});
