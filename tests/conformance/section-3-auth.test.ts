/**
 * docs/spec.md section 3: authentication. Keys (Basic, Bearer, `writeKey`), stored only as hashes and
 * revocable; webhook signatures over the body or a batched array's first element; webhook secret
 * rotation with a grace period; and nothing secret (or any event body) in the logs.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Log } from '../../lib/shared/log';
import { SourceAdminError } from '../../lib/admin/sources';
import { signWebhookPayload } from '../../lib/ingest/webhook';
import { segmentEvent } from '../support/events';
import { deliver, EVENT_ROUTES, requestFor, storedFor } from '../support/senders';
import { startTestStack, type TestResponse, type TestStack } from '../support/stack';

let stack: TestStack;
const logLines: string[] = [];
const capture: Log = {
  debug: (message, extra) => logLines.push(JSON.stringify({ message, ...extra })),
  info: (message, extra) => logLines.push(JSON.stringify({ message, ...extra })),
  warn: (message, extra) => logLines.push(JSON.stringify({ message, ...extra })),
  error: (message, extra) => logLines.push(JSON.stringify({ message, ...extra })),
};
/** Every key, secret and signature this file uses, and markers put in event bodies: none may reach a log. */
const neverLogged = new Set<string>();

beforeAll(async () => {
  // No key cache, so revocation and rotation are seen at once.
  stack = await startTestStack({ log: capture, env: { KEY_CACHE_SECONDS: '0' } });
  neverLogged.add(stack.key).add(stack.webhookSecret);
});

afterAll(async () => {
  await stack.stop();
});

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

/** POSTs `text` to the source's webhook with `headers` (no key unless given). */
function postWebhook(text: string | Buffer, headers: Record<string, string>, sourceId = stack.sourceId): Promise<TestResponse> {
  for (const value of Object.values(headers)) neverLogged.add(value);
  return stack.send(`/webhook/${sourceId}`, undefined, { auth: null, headers, raw: text });
}

/** A new source with a key and a webhook secret. */
async function newSource(sourceId: string, secret: string): Promise<{ key: string }> {
  await stack.admin.createSource(sourceId);
  const { key } = await stack.admin.createKey(sourceId);
  await stack.admin.setWebhookSecret(sourceId, secret);
  neverLogged.add(key).add(secret);
  return { key };
}

