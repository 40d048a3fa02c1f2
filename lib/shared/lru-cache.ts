/**
 * A bounded cache with least-recently-used eviction and a time to live per entry. A Map keeps its
 * keys in insertion order, so a hit moves its key to the end and eviction takes the first.
 *
 * Bounded by entries and, when `maxBytes` is given, by the bytes its entries are said to hold
 * (`set`, `resize`): an entry count alone does not bound memory when entries can grow.
 */
export class LruCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number; bytes: number }>();
  private totalBytes = 0;

  constructor(
    readonly maxEntries: number,
    private readonly now: () => number = Date.now,
    readonly maxBytes: number = Infinity,
  ) {}

  /** The live entry for `key` (marked as just used), or `undefined` when absent or expired. */
  get(key: string): { value: V } | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expires <= this.now()) {
      this.totalBytes -= entry.bytes;
      return undefined;
    }
    this.entries.set(key, entry);
    return entry;
  }

  /** `bytes`: what the entry holds, counted against `maxBytes`. */
  set(key: string, value: V, ttlMs: number, bytes = 0): void {
    this.remove(key);
    this.entries.set(key, { value, expires: this.now() + ttlMs, bytes });
    this.totalBytes += bytes;
    this.evict();
  }

  /** Says how many bytes `key`'s entry holds now (it grew or shrank); evicts the least recently used past the budget. */
  resize(key: string, bytes: number): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.totalBytes += bytes - entry.bytes;
    entry.bytes = bytes;
    this.evict();
  }

  get size(): number {
    return this.entries.size;
  }

  /** The bytes the entries are said to hold. */
  get bytes(): number {
    return this.totalBytes;
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.totalBytes -= entry.bytes;
  }

  private evict(): void {
    while (this.entries.size > this.maxEntries || this.totalBytes > this.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.remove(oldest.value);
    }
  }
}
