/** A token bucket for `--rate` (events per second), holding one second of events at most. */
import { sleep } from './sleep';

export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = perSecond;
    this.last = now();
  }

  /** The most events one request may carry, so a request never needs more than a second's allowance. */
  get burst(): number {
    return Math.max(1, Math.floor(this.perSecond));
  }

  /** Waits until `count` events may be sent (count is capped at `burst`). */
  async take(count: number, signal?: AbortSignal): Promise<void> {
    const needed = Math.min(count, this.burst);
    for (;;) {
      const now = this.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
      if (this.tokens >= needed) {
        this.tokens -= needed;
        return;
      }
      await sleep(((needed - this.tokens) / this.perSecond) * 1000, signal);
    }
  }
}
