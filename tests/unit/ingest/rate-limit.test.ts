import { TooManyRequestsError } from '../../../lib/ingest/http-errors';
import { createRateLimiter } from '../../../lib/ingest/rate-limit';

describe('createRateLimiter', () => {
  it('admits a burst of two seconds of events, then refuses with the time the tokens take to come back', () => {
    let clock = 0;
    const limiter = createRateLimiter(() => clock);

    limiter.admit('s', 10, 20);
    let refusal: unknown;
    try {
      limiter.admit('s', 10, 5);
    } catch (error) {
      refusal = error;
    }
    clock += 500;
    limiter.admit('s', 10, 5);

    expect(refusal).toBeInstanceOf(TooManyRequestsError);
    expect((refusal as TooManyRequestsError).headers['Retry-After']).toBe('1');
    expect((refusal as TooManyRequestsError).message).toBe('source "s" is over its rate limit of 10 events/s; retry in 1 s');
  });

  it('lets a batch larger than the bucket through when the bucket is full, and then counts the debt', () => {
    let clock = 0;
    const limiter = createRateLimiter(() => clock);

    limiter.admit('s', 10, 100);
    clock += 5000;
    expect(() => limiter.admit('s', 10, 1)).toThrow(TooManyRequestsError);
    clock += 5000;
    expect(() => limiter.admit('s', 10, 1)).not.toThrow();
  });

  it('keeps sources apart and ignores sources without a limit', () => {
    const limiter = createRateLimiter(() => 0);
    limiter.admit('a', 1, 2);
    expect(() => limiter.admit('a', 1, 1)).toThrow(TooManyRequestsError);
    expect(() => limiter.admit('b', 1, 2)).not.toThrow();
    for (let i = 0; i < 100; i++) limiter.admit('c', undefined, 1000);
  });
});
