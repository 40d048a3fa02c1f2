/**
 * docs/spec.md section 2: answers and tolerance. Every status that applies to the event routes, each
 * with a specific message and never a 500, and the transport tolerance every route must have
 * (text/plain, charsets, gzip with an inflate cap, base64 bodies, odd timestamps, no messageId).
 */
import { gzipSync } from 'node:zlib';
import { createClients } from '../../lib/shared/clients';
import { createIngestHandler, ingestDepsFrom } from '../../lib/ingest/handler';
import { silentLog } from '../../lib/shared/log';
import { startApiServer, type ApiServer } from '../../local/api-server';
import { httpApiEvent, segmentEvent } from '../support/events';
import { freePort } from '../support/ports';
import { deliver, deliverAll, EVENT_ROUTES, requestFor, routeLabel, storedFor, type EventRoute } from '../support/senders';
import { sendTo, startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.stop();
});

const WWW_AUTHENTICATE = 'Basic realm="segment-ingest"';

describe.each(EVENT_ROUTES)('200 and tolerance: %s', (route) => {
  it('answers 200 with the accepted and rejected counts', async () => {
    const response = await deliver(stack, route, [segmentEvent('track', { userId: routeLabel(route, 'ok') })]);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.body).toEqual({ success: true, accepted: 1, rejected: 0, errors: [] });
  });

  it('reads text/plain, any content type, charset parameters, gzip (which arrives base64-encoded from API Gateway) and a byte-order mark', async () => {
    const userId = routeLabel(route, 'transport');
    const variants = [
      { contentType: 'text/plain' },
      { contentType: 'application/json; charset=utf-8' },
      { contentType: 'text/plain;charset="UTF-8"' },
      { gzip: true },
      { gzip: true, contentType: 'text/plain; charset=us-ascii' },
      // RudderStack's Node SDK: gzip with axios' default content type.
      { gzip: true, contentType: 'application/x-www-form-urlencoded' },
      { contentType: 'application/xml' },
    ];
    const events = variants.map(() => segmentEvent('track', { userId }));

    const responses = [];
    for (const [i, options] of variants.entries()) responses.push(await deliver(stack, route, [events[i]!], options));
    const withBom = segmentEvent('track', { userId });
    responses.push(await deliver(stack, route, [withBom], { text: `\uFEFF${requestFor(stack, route, [withBom]).text}` }));
    await stack.drain();

    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
    const stored = await storedFor(stack, 'track', userId);
    expect(stored.map((i) => i.messageId).sort()).toEqual([...events, withBom].map((e) => e.messageId).sort());
  });

  it('reads a base64-encoded body from API Gateway (payload 2.0, isBase64Encoded)', async () => {
    // Prepare: the handler itself, with the event API Gateway builds; over plain HTTP the local
    // adapter base64-encodes only compressed or binary bodies
    const userId = routeLabel(route, 'base64');
    const event = segmentEvent('page', { userId });
    const { path, text } = requestFor(stack, route, [event]);
    const handler = createIngestHandler(stack.ingestDeps);
    const isWebhook = route.startsWith('/webhook');
    const { signWebhookPayload } = await import('../../lib/ingest/webhook');
    const headers: Record<string, string> = isWebhook
      ? { 'x-signature': signWebhookPayload(stack.webhookSecret, text) }
      : { authorization: `Basic ${Buffer.from(`${stack.key}:`).toString('base64')}` };

    // Act
    const response = await handler(httpApiEvent({ path, headers, body: Buffer.from(text).toString('base64'), isBase64Encoded: true }));
    await stack.drain();

    // Assess
    expect(response.statusCode).toBe(200);
    expect(await storedFor(stack, 'page', userId)).toHaveLength(1);
  });

  it('parses timestamps leniently and never rejects an event for an unreadable one', async () => {
    const userId = routeLabel(route, 'time');
    const forms: Array<[unknown, string]> = [
      ['2026-03-01 12:00:00', '2026-03-01T12:00:00.000Z'],
      ['2026-03-01T13:00:01+01:00', '2026-03-01T12:00:01.000Z'],
      [1772366402000, '2026-03-01T12:00:02.000Z'],
      ['1772366403', '2026-03-01T12:00:03.000Z'],
      ['Sun, 01 Mar 2026 12:00:04 GMT', '2026-03-01T12:00:04.000Z'],
      ['2026-03-01T12:00:05.123456Z', '2026-03-01T12:00:05.123Z'],
    ];
    const events = forms.map(([timestamp]) => segmentEvent('screen', { userId, timestamp }));
    const unreadable = segmentEvent('screen', { userId, timestamp: 'the day before yesterday' });
    const before = Date.now();

    const responses = await deliverAll(stack, route, [...events, unreadable]);
    await stack.drain();

    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
    const stored = await storedFor(stack, 'screen', userId);
    for (const [i, [, iso]] of forms.entries()) {
      expect(stored.find((item) => item.messageId === events[i]?.messageId)?.timestamp).toBe(iso);
    }
    const fallback = stored.find((item) => item.messageId === unreadable.messageId);
    expect(fallback?.rawTimestamp).toBe('the day before yesterday');
    expect(Date.parse(String(fallback?.timestamp))).toBeGreaterThanOrEqual(before - 1000);
  });

  it('gives an event without messageId a deterministic one, so a resend is stored once', async () => {
    const userId = routeLabel(route, 'nomsgid');
    const event = segmentEvent('group', { userId, messageId: undefined, timestamp: '2026-04-01T00:00:00.000Z' });

    const first = await deliver(stack, route, [event]);
    const again = await deliver(stack, route, [{ ...event, sentAt: new Date().toISOString() }]);
    await stack.drain();

    expect([first.status, again.status]).toEqual([200, 200]);
    const stored = await storedFor(stack, 'group', userId);
    expect(stored).toHaveLength(1);
    expect(String(stored[0]?.messageId)).toMatch(/^auto-[0-9a-f]{32}$/);
  });
});