describe('API keys', () => {
  it.each(EVENT_ROUTES)('%s takes the key as the Basic username, with or without a password', async (route) => {
    const event = segmentEvent('track', { userId: 'basic' });
    const { path, text } = requestFor(stack, route, [event]);

    const plain = await stack.send(path, undefined, { raw: text, headers: { authorization: basic(stack.key) } });
    const withPassword = await stack.send(path, undefined, {
      raw: text,
      headers: { authorization: `Basic ${Buffer.from(`${stack.key}:ignored`).toString('base64')}` },
    });

    expect([plain.status, withPassword.status]).toEqual([200, 200]);
  });

  it.each(EVENT_ROUTES)('%s takes the key as a Bearer token', async (route) => {
    const { path, text } = requestFor(stack, route, [segmentEvent('track', { userId: 'bearer' })]);

    const response = await stack.send(path, undefined, { raw: text, headers: { authorization: `Bearer ${stack.key}` } });

    expect(response.status).toBe(200);
  });

  it.each(['/v1/{type}', '/v1/batch', '/v1/import'] as const)('%s takes "writeKey" in the body, and does not store it', async (route) => {
    const userId = `writekey-${route.length}`;
    const event = segmentEvent('identify', { userId });
    const { path, text } = requestFor(stack, route, [event]);
    const body = { ...(JSON.parse(text) as Record<string, unknown>), writeKey: stack.key };

    const response = await stack.send(path, body, { auth: null });
    await stack.drain();

    expect(response.status).toBe(200);
    const [item] = await storedFor(stack, 'identify', userId);
    expect(item).toBeDefined();
    expect(JSON.stringify(item)).not.toContain(stack.key);
  });

  it('/segment does not take "writeKey" in the body: there it is the Segment source\'s key, not ours', async () => {
    const response = await stack.send('/segment', segmentEvent('track', { userId: 'direct-writekey', writeKey: stack.key }), {
      auth: null,
    });

    expect(response.status).toBe(401);
    expect(response.body.message).toMatch(/^no credentials: set this service's API key as the destination's API key in Segment/);
  });

  it.each(['/v1/batch', '/segment', '/webhook (one event)'] as const)(
    '%s refuses an unknown key with 401 and WWW-Authenticate',
    async (route) => {
      const { path, text } = requestFor(stack, route, [segmentEvent('track')]);

      const response = await stack.send(path, undefined, {
        raw: text,
        headers: { authorization: basic('sk_unknown_key_0000000000000000000000000000') },
      });

      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Basic realm="segment-ingest"');
      expect(response.body.message).toBe('unknown API key');
    },
  );

  it('refuses a revoked key on every route', async () => {
    const { key } = await stack.admin.createKey(stack.sourceId);
    neverLogged.add(key);
    await stack.admin.revokeKey(key);

    const responses = await Promise.all(
      EVENT_ROUTES.map((route) => {
        const { path, text } = requestFor(stack, route, [segmentEvent('track')]);
        return stack.send(path, undefined, { raw: text, headers: { authorization: basic(key) } });
      }),
    );

    for (const response of responses) {
      expect(response.status).toBe(401);
      expect(response.body.message).toBe(`API key ${key.slice(0, 7)}… was revoked`);
    }
  });

  it('stores keys only as SHA-256 hashes', async () => {
    const keys = await stack.scan('keys');

    expect(JSON.stringify(keys)).not.toContain(stack.key);
    expect(keys.map((k) => k.keyHash)).toContain(createHash('sha256').update(stack.key).digest('hex'));
  });
});

describe('webhook X-Signature', () => {
  const events = [segmentEvent('track', { userId: 'signed-1' }), segmentEvent('identify', { userId: 'signed-2' })];

  it('accepts the HMAC-SHA1 of the whole body', async () => {
    const text = JSON.stringify(events[0]);

    const response = await postWebhook(text, { 'x-signature': signWebhookPayload(stack.webhookSecret, text) });

    expect(response.status).toBe(200);
  });

  it("accepts the HMAC of a batched array's first element as JSON.stringify prints it, however the body is laid out", async () => {
    const text = JSON.stringify(events, null, 2);

    const response = await postWebhook(text, { 'x-signature': signWebhookPayload(stack.webhookSecret, JSON.stringify(events[0])) });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ accepted: 2 });
  });

  it('accepts the HMAC of a whole batched array', async () => {
    const text = JSON.stringify(events);

    const response = await postWebhook(text, { 'x-signature': signWebhookPayload(stack.webhookSecret, text) });

    expect(response.status).toBe(200);
  });

  it('accepts upper-case hex', async () => {
    const text = JSON.stringify(events[0]);

    const response = await postWebhook(text, { 'x-signature': signWebhookPayload(stack.webhookSecret, text).toUpperCase() });

    expect(response.status).toBe(200);
  });

  it('accepts a gzip body signed as sent or as inflated', async () => {
    const text = JSON.stringify(events[0]);
    const gzipped = gzipSync(Buffer.from(text));

    const overInflated = await postWebhook(gzipped, {
      'content-encoding': 'gzip',
      'x-signature': signWebhookPayload(stack.webhookSecret, text),
    });
    const overSent = await postWebhook(gzipped, {
      'content-encoding': 'gzip',
      'x-signature': signWebhookPayload(stack.webhookSecret, gzipped),
    });

    expect([overInflated.status, overSent.status]).toEqual([200, 200]);
  });

  it.each([
    [
      'made with another secret',
      (text: string) => signWebhookPayload('another-secret', text),
      'X-Signature does not match the body: the shared secret in Segment\'s Webhooks settings differs from the one of source "src-test"',
    ],
    [
      'of another body',
      () => signWebhookPayload(stack.webhookSecret, '{"type":"track"}'),
      'X-Signature does not match the body: the shared secret in Segment\'s Webhooks settings differs from the one of source "src-test"',
    ],
    [
      "of the array's second element",
      () => signWebhookPayload(stack.webhookSecret, JSON.stringify(events[1])),
      'X-Signature does not match the body: the shared secret in Segment\'s Webhooks settings differs from the one of source "src-test"',
    ],
    ['not hex', () => 'sha1=abc', 'X-Signature must be the 40-character hex HMAC-SHA1 of the body'],
    ['empty', () => '', 'X-Signature must be the 40-character hex HMAC-SHA1 of the body'],
  ])('refuses a signature %s with 401', async (_case, sign, message) => {
    const text = JSON.stringify(events);

    const response = await postWebhook(text, { 'x-signature': sign(text) });

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="segment-ingest"');
    expect(response.body.message).toBe(message);
  });

  it('refuses a signature for a source that has no secret', async () => {
    await stack.admin.createSource('src-nosecret');
    const text = JSON.stringify(events[0]);

    const response = await postWebhook(text, { 'x-signature': signWebhookPayload(stack.webhookSecret, text) }, 'src-nosecret');

    expect(response.status).toBe(401);
    expect(response.body.message).toBe(
      'source "src-nosecret" has no webhook shared secret, so X-Signature cannot be checked; set one for the source, or authenticate with an API key',
    );
  });
});

