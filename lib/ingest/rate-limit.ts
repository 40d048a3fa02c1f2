/**
 * Per-source rate limiting (SPEC.md section 2, 429). A source may carry `rateLimitPerSecond`; each
 * function instance keeps a token bucket per source holding up to two seconds of events, and a
 * request that finds too few tokens is refused with `Retry-After` for the time they take to refill.
 *
 * The limit is per function instance: Lambda runs as many instances as traffic needs, so the total
 * a source can send is the limit times the instances serving it. It stops one source from
 * monopolising warm instances; a hard account-wide cap belongs to the function's reserved
 * concurrency (see docs/deploy.md).
 */
import { TooManyRequestsError } from './http-errors';

export interface RateLimiter {
  /** Takes `events` tokens from the source's bucket, or throws `TooManyRequestsError` (429). */
  admit(sourceId: string, limitPerSecond: number | undefined, events: number): void;
}

const BURST_SECONDS = 2;

export function createRateLimiter(now: () => number = Date.now): RateLimiter {
  const buckets = new Map<string, { tokens: number; updated: number; limit: number }>();

  return {
    admit(sourceId, limitPerSecond, events) {
      if (limitPerSecond === undefined || !(limitPerSecond > 0)) return;
      const capacity = limitPerSecond * BURST_SECONDS;
      const time = now();
      let bucket = buckets.get(sourceId);
      if (!bucket || bucket.limit !== limitPerSecond) {
        bucket = { tokens: capacity, updated: time, limit: limitPerSecond };
        buckets.set(sourceId, bucket);
      }
      bucket.tokens = Math.min(capacity, bucket.tokens + ((time - bucket.updated) / 1000) * limitPerSecond);
      bucket.updated = time;
      // A batch larger than the bucket passes when the bucket is full, and leaves it in debt.
      const needed = Math.min(events, capacity);
      if (bucket.tokens < needed) {
        const retryAfter = Math.max(1, Math.ceil((needed - bucket.tokens) / limitPerSecond));
        throw new TooManyRequestsError(`source "${sourceId}" is over its rate limit of ${limitPerSecond} events/s; retry in ${retryAfter} s`, retryAfter);
      }
      bucket.tokens -= events;
    },
  };
}