describe.each(EVENT_ROUTES)('400: %s', (route) => {
  it('refuses a body that is not JSON, and quarantines it', async () => {
    const marker = routeLabel(route, 'notjson');

    const response = await deliver(stack, route, [segmentEvent('track')], { text: `${marker} is not json` });
    await stack.drain();

    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/^body is not valid JSON: /);
    const quarantined = (await stack.scan('rejected')).filter((item) => String(item.raw).startsWith(marker));
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]?.reasons).toEqual([response.body.message]);
  });

  it('refuses an empty body', async () => {
    const response = await deliver(stack, route, [segmentEvent('track')], { text: '' });

    expect(response.status).toBe(400);
    expect(response.body.message).toBe('body is empty; send a JSON object');
  });

  it('refuses when every event is invalid, naming the reason', async () => {
    const response = await deliver(stack, route, [{ type: 'track', userId: routeLabel(route, 'invalid') }]);

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      success: false,
      accepted: 0,
      rejected: 1,
      errors: [{ index: 0, message: 'missing required field "event"' }],
    });
    const expected: Record<EventRoute, string> = {
      '/v1/{type}': 'invalid track: missing required field "event"',
      '/segment': 'invalid event: missing required field "event"',
      '/webhook (one event)': 'invalid event: missing required field "event"',
      '/v1/batch': 'every event in the batch is invalid (1 of 1); see errors',
      '/v1/import': 'every event in the batch is invalid (1 of 1); see errors',
      '/webhook (array)': 'every event in the batch is invalid (1 of 1); see errors',
    };
    expect(response.body.message).toBe(expected[route]);
  });
});