describe('webhook API keys', () => {
  it.each([
    ['Basic', (key: string) => basic(key)],
    ['Bearer', (key: string) => `Bearer ${key}`],
  ])('accepts a key of the source (%s) without a signature', async (_scheme, header) => {
    const response = await postWebhook(JSON.stringify(segmentEvent('track')), { authorization: header(stack.key) });

    expect(response.status).toBe(200);
  });

  it('refuses a key of another source with 403', async () => {
    const { key } = await newSource('src-neighbour', 'neighbour-secret');

    const response = await postWebhook(JSON.stringify(segmentEvent('track')), { authorization: basic(key) });

    expect(response.status).toBe(403);
    expect(response.body.message).toBe(
      'this API key belongs to a different source; use a key of source "src-test" or its webhook shared secret',
    );
  });

  it('checks every credential presented: a valid key does not excuse a wrong signature, nor the reverse', async () => {
    const text = JSON.stringify(segmentEvent('track'));

    const wrongSignature = await postWebhook(text, { authorization: basic(stack.key), 'x-signature': signWebhookPayload('wrong', text) });
    const unknownKey = await postWebhook(text, {
      authorization: basic('sk_unknown_key_0000000000000000000000000000'),
      'x-signature': signWebhookPayload(stack.webhookSecret, text),
    });
    const both = await postWebhook(text, { authorization: basic(stack.key), 'x-signature': signWebhookPayload(stack.webhookSecret, text) });

    expect([wrongSignature.status, unknownKey.status, both.status]).toEqual([401, 401, 200]);
  });
});

