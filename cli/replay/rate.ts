/** `--rate` of `replay`: events per second, metered by a token bucket holding one second of events. */
import { sleep } from '../../lib/shared/retry';
import { TokenBucket } from '../../lib/shared/token-bucket';

export class RateLimiter {
  private readonly bucket: TokenBucket;

  constructor(
    private readonly perSecond: number,
    now: () => number = Date.now,
  ) {
    this.bucket = new TokenBucket(perSecond, this.burst, now);
  }

  /** The most events one request may carry, so a request never needs more than a second's allowance. */
  get burst(): number {
    return Math.max(1, Math.floor(this.perSecond));
  }

  /** Waits until `count` events may be sent (count is capped at `burst`). */
  async take(count: number, signal?: AbortSignal): Promise<void> {
    const needed = Math.min(count, this.burst);
    for (let waitMs = this.bucket.take(needed); waitMs > 0; waitMs = this.bucket.take(needed)) await sleep(waitMs, signal);
  }
}
