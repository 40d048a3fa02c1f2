/**
 * `GET /v1/auth` (lib/ingest/key-check.ts): names the source of a key, refuses what the event
 * routes refuse, and writes nothing. Segment's Actions destination checks its settings with it.
 */
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  // No cache, so a revocation or a disabled source shows at once.
  stack = await startTestStack({ env: { KEY_CACHE_SECONDS: '0' } });
});

afterAll(async () => {
  await stack.stop();
});

const check = (options: Parameters<TestStack['send']>[2] = {}) => stack.send('/v1/auth', undefined, { method: 'GET', ...options });

describe('GET /v1/auth', () => {
  it("names the key's source, by Basic or Bearer, and queues nothing", async () => {
    // Act
    const basic = await check();
    const bearer = await check({ auth: null, headers: { authorization: `Bearer ${stack.key}` } });
    await stack.drain();

    // Assess
    for (const answer of [basic, bearer]) {
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ sourceId: stack.sourceId, keyPrefix: stack.key.slice(0, 7) });
      expect(answer.headers.get('cache-control')).toBe('no-store');
    }
    expect(await stack.scanRaw('rejected')).toEqual([]);
  });

  it('refuses no key, an unknown key and a revoked key with 401, and a disabled source with 403', async () => {
    // Prepare
    await stack.admin.createSource('key-check-off');
    const { key: disabledKey } = await stack.admin.createKey('key-check-off');
    await stack.admin.setDisabled('key-check-off', true);
    const { key: revokedKey } = await stack.admin.createKey(stack.sourceId);
    await stack.admin.revokeKey(revokedKey);

    // Act
    const none = await check({ auth: null });
    const unknown = await check({ auth: 'not-a-key' });
    const revoked = await check({ auth: revokedKey });
    const disabled = await check({ auth: disabledKey });

    // Assess
    expect([none.status, unknown.status, revoked.status, disabled.status]).toEqual([401, 401, 401, 403]);
    expect(none.body.message).toMatch(/^no credentials/);
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="segment-ingest"');
    expect(unknown.body).toEqual({ message: 'unknown API key' });
    expect(revoked.body.message).toMatch(/was revoked$/);
    expect(disabled.body).toEqual({ message: 'source "key-check-off" is disabled' });
  });

  it('takes no event: a POST is answered 404 with the event routes named, and nothing is queued', async () => {
    const answer = await stack.send('/v1/auth', { type: 'track', event: 'x', userId: 'u' });
    await stack.drain();
    expect(answer.status).toBe(404);
    expect(answer.body.message).toMatch(/^no route for POST \/v1\/auth; event routes are /);
    expect(await stack.scan('track')).toEqual([]);
  });
});
