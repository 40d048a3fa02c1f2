/**
 * Authentication on the Tracking API routes (docs/spec.md section 3) against keys stored in DynamoDB Local.
 */
import { createAuthenticator } from '../../lib/ingest/auth';
import { hashKey } from '../../lib/tables/sources';
import { segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  // No cache, so a revocation is visible to the very next request.
  stack = await startTestStack({ env: { KEY_CACHE_SECONDS: '0' } });
});

afterAll(async () => {
  await stack.stop();
});

const event = () => segmentEvent('track', { userId: 'auth-user' });

describe('credentials', () => {
  it('accepts the key as the Basic username with an empty password', async () => {
    const response = await stack.send('/v1/track', event());
    expect(response.status).toBe(200);
  });

  it('accepts the key as a Bearer token', async () => {
    const response = await stack.send('/v1/track', event(), { auth: null, headers: { authorization: `Bearer ${stack.key}` } });
    expect(response.status).toBe(200);
  });

  it('accepts the key as writeKey in the body, and does not store it', async () => {
    const body = { ...event(), userId: 'writekey-user', writeKey: stack.key };

    const response = await stack.send('/v1/track', body, { auth: null });
    await stack.drain();

    expect(response.status).toBe(200);
    const [item] = (await stack.scan('track')).filter((i) => i.userId === 'writekey-user');
    expect(item).toBeDefined();
    expect(item?.writeKey).toBeUndefined();
    expect(JSON.stringify(item)).not.toContain(stack.key);
  });

  it('accepts writeKey at the top of a batch', async () => {
    const response = await stack.send('/v1/batch', { batch: [event()], writeKey: stack.key }, { auth: null });
    expect(response.status).toBe(200);
  });

  it.each([
    [
      'no credentials',
      null,
      undefined,
      'no credentials: send the API key as the Basic auth username, as a Bearer token, or as "writeKey" in the body',
    ],
    ['an unknown key', 'sk_unknown', undefined, 'unknown API key'],
    [
      'an empty Basic username',
      null,
      `Basic ${Buffer.from(':').toString('base64')}`,
      'the Basic credentials have an empty username; put the API key there',
    ],
    ['an unsupported scheme', null, 'Digest abc', 'unsupported Authorization scheme "Digest"; use Basic or Bearer'],
  ])('answers 401 with WWW-Authenticate for %s', async (_name, auth, authorization, message) => {
    const response = await stack.send('/v1/track', event(), { auth, headers: authorization ? { authorization } : {} });

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="segment-ingest"');
    expect(response.body).toEqual({ message });
  });

  it('answers 401 for a revoked key', async () => {
    const { key } = await stack.admin.createKey(stack.sourceId);
    expect((await stack.send('/v1/track', event(), { auth: key })).status).toBe(200);

    await stack.admin.revokeKey(key);
    const response = await stack.send('/v1/track', event(), { auth: key });

    expect(response.status).toBe(401);
    expect(response.body.message).toBe(`API key ${key.slice(0, 7)}… was revoked`);
  });

  it('answers 403 when the source is disabled, and 200 again once it is enabled', async () => {
    await stack.admin.createSource('paused');
    const { key } = await stack.admin.createKey('paused');
    await stack.admin.setDisabled('paused', true);

    const refused = await stack.send('/v1/track', event(), { auth: key });
    await stack.admin.setDisabled('paused', false);
    const accepted = await stack.send('/v1/track', event(), { auth: key });

    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ message: 'source "paused" is disabled' });
    expect(accepted.status).toBe(200);
  });

  it('stores only the SHA-256 hash of a key', async () => {
    const keys = await stack.admin.listKeys(stack.sourceId);
    expect(keys.map((k) => k.keyHash)).toContain(hashKey(stack.key));
    expect(JSON.stringify(keys)).not.toContain(stack.key);
  });
});

describe('the key cache', () => {
  it('keeps a revoked key working only until the cache lifetime ends', async () => {
    // Prepare: a 60 s cache and a clock the test moves.
    const { key } = await stack.admin.createKey(stack.sourceId);
    let clock = 1_000_000;
    const auth = createAuthenticator({
      documents: stack.clients.documents,
      tables: stack.config.tables,
      cacheSeconds: 60,
      now: () => clock,
    });
    await auth.authenticateKey(key);

    // Act
    await stack.admin.revokeKey(key);
    clock += 59_000;
    const stillCached = await auth.authenticateKey(key);
    clock += 2_000;

    // Assess
    expect(stillCached.sourceId).toBe(stack.sourceId);
    await expect(auth.authenticateKey(key)).rejects.toThrow('was revoked');
  });
});