describe('400: the shape each route expects', () => {
  it.each([
    ['/segment', '[]', 'body must be one JSON object (one event), got an array'],
    ['/segment', '"track"', 'body must be one JSON object (one event), got a string'],
    ['/v1/track', '[]', 'body must be a JSON object (one track event), got an array'],
    ['/v1/batch', '{}', 'body has no "batch" array'],
    ['/v1/batch', '{"batch":{}}', '"batch" must be an array, got an object'],
    ['/v1/batch', '{"batch":[]}', '"batch" is empty; send at least one event'],
  ])('%s with %s: %s', async (path, raw, message) => {
    const response = await stack.send(path, undefined, { raw });

    expect(response.status).toBe(400);
    expect(response.body.message).toBe(message);
  });

  it.each([
    ['[]', 'the array is empty; send at least one event'],
    ['42', 'body must be one event object or an array of events, got a number'],
    ['null', 'body must be one event object or an array of events, got null'],
  ])('/webhook with %s: %s', async (raw, message) => {
    const response = await deliver(stack, '/webhook (one event)', [], { text: raw });

    expect(response.status).toBe(400);
    expect(response.body.message).toBe(message);
  });

  it('answers 200 for a webhook array with some invalid events, listing them', async () => {
    const good = segmentEvent('track', { userId: 'hook-mixed' });
    const bad = segmentEvent('group', { userId: 'hook-mixed', groupId: undefined });

    const response = await deliver(stack, '/webhook (array)', [good, bad, 'not an event']);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      success: true,
      accepted: 1,
      rejected: 2,
      errors: [
        { index: 1, messageId: bad.messageId, message: 'missing required field "groupId"' },
        { index: 2, message: 'each event must be a JSON object, got a string' },
      ],
    });
  });
});

describe('X-Segment-Settings (Direct destination)', () => {
  it('accepts valid settings without a warning', async () => {
    const settings = Buffer.from(JSON.stringify({ apiKey: 'in-settings', region: 'eu' })).toString('base64');

    const response = await deliver(stack, '/segment', [segmentEvent('track', { userId: 'settings-ok' })], {
      headers: { 'x-segment-settings': settings },
    });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ success: true, accepted: 1, rejected: 0, errors: [] });
  });

  it.each([
    ['not base64', '%%%not-base64%%%', 'X-Segment-Settings is not base64; ignored'],
    [
      'base64 of something not JSON',
      Buffer.from('{nope').toString('base64'),
      'X-Segment-Settings is not base64-encoded UTF-8 JSON; ignored',
    ],
    [
      'base64 of a JSON array',
      Buffer.from('[1,2]').toString('base64'),
      'X-Segment-Settings must encode a JSON object, got an array; ignored',
    ],
  ])('never rejects an event for settings that are %s, and says so', async (label, header, warning) => {
    const userId = `settings-bad-${label.replace(/\W+/g, '-')}`;

    const response = await deliver(stack, '/segment', [segmentEvent('track', { userId })], { headers: { 'x-segment-settings': header } });
    await stack.drain();

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ success: true, accepted: 1, rejected: 0, errors: [], warnings: [warning] });
    expect(await storedFor(stack, 'track', userId)).toHaveLength(1);
  });
});

describe.each(EVENT_ROUTES)('401: %s', (route) => {
  it('refuses a request without credentials, with WWW-Authenticate', async () => {
    const { path, text } = requestFor(stack, route, [segmentEvent('track', { userId: 'nobody' })]);

    const response = await stack.send(path, undefined, { auth: null, raw: text });

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(WWW_AUTHENTICATE);
    expect(response.body.message).toMatch(/^no credentials: /);
  });
});

