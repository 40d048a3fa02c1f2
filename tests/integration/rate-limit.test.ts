/**
 * A source over its rate limit gets 429 with Retry-After (SPEC.md section 2), on every event route
 * (tests/support/senders.ts EVENT_ROUTES), and nothing of a refused request is queued.
 */
import { randomBytes } from 'node:crypto';
import { segmentEvent } from '../support/events';
import { deliver, EVENT_ROUTES, routeLabel, storedFor, type EventRoute } from '../support/senders';
import { sendTo, startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ env: { KEY_CACHE_SECONDS: '0' } });
});

afterAll(async () => {
  await stack.stop();
});

/**
 * The stack as seen by a source of its own (key and webhook secret included), limited to
 * `perSecond`: each route's case gets a full bucket of its own.
 */
async function limitedSource(sourceId: string, perSecond: number): Promise<TestStack> {
  await stack.admin.createSource(sourceId);
  const { key } = await stack.admin.createKey(sourceId);
  const webhookSecret = `whsec-${randomBytes(8).toString('hex')}`;
  await stack.admin.setWebhookSecret(sourceId, webhookSecret);
  await stack.admin.setRateLimit(sourceId, perSecond);
  return { ...stack, sourceId, key, webhookSecret, send: (path, body, options) => sendTo(stack.url, key, path, body, options) };
}

describe('rate limit', () => {
  it('answers 429 with Retry-After once a limited source has used its burst, and nothing of it is queued', async () => {
    // Prepare: 1 event/s, so a burst of 2 (and a second for the next request to come before a token does).
    await stack.admin.setRateLimit(stack.sourceId, 1);

    // Act
    const first = await stack.send('/v1/batch', { batch: Array.from({ length: 2 }, () => segmentEvent('track', { userId: 'limited' })) });
    const refused = await stack.send('/v1/track', segmentEvent('track', { userId: 'limited-refused' }));
    await stack.admin.setRateLimit(stack.sourceId, undefined);
    const unlimited = await stack.send('/v1/track', segmentEvent('track', { userId: 'limited' }));
    await stack.drain();

    // Assess
    expect(first.status).toBe(200);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toEqual({ message: `source "${stack.sourceId}" is over its rate limit of 1 events/s; retry in 1 s` });
    expect(unlimited.status).toBe(200);
    const stored = await stack.scan('track');
    expect(stored.filter((i) => i.userId === 'limited')).toHaveLength(3);
    expect(stored.filter((i) => i.userId === 'limited-refused')).toHaveLength(0);
  });

  it.each(EVENT_ROUTES.map((route) => [route]))('refuses %s with 429 and Retry-After once the burst is used', async (route: EventRoute) => {
    // Prepare: one event every 5 s, so the first event uses the burst and the next waits 5 s (long
    // enough that a slow machine does not refill the bucket between the two requests)
    const source = await limitedSource(`rl-${routeLabel(route, 'src')}`.slice(0, 64), 0.2);
    const burst = await source.send('/v1/batch', { batch: [segmentEvent('track')] });
    const userId = routeLabel(route, 'refused');

    // Act
    const refused = await deliver(source, route, [segmentEvent('identify', { userId })]);
    await stack.drain();

    // Assess
    expect(burst.status).toBe(200);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.body).toEqual({ message: `source "${source.sourceId}" is over its rate limit of 0.2 events/s; retry in 5 s` });
    expect(await storedFor(stack, 'identify', userId)).toEqual([]);
  });
});
