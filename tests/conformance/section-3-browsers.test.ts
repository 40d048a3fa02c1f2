/**
 * docs/spec.md sections 1 and 3, browsers: analytics.js 2.0's short routes (`/v1/t`, ..., `/v1/b`), the
 * CORS answers of every event route (preflight, and the origin headers on every answer, errors
 * included), and a source's allowed origins. Over HTTP with the headers a browser sends; the real
 * browser is tests/integration/browser-analytics-next.test.ts.
 */
import { EVENT_TYPES } from '../../lib/spec/event-types';
import { segmentEvent } from '../support/events';
import { deliver, EVENT_ROUTES, routeLabel, storedFor } from '../support/senders';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  // No key cache: a change to the allowed origins shows at once.
  stack = await startTestStack({ env: { KEY_CACHE_SECONDS: '0' } });
});

afterAll(async () => {
  await stack.stop();
});

const PAGE = 'https://shop.example';

describe('preflight on every event route', () => {
  const paths = () => [
    ...EVENT_TYPES.map((type) => `/v1/${type}`),
    ...EVENT_TYPES.map((type) => `/v1/${type.charAt(0)}`),
    '/v1/batch',
    '/v1/b',
    '/v1/import',
    '/segment',
    `/webhook/${stack.sourceId}`,
  ];

  it('answers 204 with the origin, methods, headers analytics.js sends, and a max age', async () => {
    const responses = await Promise.all(
      paths().map(async (path) => ({
        path,
        response: await fetch(`${stack.url}${path}`, {
          method: 'OPTIONS',
          headers: {
            origin: PAGE,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization,content-type,x-retry-count',
          },
        }),
      })),
    );

    for (const { path, response } of responses) {
      expect({ path, status: response.status }).toEqual({ path, status: 204 });
      expect(response.headers.get('access-control-allow-origin')).toBe(PAGE);
      expect(response.headers.get('vary')).toBe('Origin');
      expect(response.headers.get('access-control-allow-methods')).toMatch(/\bPOST\b/);
      expect(response.headers.get('access-control-allow-headers')?.split(', ')).toEqual(
        expect.arrayContaining(['authorization', 'content-type', 'x-retry-count']),
      );
      expect(Number(response.headers.get('access-control-max-age'))).toBeGreaterThan(0);
      expect(await response.text()).toBe('');
    }
  });

  it('lists PUT and PATCH for the webhook route', async () => {
    const response = await fetch(`${stack.url}/webhook/${stack.sourceId}`, {
      method: 'OPTIONS',
      headers: { origin: PAGE, 'access-control-request-method': 'PUT' },
    });

    expect(response.headers.get('access-control-allow-methods')).toBe('POST, PUT, PATCH, OPTIONS');
  });

  it('answers 404 with the origin header on a path that is no route', async () => {
    const response = await fetch(`${stack.url}/v2/track`, { method: 'OPTIONS', headers: { origin: PAGE } });

    expect(response.status).toBe(404);
    expect(response.headers.get('access-control-allow-origin')).toBe(PAGE);
  });
});

describe.each(EVENT_ROUTES)('origin headers on every answer: %s', (route) => {
  it('on a 200', async () => {
    const response = await deliver(stack, route, [segmentEvent('track')], { headers: { origin: PAGE } });

    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(response.headers.get('vary')).toBe('Origin');
    expect(response.headers.get('access-control-expose-headers')).toBe('Retry-After');
  });

  it('on a 401', async () => {
    const response = await deliver(stack, route, [segmentEvent('track')], {
      headers: { origin: PAGE, authorization: 'Bearer sk_unknown', 'x-signature': '0'.repeat(40) },
    });

    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(response.headers.get('vary')).toBe('Origin');
  });

  it('on a 400', async () => {
    const response = await deliver(stack, route, [segmentEvent('track')], { headers: { origin: PAGE }, text: '{"not json' });

    expect(response.status).toBe(400);
    expect(response.headers.get('access-control-allow-origin')).toBe(PAGE);
  });
});