describe('403: a disabled source', () => {
  let key: string;
  beforeAll(async () => {
    await stack.admin.createSource('src-disabled');
    ({ key } = await stack.admin.createKey('src-disabled'));
    await stack.admin.setWebhookSecret('src-disabled', 'disabled-secret');
    await stack.admin.setDisabled('src-disabled', true);
  });

  it.each(['/v1/track', '/v1/batch', '/v1/import', '/segment'])('%s refuses its key', async (path) => {
    const event = segmentEvent('track', { userId: 'off' });

    const response = await stack.send(path, path.endsWith('batch') || path.endsWith('import') ? { batch: [event] } : event, { auth: key });

    expect(response.status).toBe(403);
    expect(response.body.message).toBe('source "src-disabled" is disabled');
  });

  it.each([
    ['a valid signature', 'x-signature'],
    ['its own key', 'authorization'],
  ])('/webhook/{sourceId} refuses %s', async (_case, header) => {
    const { signWebhookPayload } = await import('../../lib/ingest/webhook');
    const text = JSON.stringify(segmentEvent('track', { userId: 'off' }));
    const headers: Record<string, string> =
      header === 'x-signature'
        ? { 'x-signature': signWebhookPayload('disabled-secret', text) }
        : { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` };

    const response = await stack.send('/webhook/src-disabled', undefined, { auth: null, headers, raw: text });

    expect(response.status).toBe(403);
    expect(response.body.message).toBe('source "src-disabled" is disabled');
  });
});

describe('404 and 405', () => {
  it.each([
    ['POST', '/v2/track', 'no route for POST /v2/track'],
    ['POST', '/segment/extra', 'no route for POST /segment/extra'],
    [
      'POST',
      '/v1/delete',
      'no route for POST /v1/delete; event routes are /v1/identify, /v1/track, /v1/page, /v1/screen, /v1/group, /v1/alias and /v1/batch',
    ],
    ['POST', '/webhook', 'no route for POST /webhook'],
    ['POST', '/webhook/a/b', 'no route for POST /webhook/a/b'],
    ['POST', '/webhook/no-such-source', 'no source "no-such-source": check the source id in the webhook URL'],
    ['POST', '/webhook/bad%ZZ', 'no route for POST /webhook/bad%ZZ: the path is not valid percent-encoding'],
    ['POST', '/webhook/not%20an%20id', 'no such source: a source id is 1-64 letters, digits, "-" or "_"'],
  ])('%s %s: 404', async (method, path, message) => {
    const response = await stack.send(path, segmentEvent('track', { userId: 'lost' }), {
      method,
      headers: { 'x-signature': '0'.repeat(40) },
    });

    expect(response.status).toBe(404);
    expect(response.body.message).toBe(message);
  });

  it.each([
    ['GET', '/segment', 'POST'],
    ['PUT', '/segment', 'POST'],
    ['GET', '/webhook/src-test', 'POST, PUT, PATCH'],
    ['DELETE', '/webhook/src-test', 'POST, PUT, PATCH'],
    ['GET', '/v1/batch', 'POST'],
    ['PUT', '/v1/track', 'POST'],
    ['POST', '/health', 'GET, HEAD'],
  ])('%s %s: 405 with Allow: %s', async (method, path, allow) => {
    const response = await stack.send(path, undefined, { method });

    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    expect(response.body.message).toBe(`${method} is not allowed on ${path}; use ${allow.split(', ').join(' or ')}`);
  });
});

describe('413: limits, checked before parsing, nothing quarantined', () => {
  let small: TestStack;
  beforeAll(async () => {
    small = await startTestStack({
      env: { MAX_REQUEST_BYTES: '65536', MAX_BATCH_BYTES: '65536', MAX_EVENT_BYTES: '4096', MAX_WEBHOOK_EVENTS: '5' },
    });
  });
  afterAll(async () => {
    await small.stop();
  });

  const limits: Record<EventRoute, number> = {
    '/v1/{type}': 4096,
    '/v1/batch': 65536,
    '/v1/import': 65536,
    '/segment': 65536,
    '/webhook (one event)': 65536,
    '/webhook (array)': 65536,
  };

  it.each(EVENT_ROUTES)('%s refuses a body over its limit even when it is not JSON', async (route) => {
    const text = 'x'.repeat(limits[route] + 1);

    const response = await deliver(small, route, [segmentEvent('track')], { text });

    expect(response.status).toBe(413);
    expect(response.body.message).toBe(`request body is ${limits[route] + 1} bytes; the limit for this route is ${limits[route]}`);
  });

  it.each(EVENT_ROUTES)('%s refuses a gzip body that inflates past its limit (a zip bomb)', async (route) => {
    const bomb = gzipSync(Buffer.alloc(2 * 1024 * 1024, 0x20));
    const event = segmentEvent('track');
    const { path } = requestFor(small, route, [event]);

    const response = await small.send(path, undefined, {
      auth: route.startsWith('/webhook') ? null : undefined,
      headers: { 'content-encoding': 'gzip', 'x-signature': '0'.repeat(40) },
      raw: bomb,
    });

    expect(bomb.length).toBeLessThan(limits[route]);
    expect(response.status).toBe(413);
    expect(response.body.message).toBe(`request body inflates to more than ${limits[route]} bytes, the limit for this route`);
  });

  it('refuses a webhook array over MAX_WEBHOOK_EVENTS', async () => {
    const response = await deliver(
      small,
      '/webhook (array)',
      Array.from({ length: 6 }, () => segmentEvent('track')),
    );

    expect(response.status).toBe(413);
    expect(response.body.message).toBe("the array has 6 events; the limit is 5 (set Segment's batch size at or below it)");
  });

  it('quarantines none of the refused requests', async () => {
    await small.drain();

    expect(await small.scan('rejected')).toEqual([]);
  });
});

describe.each(EVENT_ROUTES)('415: %s', (route) => {
  it.each([
    [{ contentType: 'application/json; charset=iso-8859-1' }, 'charset "iso-8859-1" is not supported; send UTF-8'],
    [{ headers: { 'content-encoding': 'br' } }, 'Content-Encoding "br" is not supported; send gzip or no encoding'],
  ])('refuses %j', async (options, message) => {
    const response = await deliver(stack, route, [segmentEvent('track')], options);

    expect(response.status).toBe(415);
    expect(response.body.message).toBe(message);
  });
});

describe('503: the queue does not take the events', () => {
  let api: ApiServer;
  let dead: TestStack;
  beforeAll(async () => {
    // A real SQS client aimed at a port where nothing listens: the emulator cannot be made to fail.
    const port = await freePort();
    const config = {
      ...stack.config,
      queueUrl: `http://127.0.0.1:${port}/000000000000/gone`,
      sqsEndpoint: `http://127.0.0.1:${port}`,
      enqueueBudgetMs: 300,
    };
    api = await startApiServer(createIngestHandler(ingestDepsFrom(config, createClients(config), silentLog)), 0);
    dead = { ...stack, url: api.url, send: (path, body, opts) => sendTo(api.url, stack.key, path, body, opts) };
  });
  afterAll(async () => {
    await api.close();
  });

  it.each(EVENT_ROUTES)('%s answers 503 with Retry-After', async (route) => {
    const response = await deliver(dead, route, [segmentEvent('track')]);

    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('10');
    expect(response.body.message).toBe('the queue did not accept 1 of 1 messages in time; retry later');
  });
});

