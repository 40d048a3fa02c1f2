/**
 * `sources` and `keys` against a local stage: what each command changes in the tables, and that the
 * service sees the change (a new key works, a revoked one gets 401, a disabled source 403).
 */
import { hashKey } from '../../lib/tables/sources';
import { segmentEvent } from '../support/events';
import { cli } from '../support/cli';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  // No key cache, so a revocation or a disabled source shows at once.
  stack = await startTestStack({ env: { KEY_CACHE_SECONDS: '0' } });
});

afterAll(async () => {
  await stack.stop();
});

describe('sources', () => {
  it('creates a source with the given id and name, and lists it', async () => {
    const created = await cli(stack, ['sources', 'create', 'shop-web', '--name', 'Shop (web)']);
    const listed = await cli(stack, ['sources', 'list']);

    expect(created).toMatchObject({ code: 0, stdout: 'shop-web\n' });
    expect(await stack.admin.getSource('shop-web')).toMatchObject({ sourceId: 'shop-web', name: 'Shop (web)', disabled: false });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^SOURCE +NAME +STATE +WEBHOOK SECRET +KEYS +ORIGINS +CREATED$/m);
    expect(listed.stdout).toMatch(/^shop-web +Shop \(web\) +enabled +- +0 +any /m);
  });

  it('generates an id when none is given', async () => {
    const created = await cli(stack, ['sources', 'create']);

    const id = created.stdout.trim();
    expect(created.code).toBe(0);
    expect(id).toMatch(/^src-[0-9a-f]{12}$/);
    expect(await stack.admin.getSource(id)).toMatchObject({ sourceId: id });
  });

  it('refuses a source that exists, with a message and exit 2 (a bad argument)', async () => {
    await cli(stack, ['sources', 'create', 'twice']);

    const again = await cli(stack, ['sources', 'create', 'twice']);

    expect(again).toEqual({ code: 2, stdout: '', stderr: 'segment-ingest: source "twice" already exists\n' });
  });

  it('disables a source so its keys get 403, and enables it again', async () => {
    const event = segmentEvent('track');

    const disabled = await cli(stack, ['sources', 'disable', stack.sourceId]);
    const whileDisabled = await stack.send('/v1/track', event);
    const enabled = await cli(stack, ['sources', 'enable', stack.sourceId]);
    const afterwards = await stack.send('/v1/track', event);

    expect(disabled.code).toBe(0);
    expect(whileDisabled.status).toBe(403);
    expect(enabled.code).toBe(0);
    expect(afterwards.status).toBe(200);
  });

  it('says so when the source does not exist, with exit 2', async () => {
    const result = await cli(stack, ['sources', 'disable', 'nope']);

    expect(result).toMatchObject({ code: 2, stderr: 'segment-ingest: source "nope" does not exist\n' });
  });

  it('generates a webhook secret, prints it once on stdout, and stores it', async () => {
    const result = await cli(stack, ['sources', 'set-secret', stack.sourceId]);

    const secret = result.stdout.trim();
    expect(result.code).toBe(0);
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(result.stderr).toContain('shown once');
    expect((await stack.admin.getSource(stack.sourceId))?.webhookSecret).toBe(secret);
    expect((await cli(stack, ['sources', 'list'])).stdout).not.toContain(secret);
  });

  it('sets a given secret, from stdin so it stays out of the shell history', async () => {
    const result = await cli(stack, ['sources', 'set-secret', stack.sourceId, '--secret-stdin'], { stdin: 'my-shared-secret-1\n' });

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`^Webhook secret of source "${stack.sourceId}" set\\.( The previous secret stays valid until \\S+\\.)?\\n$`),
    );
    expect((await stack.admin.getSource(stack.sourceId))?.webhookSecret).toBe('my-shared-secret-1');
  });

  it('rotates a secret with a grace period for the previous one, or none with --grace-seconds 0', async () => {
    await cli(stack, ['sources', 'set-secret', stack.sourceId, '--secret-stdin'], { stdin: 'rotation-secret-1\n' });

    const graceful = await cli(stack, ['sources', 'set-secret', stack.sourceId, '--secret-stdin', '--grace-seconds', '3600'], {
      stdin: 'rotation-secret-2\n',
    });
    const kept = await stack.admin.getSource(stack.sourceId);
    const immediate = await cli(stack, ['sources', 'set-secret', stack.sourceId, '--secret-stdin', '--grace-seconds', '0'], {
      stdin: 'rotation-secret-3\n',
    });
    const dropped = await stack.admin.getSource(stack.sourceId);

    expect(graceful.stdout).toMatch(/The previous secret stays valid until 20\d\d-/);
    expect(kept).toMatchObject({ webhookSecret: 'rotation-secret-2', previousWebhookSecret: 'rotation-secret-1' });
    expect(immediate.stdout).toBe(`Webhook secret of source "${stack.sourceId}" set.\n`);
    expect(dropped?.webhookSecret).toBe('rotation-secret-3');
    expect(dropped?.previousWebhookSecret).toBeUndefined();
  });

  it('sets and removes a rate limit, which the endpoint enforces with 429', async () => {
    await stack.admin.createSource('limited-cli');
    const { key } = await stack.admin.createKey('limited-cli');

    const set = await cli(stack, ['sources', 'rate-limit', 'limited-cli', '1']);
    const burst = await stack.send('/v1/batch', { batch: [segmentEvent('track'), segmentEvent('track')] }, { auth: key });
    const over = await stack.send('/v1/track', segmentEvent('track'), { auth: key });
    const off = await cli(stack, ['sources', 'rate-limit', 'limited-cli', '--off']);
    const bad = await cli(stack, ['sources', 'rate-limit', 'limited-cli', '-3']);

    expect(set).toMatchObject({ code: 0, stdout: 'Source "limited-cli" is limited to 1 events/s per ingest instance.\n' });
    expect(burst.status).toBe(200);
    expect(over.status).toBe(429);
    expect(off).toMatchObject({ code: 0, stdout: 'Source "limited-cli" has no rate limit.\n' });
    expect((await stack.admin.getSource('limited-cli'))?.rateLimitPerSecond).toBeUndefined();
    expect(bad.code).toBe(2);
  });
});