describe('webhook secret rotation', () => {
  const text = JSON.stringify(segmentEvent('track', { userId: 'rotated' }));

  it('keeps the previous secret valid for 24 hours by default', async () => {
    await newSource('src-rotate', 'secret-old');
    neverLogged.add('secret-new');

    const { previousValidUntil } = await stack.admin.setWebhookSecret('src-rotate', 'secret-new');
    const old = await postWebhook(text, { 'x-signature': signWebhookPayload('secret-old', text) }, 'src-rotate');
    const current = await postWebhook(text, { 'x-signature': signWebhookPayload('secret-new', text) }, 'src-rotate');

    expect([old.status, current.status]).toEqual([200, 200]);
    expect(Date.parse(String(previousValidUntil)) - Date.now()).toBeGreaterThan(23.9 * 3600_000);
  });

  it('ends the previous secret at once with a grace of 0 (a leaked secret)', async () => {
    await newSource('src-leaked', 'leaked-old');
    neverLogged.add('leaked-new');

    await stack.admin.setWebhookSecret('src-leaked', 'leaked-new', { graceSeconds: 0 });
    const old = await postWebhook(text, { 'x-signature': signWebhookPayload('leaked-old', text) }, 'src-leaked');
    const current = await postWebhook(text, { 'x-signature': signWebhookPayload('leaked-new', text) }, 'src-leaked');

    expect([old.status, current.status]).toEqual([401, 200]);
  });

  it('refuses the previous secret once its grace period is over', async () => {
    await newSource('src-expiring', 'expiring-old');
    neverLogged.add('expiring-new');

    await stack.admin.setWebhookSecret('src-expiring', 'expiring-new', { graceSeconds: 1 });
    const during = await postWebhook(text, { 'x-signature': signWebhookPayload('expiring-old', text) }, 'src-expiring');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const after = await postWebhook(text, { 'x-signature': signWebhookPayload('expiring-old', text) }, 'src-expiring');

    expect([during.status, after.status]).toEqual([200, 401]);
  });

  it('a second rotation replaces the previous secret: only the last two are valid', async () => {
    await newSource('src-twice', 'twice-1');
    neverLogged.add('twice-2').add('twice-3');

    await stack.admin.setWebhookSecret('src-twice', 'twice-2');
    await stack.admin.setWebhookSecret('src-twice', 'twice-3');
    const statuses = await Promise.all(
      ['twice-1', 'twice-2', 'twice-3'].map(
        async (secret) => (await postWebhook(text, { 'x-signature': signWebhookPayload(secret, text) }, 'src-twice')).status,
      ),
    );

    expect(statuses).toEqual([401, 200, 200]);
  });

  it('refuses to set a secret for a source that does not exist, or an empty one', async () => {
    await expect(stack.admin.setWebhookSecret('src-missing', 'x')).rejects.toThrow(
      new SourceAdminError('source "src-missing" does not exist'),
    );
    await expect(stack.admin.setWebhookSecret(stack.sourceId, '')).rejects.toThrow(SourceAdminError);
  });
});

describe('logs', () => {
  it('never hold a key, a secret, a signature, Segment settings or an event body', async () => {
    // Prepare: markers in bodies, settings and ids, sent every way, valid and not
    const marker = 'MARKER-7f3a9c';
    neverLogged.add(marker);
    const event = segmentEvent('track', {
      userId: 'logged',
      properties: { secretNote: marker },
      traits: { email: `${marker}@example.com` },
    });
    const settings = Buffer.from(JSON.stringify({ apiKey: `${marker}-settings` })).toString('base64');
    for (const route of EVENT_ROUTES) await deliver(stack, route, [event], { headers: { 'x-segment-settings': settings } });
    for (const route of EVENT_ROUTES) await deliver(stack, route, [{ ...event, event: undefined }]);
    for (const route of EVENT_ROUTES) await deliver(stack, route, [event], { text: `{"broken": "${marker}"` });
    // V8's JSON errors quote about ten characters of the body, at its start or around the error.
    const start = 'Zq9xWv';
    neverLogged.add(start);
    for (const route of EVENT_ROUTES) await deliver(stack, route, [event], { text: `${start} is not json` });
    for (const route of EVENT_ROUTES)
      await deliver(stack, route, [event], { text: `{"aaaaaaaaaaaaaaaaaaaaaaaa": 1, "b": ${start}, "cccccccccccccccccccccccccccccc": 3}` });
    await deliver(stack, '/segment', [event], { headers: { 'x-segment-settings': `${marker}!!` } });
    await postWebhook(JSON.stringify(event), { 'x-signature': signWebhookPayload('not-the-secret', marker) });
    await deliver(stack, '/segment', [segmentEvent('delete', { userId: 'logged', timestamp: new Date().toISOString() })]);
    await stack.drain();

    // Assess
    const logs = logLines.join('\n');
    expect(logLines.length).toBeGreaterThan(20);
    for (const value of neverLogged) {
      if (value.length >= 6) expect({ value, found: logs.includes(value) }).toEqual({ value, found: false });
    }
    expect(logs).not.toContain(signWebhookPayload(stack.webhookSecret, JSON.stringify(event)));
  });
});
