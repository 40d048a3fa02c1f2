/**
 * Per-source rate limiting (docs/spec.md section 2, 429). A source may carry `rateLimitPerSecond`; each
 * function instance keeps a token bucket per source holding up to two seconds of events, and a
 * request that finds too few tokens is refused with `Retry-After` for the time they take to refill.
 *
 * The limit is per function instance: Lambda runs as many instances as traffic needs, so the total
 * a source can send is the limit times the instances serving it. It stops one source from
 * monopolising warm instances; a hard account-wide cap belongs to the function's reserved
 * concurrency (see docs/deploy.md).
 */
import { TokenBucket } from '../shared/token-bucket';
import { TooManyRequestsError } from './http-errors';

export interface RateLimiter {
  /** Takes `events` tokens from the source's bucket, or throws `TooManyRequestsError` (429). */
  admit(sourceId: string, limitPerSecond: number | undefined, events: number): void;
}

/** A source may send two seconds of its rate at once. */
const BURST_SECONDS = 2;

export function createRateLimiter(now: () => number = Date.now): RateLimiter {
  const buckets = new Map<string, TokenBucket>();

  return {
    admit(sourceId, limitPerSecond, events) {
      if (limitPerSecond === undefined || !(limitPerSecond > 0)) return;
      let bucket = buckets.get(sourceId);
      if (!bucket || bucket.ratePerSecond !== limitPerSecond) {
        bucket = new TokenBucket(limitPerSecond, limitPerSecond * BURST_SECONDS, now);
        buckets.set(sourceId, bucket);
      }
      const waitMs = bucket.take(events);
      if (waitMs > 0) {
        const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
        throw new TooManyRequestsError(
          `source "${sourceId}" is over its rate limit of ${limitPerSecond} events/s; retry in ${retryAfter} s`,
          retryAfter,
        );
      }
    },
  };
}