describe('keys', () => {
  it('creates a key that is printed once, stored only as its hash, and accepted by the endpoint', async () => {
    const result = await cli(stack, ['keys', 'create', '--source', stack.sourceId]);
    const key = result.stdout.trim();

    const response = await stack.send('/v1/track', segmentEvent('track'), { auth: key });

    expect(result.code).toBe(0);
    expect(key).toMatch(/^sk_[A-Za-z0-9]{40}$/);
    const stored = (await stack.scan('keys')).find((k) => k.keyHash === hashKey(key));
    expect(stored).toMatchObject({ sourceId: stack.sourceId, keyPrefix: key.slice(0, 7) });
    expect(JSON.stringify(await stack.scan('keys'))).not.toContain(key);
    expect(response.status).toBe(200);
  });

  it('lists keys by prefix and hash, never the key', async () => {
    const result = await cli(stack, ['keys', 'list', '--source', stack.sourceId]);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^KEY +SOURCE +SCOPE +STATE +CREATED +REVOKED +HASH \(SHA-256\)$/m);
    expect(result.stdout).toContain(`${stack.key.slice(0, 7)}…`);
    expect(result.stdout).toContain(hashKey(stack.key).slice(0, 16));
    expect(result.stdout).not.toContain(stack.key);
  });

  it('revokes a key by its prefix, after which the endpoint answers 401', async () => {
    const key = (await cli(stack, ['keys', 'create', '--source', stack.sourceId])).stdout.trim();

    const revoked = await cli(stack, ['keys', 'revoke', `${key.slice(0, 7)}…`]);
    const response = await stack.send('/v1/track', segmentEvent('track'), { auth: key });
    const listed = await cli(stack, ['keys', 'list', '--source', stack.sourceId, '--json']);

    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`Key ${key.slice(0, 7)}… of source "${stack.sourceId}" revoked`);
    expect(response.status).toBe(401);
    const record = listed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((k) => k.keyPrefix === key.slice(0, 7));
    expect(typeof record?.revokedAt).toBe('string');
  });

  it('needs --source to create a key', async () => {
    const result = await cli(stack, ['keys', 'create']);

    expect(result).toMatchObject({ code: 2, stderr: 'segment-ingest: --source is required: the source the key belongs to\n' });
  });
});

