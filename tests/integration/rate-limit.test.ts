/**
 * A source over its rate limit gets 429 with Retry-After (SPEC.md section 2), on every route.
 */
import { segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ env: { KEY_CACHE_SECONDS: '0' } });
});

afterAll(async () => {
  await stack.stop();
});

describe('rate limit', () => {
  it('answers 429 with Retry-After once a limited source has used its burst, and nothing of it is queued', async () => {
    // Prepare: 5 events/s, so a burst of 10.
    await stack.admin.setRateLimit(stack.sourceId, 5);

    // Act
    const first = await stack.send('/v1/batch', { batch: Array.from({ length: 10 }, () => segmentEvent('track', { userId: 'limited' })) });
    const refused = await stack.send('/v1/track', segmentEvent('track', { userId: 'limited-refused' }));
    await stack.admin.setRateLimit(stack.sourceId, undefined);
    const unlimited = await stack.send('/v1/track', segmentEvent('track', { userId: 'limited' }));
    await stack.drain();

    // Assess
    expect(first.status).toBe(200);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toEqual({ message: `source "${stack.sourceId}" is over its rate limit of 5 events/s; retry in 1 s` });
    expect(unlimited.status).toBe(200);
    const stored = await stack.scan('track');
    expect(stored.filter((i) => i.userId === 'limited')).toHaveLength(11);
    expect(stored.filter((i) => i.userId === 'limited-refused')).toHaveLength(0);
  });
});
