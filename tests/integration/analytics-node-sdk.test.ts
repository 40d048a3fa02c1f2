/**
 * The official Segment SDK for Node (`@segment/analytics-node`) pointed at the local stack with
 * `host`: what a customer does to send server-side events here instead of to Segment.
 */
import { Analytics, type HTTPFetchFn } from '@segment/analytics-node';
import { EVENT_TYPES } from '../../lib/spec/event-types';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.stop();
});

/** The six calls of the SDK, for `userId`. */
function sendAllTypes(analytics: Analytics, userId: string): void {
  analytics.identify({ userId, traits: { email: `${userId}@example.com`, plan: 'pro' } });
  analytics.track({ userId, event: 'Order Completed', properties: { orderId: 'o-1', total: 27.5 } });
  analytics.page({ userId, category: 'Docs', name: 'Pricing', properties: { path: '/pricing' } });
  analytics.screen({ userId, name: 'Home', properties: { variant: 'B' } });
  analytics.group({ userId, groupId: 'g-1', traits: { name: 'Initech' } });
  analytics.alias({ userId, previousId: `anon-${userId}` });
}

/** Items of `userId` per table. */
async function storedFor(userId: string): Promise<Record<string, Record<string, unknown>[]>> {
  const entries = await Promise.all(
    EVENT_TYPES.map(async (type) => [type, (await stack.scan(type)).filter((i) => i.userId === userId)] as const),
  );
  return Object.fromEntries(entries);
}

it('sends identify, track, page, screen, group and alias through /v1/batch, each stored exactly once', async () => {
  // Prepare
  const requests: string[] = [];
  const failures: unknown[] = [];
  const analytics = new Analytics({ writeKey: stack.key, host: stack.url, flushAt: 20, flushInterval: 200, maxRetries: 2 });
  analytics.on('http_request', (request) => requests.push(request.url));
  analytics.on('error', (error) => failures.push(error));

  // Act
  sendAllTypes(analytics, 'sdk-user');
  await analytics.closeAndFlush({ timeout: 15_000 });
  await stack.drain();

  // Assess
  expect(failures).toEqual([]);
  expect(requests.length).toBeGreaterThan(0);
  expect(new Set(requests)).toEqual(new Set([`${stack.url}/v1/batch`]));
  const stored = await storedFor('sdk-user');
  for (const type of EVENT_TYPES) expect(stored[type]).toHaveLength(1);
  expect(stored.track?.[0]).toMatchObject({
    event: 'Order Completed',
    properties: { orderId: 'o-1', total: 27.5 },
    context: { library: { name: '@segment/analytics-node' } },
  });
  expect(stored.page?.[0]).toMatchObject({ name: 'Pricing', category: 'Docs' });
  expect(stored.group?.[0]).toMatchObject({ groupId: 'g-1', traits: { name: 'Initech' } });
  expect(stored.alias?.[0]).toMatchObject({ previousId: 'anon-sdk-user' });
  expect(stored.identify?.[0]).not.toHaveProperty('writeKey');
});

it('stores each event once when the SDK retries a batch whose first answer it never saw', async () => {
  // Prepare: the first answer is lost after the service has accepted the batch (a timeout on
  // the sender's side), so the SDK sends the very same batch again
  let calls = 0;
  const losingFirstAnswer: HTTPFetchFn = async (url, init) => {
    calls++;
    const response = await fetch(url, init as RequestInit);
    if (calls === 1) {
      await response.text();
      throw new Error('socket hang up (simulated: the answer was lost)');
    }
    return response;
  };
  const failures: unknown[] = [];
  const analytics = new Analytics({
    writeKey: stack.key,
    host: stack.url,
    flushAt: 20,
    flushInterval: 200,
    maxRetries: 3,
    httpClient: losingFirstAnswer,
  });
  analytics.on('error', (error) => failures.push(error));

  // Act
  sendAllTypes(analytics, 'sdk-retried');
  await analytics.closeAndFlush({ timeout: 15_000 });
  await stack.drain();

  // Assess
  expect(failures).toEqual([]);
  expect(calls).toBeGreaterThanOrEqual(2);
  const stored = await storedFor('sdk-retried');
  for (const type of EVENT_TYPES) expect(stored[type]).toHaveLength(1);
});

it('reports the events as failed when the write key is unknown', async () => {
  const failures: unknown[] = [];
  const statuses: number[] = [];
  const analytics = new Analytics({
    writeKey: 'sk_not_a_key_of_this_service',
    host: stack.url,
    flushAt: 20,
    flushInterval: 200,
    maxRetries: 1,
  });
  analytics.on('error', (error) => failures.push(error));
  analytics.on('http_response', (response) => statuses.push(response.status));

  sendAllTypes(analytics, 'sdk-refused');
  await analytics.closeAndFlush({ timeout: 15_000 });

  expect(failures).toHaveLength(6);
  // 401 is final for the SDK, as for Segment: one request, no retries.
  expect(statuses).toEqual([401]);
  const stored = await storedFor('sdk-refused');
  for (const type of EVENT_TYPES) expect(stored[type]).toEqual([]);
});
