/**
 * A token bucket: `ratePerSecond` tokens flow in, up to `capacity`. The per-source rate limit of the
 * ingest function (lib/ingest/rate-limit.ts) and `replay --rate` of the CLI both meter with it.
 */
export class TokenBucket {
  private tokens: number;
  private updated: number;

  constructor(
    readonly ratePerSecond: number,
    readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = capacity;
    this.updated = now();
  }

  /**
   * Takes `count` tokens when at least `min(count, capacity)` are there, and returns 0; a request
   * larger than the bucket passes when the bucket is full and leaves it in debt. Otherwise takes
   * nothing and returns the milliseconds until enough tokens will have flowed in.
   */
  take(count: number): number {
    const time = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((time - this.updated) / 1000) * this.ratePerSecond);
    this.updated = time;
    const needed = Math.min(count, this.capacity);
    if (this.tokens >= needed) {
      this.tokens -= count;
      return 0;
    }
    return ((needed - this.tokens) / this.ratePerSecond) * 1000;
  }
}