describe('analytics.js short routes', () => {
  it.each(EVENT_TYPES)('stores a %s sent to its first letter', async (type) => {
    const userId = `short-${type}`;
    const event = segmentEvent(type, { userId, type: undefined });

    const response = await stack.send(`/v1/${type.charAt(0)}`, event, { headers: { 'content-type': 'text/plain' } });
    await stack.drain();

    expect(response.status).toBe(200);
    expect((await storedFor(stack, type, userId)).map((item) => item.messageId)).toEqual([event.messageId]);
  });

  it('refuses a body whose type contradicts the short path', async () => {
    const response = await stack.send('/v1/t', segmentEvent('identify'));

    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/^invalid track: /);
  });

  it('stores a /v1/b batch authenticated by its writeKey, as analytics.js batching mode sends it', async () => {
    const userId = 'short-batch';
    const batch = EVENT_TYPES.map((type) => segmentEvent(type, { userId, writeKey: stack.key }));

    const response = await stack.send(
      '/v1/b',
      { batch, writeKey: stack.key, sentAt: new Date().toISOString() },
      { auth: null, headers: { 'content-type': 'text/plain' } },
    );
    await stack.drain();

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ accepted: 6, rejected: 0 });
    for (const type of EVENT_TYPES) expect(await storedFor(stack, type, userId)).toHaveLength(1);
  });

  it('answers 404 for a letter that is no type, and for names of the object prototype', async () => {
    const responses = await Promise.all(
      ['/v1/x', '/v1/constructor', '/v1/__proto__'].map((path) => stack.send(path, segmentEvent('track'))),
    );

    expect(responses.map((r) => r.status)).toEqual([404, 404, 404]);
    expect(responses[1]?.body.message).toMatch(/^no route for POST \/v1\/constructor; /);
  });
});

describe("a source's allowed origins", () => {
  afterEach(async () => {
    await stack.admin.changeAllowedOrigins(stack.sourceId, { any: true });
  });

  it.each(EVENT_ROUTES)('%s: takes a listed origin and requests without Origin, refuses others with 403', async (route) => {
    await stack.admin.changeAllowedOrigins(stack.sourceId, { add: [PAGE, 'https://*.brand.example'] });
    const userId = routeLabel(route, 'origins');
    const [listed, subdomain, server, other] = EVENT_TYPES.slice(0, 4).map(() => segmentEvent('track', { userId }));

    const responses = [
      await deliver(stack, route, [listed], { headers: { origin: PAGE } }),
      await deliver(stack, route, [subdomain], { headers: { origin: 'https://www.brand.example' } }),
      await deliver(stack, route, [server]),
      await deliver(stack, route, [other], { headers: { origin: 'https://evil.example' } }),
    ];
    await stack.drain();

    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 403]);
    expect(responses[3]?.headers.get('access-control-allow-origin')).toBe('https://evil.example');
    expect(responses[3]?.body.message).toBe(
      `origin "https://evil.example" is not allowed to send to source "${stack.sourceId}"; add it to the source's allowed origins (segment-ingest sources allow-origin ${stack.sourceId} ORIGIN)`,
    );
    const stored = (await storedFor(stack, 'track', userId)).map((item) => item.messageId).sort();
    expect(stored).toEqual([listed, subdomain, server].map((e) => e?.messageId).sort());
  });

  it('refuses every page, and no server, with an empty list', async () => {
    await stack.admin.changeAllowedOrigins(stack.sourceId, { none: true });

    const page = await deliver(stack, '/v1/{type}', [segmentEvent('track')], { headers: { origin: PAGE } });
    const server = await deliver(stack, '/v1/{type}', [segmentEvent('track')]);

    expect(page.status).toBe(403);
    expect(page.body.message).toBe(
      `source "${stack.sourceId}" accepts no browser origin, so this page (origin "${PAGE}") may not send to it`,
    );
    expect(server.status).toBe(200);
  });

  it('quarantines nothing it refused for its origin', async () => {
    await stack.admin.changeAllowedOrigins(stack.sourceId, { add: [PAGE] });
    const before = (await stack.scan('rejected')).length;

    const response = await deliver(stack, '/v1/batch', [], { headers: { origin: 'https://evil.example' }, text: '{"not json' });
    await stack.drain();

    expect(response.status).toBe(403);
    expect(await stack.scan('rejected')).toHaveLength(before);
  });
});
