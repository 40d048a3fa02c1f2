/** The token bucket the ingest rate limit and `replay --rate` meter with. */
import { TokenBucket } from '../../../lib/shared/token-bucket';

describe('TokenBucket', () => {
  it('starts full and lets its capacity through at once', () => {
    const bucket = new TokenBucket(10, 20, () => 0);

    expect(bucket.take(20)).toBe(0);
    expect(bucket.take(1)).toBe(100);
  });

  it('answers with the milliseconds until enough tokens have flowed in, and takes nothing meanwhile', () => {
    let time = 0;
    const bucket = new TokenBucket(4, 4, () => time);
    bucket.take(4);

    const wait = bucket.take(2);
    time = 250;
    const waitLater = bucket.take(2);
    time = 500;
    const admitted = bucket.take(2);

    expect(wait).toBe(500);
    expect(waitLater).toBe(250);
    expect(admitted).toBe(0);
    expect(bucket.take(1)).toBe(250);
  });

  it('never holds more than its capacity, however long it was idle', () => {
    let time = 0;
    const bucket = new TokenBucket(10, 5, () => time);

    time = 60_000;
    expect(bucket.take(5)).toBe(0);
    expect(bucket.take(1)).toBe(100);
  });

  it('lets a request larger than the bucket through when full, leaving it in debt', () => {
    let time = 0;
    const bucket = new TokenBucket(10, 10, () => time);

    const big = bucket.take(30);
    const whileInDebt = bucket.take(1);
    time = 2_000;
    const stillInDebt = bucket.take(1);
    time = 3_000;
    const paidOff = bucket.take(10);

    expect(big).toBe(0);
    expect(whileInDebt).toBe(2_100);
    expect(stillInDebt).toBe(100);
    expect(paidOff).toBe(0);
  });

  it('asks a request larger than the bucket to wait only until the bucket is full again', () => {
    let time = 0;
    const bucket = new TokenBucket(10, 10, () => time);
    bucket.take(10);

    time = 500;
    expect(bucket.take(1000)).toBe(500);
  });
});
