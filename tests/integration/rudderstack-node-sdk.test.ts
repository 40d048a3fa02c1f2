/**
 * RudderStack's Node SDK (`@rudderstack/rudder-sdk-node` 3.x) with its defaults, pointed at the
 * local stack with `dataPlaneUrl`: it posts gzip bodies to `/v1/batch` with no Content-Type of its
 * own (axios then labels them `application/x-www-form-urlencoded`), and does not retry a 415. A
 * recording forwarder between the SDK and the stack shows what it really sent.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Analytics from '@rudderstack/rudder-sdk-node';
import { EVENT_TYPES } from '../../lib/spec/event-types';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let forwarder: Server;
let forwarderUrl: string;
const seen: { method: string; path: string; headers: IncomingHttpHeaders; status: number }[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  const target = new URL(stack.url);
  forwarder = createServer((incoming, outgoing) => {
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (answer) => {
        seen.push({ method: incoming.method ?? '', path: incoming.url ?? '', headers: incoming.headers, status: answer.statusCode ?? 0 });
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
  forwarderUrl = `http://127.0.0.1:${(forwarder.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => forwarder.close(resolve));
  await stack.stop();
});

it('stores identify, track, page, screen, group and alias sent with the defaults (gzip), each exactly once', async () => {
  // Prepare
  const userId = 'rudder-user';
  const errors: unknown[] = [];
  const client = new Analytics(stack.key, { dataPlaneUrl: forwarderUrl, logLevel: 'error', errorHandler: (error) => errors.push(error) });

  // Act
  client.identify({ userId, traits: { email: 'rudder@example.com', plan: 'pro' } });
  client.track({ userId, event: 'Order Completed', properties: { orderId: 'r-1', total: 27.5 } });
  client.page({ userId, category: 'Docs', name: 'Pricing', properties: { path: '/pricing' } });
  client.screen({ userId, name: 'Home', properties: { variant: 'B' } });
  client.group({ userId, groupId: 'g-rudder', traits: { name: 'Initech' } });
  client.alias({ userId, previousId: 'anon-rudder' });
  await client.flush();
  await stack.drain();

  // Assess: what went over the wire
  expect(errors).toEqual([]);
  expect(seen.length).toBeGreaterThan(0);
  for (const request of seen) {
    expect(request).toMatchObject({ method: 'POST', path: '/v1/batch', status: 200 });
    expect(request.headers['content-encoding']).toBe('gzip');
    expect(request.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
  }
  // Assess: what is stored
  const stored = Object.fromEntries(
    await Promise.all(EVENT_TYPES.map(async (type) => [type, (await stack.scan(type)).filter((item) => item.userId === userId)] as const)),
  );
  for (const type of EVENT_TYPES) expect({ type, count: stored[type]?.length }).toEqual({ type, count: 1 });
  expect(stored.track?.[0]).toMatchObject({
    event: 'Order Completed',
    properties: { orderId: 'r-1', total: 27.5 },
    context: { library: { name: 'analytics-node' } },
  });
  expect(typeof stored.track?.[0]?.originalTimestamp).toBe('string');
  expect(stored.group?.[0]).toMatchObject({ groupId: 'g-rudder', traits: { name: 'Initech' } });
  expect(stored.alias?.[0]).toMatchObject({ previousId: 'anon-rudder' });
});