describe('sources allow-origin', () => {
  const page = (origin: string) => stack.send('/v1/track', segmentEvent('track'), { headers: { origin } });

  it('adds origins, which the endpoint then enforces, and lists them', async () => {
    const added = await cli(stack, ['sources', 'allow-origin', stack.sourceId, 'https://Shop.example/', 'https://*.brand.example']);
    const shown = await cli(stack, ['sources', 'allow-origin', stack.sourceId]);
    const listed = await cli(stack, ['sources', 'list', '--json']);
    const statuses = [(await page('https://shop.example')).status, (await page('https://evil.example')).status];

    expect(added).toEqual({
      code: 0,
      stdout: 'https://shop.example\nhttps://*.brand.example\n',
      stderr: `Source "${stack.sourceId}" accepts pages of 2 origins; others get 403. Requests without an Origin header always pass.\n`,
    });
    expect(shown.stdout).toBe(added.stdout);
    const line = listed.stdout
      .trim()
      .split('\n')
      .map((text) => JSON.parse(text) as Record<string, unknown>)
      .find((s) => s.sourceId === stack.sourceId);
    expect(line?.allowedOrigins).toEqual(['https://shop.example', 'https://*.brand.example']);
    expect(statuses).toEqual([200, 403]);
  });

  it('removes origins; removing the last one leaves a list that takes no page, --any takes every page again', async () => {
    await cli(stack, ['sources', 'allow-origin', stack.sourceId, '--any']);
    await cli(stack, ['sources', 'allow-origin', stack.sourceId, 'https://shop.example']);

    const removed = await cli(stack, ['sources', 'allow-origin', stack.sourceId, '--remove', 'https://shop.example']);
    const whileNone = (await page('https://shop.example')).status;
    const listed = await cli(stack, ['sources', 'list']);
    const any = await cli(stack, ['sources', 'allow-origin', stack.sourceId, '--any']);
    const afterAny = (await page('https://evil.example')).status;

    expect(removed.code).toBe(0);
    expect(removed.stdout).toBe('');
    expect(removed.stderr).toContain('accepts no page (an empty list)');
    expect(whileNone).toBe(403);
    expect(listed.stdout).toMatch(new RegExp(`^${stack.sourceId} .* none `, 'm'));
    expect(any).toMatchObject({ code: 0, stdout: '*\n' });
    expect(afterAny).toBe(200);
    expect((await stack.admin.getSource(stack.sourceId))?.allowedOrigins).toBeUndefined();
  });

  it.each([
    [['https://shop.example/cart'], /has a path, query or credentials/],
    [['*'], /for every origin, use --any/],
    [['--any', 'https://shop.example'], /--any takes no ORIGIN/],
    [['--remove'], /--remove needs the ORIGINs to take off/],
    [['--any', '--none'], /give at most one of --any, --none/],
  ])('refuses %j with exit 2 and changes nothing', async (args, message) => {
    const result = await cli(stack, ['sources', 'allow-origin', stack.sourceId, ...args]);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect((await stack.admin.getSource(stack.sourceId))?.allowedOrigins).toBeUndefined();
  });

  it('loses no change when several are made at once: each is kept or fails with "changed meanwhile"', async () => {
    await stack.admin.createSource('origins-race');
    const origins = Array.from({ length: 6 }, (_, i) => `https://site${i}.example`);

    const results = await Promise.allSettled(origins.map((origin) => stack.admin.changeAllowedOrigins('origins-race', { add: [origin] })));

    const kept = origins.filter((_, i) => results[i]?.status === 'fulfilled');
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    expect(kept.length).toBeGreaterThan(0);
    expect(new Set(failures)).toEqual(
      new Set(failures.length > 0 ? ['the allowed origins of source "origins-race" changed meanwhile; try again'] : []),
    );
    expect([...((await stack.admin.getSource('origins-race'))?.allowedOrigins ?? [])].sort()).toEqual(kept.sort());
  });

  it('says so when an origin to remove is not listed, or the source does not exist', async () => {
    const fromAny = await cli(stack, ['sources', 'allow-origin', stack.sourceId, '--remove', 'https://shop.example']);
    const missing = await cli(stack, ['sources', 'allow-origin', 'nope']);

    expect(fromAny).toMatchObject({
      code: 2,
      stderr: `segment-ingest: source "${stack.sourceId}" accepts every origin: there is no list to remove from\n`,
    });
    expect(missing).toMatchObject({ code: 2, stderr: 'segment-ingest: source "nope" does not exist\n' });
  });
});
