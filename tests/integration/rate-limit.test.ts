/**
 * A source over its rate limit gets 429 with Retry-After (docs/spec.md section 2), on every event route
 * (tests/support/senders.ts EVENT_ROUTES), and nothing of a refused request is queued.
 *
 * The limits are slow (an event every 50 or 100 s) so that the time between the burst and the
 * refused request, seconds on a loaded machine whose emulators are read on every request (the key
 * cache is off), neither refills the bucket nor moves Retry-After out of the range asserted.
 */
import { randomBytes } from 'node:crypto';
import { segmentEvent } from '../support/events';
import { deliver, EVENT_ROUTES, routeLabel, storedFor, type EventRoute } from '../support/senders';
import { sendTo, startTestStack, type TestResponse, type TestStack } from '../support/stack';

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

/**
 * A 429 whose Retry-After and message agree and say the time the bucket takes to refill: about
 * `refillSeconds` after the burst, less the seconds the refused request took to arrive.
 */
function expectRefused(response: TestResponse, sourceId: string, perSecond: number, refillSeconds: number): void {
  const retryAfter = Number(response.headers.get('retry-after'));
  expect({ status: response.status, body: response.body }).toEqual({
    status: 429,
    body: { message: `source "${sourceId}" is over its rate limit of ${perSecond} events/s; retry in ${retryAfter} s` },
  });
  expect(retryAfter).toBeGreaterThanOrEqual(refillSeconds - 10);
  expect(retryAfter).toBeLessThanOrEqual(refillSeconds);
}

describe('rate limit', () => {
  it('answers 429 with Retry-After once a limited source has used its burst, and nothing of it is queued', async () => {
    // Prepare: an event every 50 s, so a burst of 0.04 events; a batch of 2 passes on the full bucket
    // and leaves it 1.96 events in debt, 98 s of refill before the next request's 0.04.
    await stack.admin.setRateLimit(stack.sourceId, 0.02);

    // Act
    const first = await stack.send('/v1/batch', { batch: Array.from({ length: 2 }, () => segmentEvent('track', { userId: 'limited' })) });
    const refused = await stack.send('/v1/track', segmentEvent('track', { userId: 'limited-refused' }));
    await stack.admin.setRateLimit(stack.sourceId, undefined);
    const unlimited = await stack.send('/v1/track', segmentEvent('track', { userId: 'limited' }));
    await stack.drain();

    // Assess
    expect(first.status).toBe(200);
    expectRefused(refused, stack.sourceId, 0.02, 100);
    expect(unlimited.status).toBe(200);
    const stored = await stack.scan('track');
    expect(stored.filter((i) => i.userId === 'limited')).toHaveLength(3);
    expect(stored.filter((i) => i.userId === 'limited-refused')).toHaveLength(0);
  });

  it.each(EVENT_ROUTES.map((route) => [route]))('refuses %s with 429 and Retry-After once the burst is used', async (route: EventRoute) => {
    // Prepare: one event every 100 s, so the first event uses the burst (0.02 events) and leaves the
    // bucket 0.98 in debt: the next request waits 100 s, less the time it took to come.
    const source = await limitedSource(`rl-${routeLabel(route, 'src')}`.slice(0, 64), 0.01);
    const burst = await source.send('/v1/batch', { batch: [segmentEvent('track')] });
    const userId = routeLabel(route, 'refused');

    // Act
    const refused = await deliver(source, route, [segmentEvent('identify', { userId })]);
    await stack.drain();

    // Assess
    expect(burst.status).toBe(200);
    expectRefused(refused, source.sourceId, 0.01, 100);
    expect(await storedFor(stack, 'identify', userId)).toEqual([]);
  });
});