describe.each(EVENT_ROUTES)('never a 500: %s', (route) => {
  const deep = `{"type":"track","event":"x","userId":"u","properties":{"a":${'['.repeat(3000)}${']'.repeat(3000)}}}`;
  it.each([
    ['a Basic header that is not base64', { headers: { authorization: 'Basic !!!' } }],
    ['Basic credentials with an empty username', { headers: { authorization: `Basic ${Buffer.from(':').toString('base64')}` } }],
    ['an unknown Authorization scheme', { headers: { authorization: 'Negotiate abc' } }],
    ['a 10 KB key', { headers: { authorization: `Bearer ${'k'.repeat(10_000)}` } }],
    ['a signature that is not hex', { headers: { 'x-signature': 'zz' } }],
    [
      'bytes that are not UTF-8',
      { text: '\uFFFD', headers: { 'content-type': 'application/json' }, raw: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) },
    ],
    ['gzip headers over a body that is not gzip', { gzip: false, headers: { 'content-encoding': 'gzip' } }],
    ['JSON nested 3000 levels deep', { text: deep }],
    ['JSON nested 3000 levels deep in a batch', { text: `{"batch":[${deep}]}` }],
    ['an array nested 3000 levels deep', { text: `[${deep}]` }],
    ['a number', { text: '1e999' }],
  ] as const)('%s', async (_case, options) => {
    const event = segmentEvent('track', { userId: 'hostile' });
    const { path } = requestFor(stack, route, [event]);

    const response =
      'raw' in options
        ? await stack.send(path, undefined, {
            auth: route.startsWith('/webhook') ? null : undefined,
            headers: { ...options.headers, 'x-signature': '0'.repeat(40) },
            raw: options.raw,
          })
        : await deliver(stack, route, [event], options);

    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThan(500);
    expect(response.headers.get('content-type')).toBe('application/json');
    if (response.status !== 200) expect(typeof response.body.message).toBe('string');
  });
});
