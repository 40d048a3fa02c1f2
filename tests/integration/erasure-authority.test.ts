/**
 * Issue 19, each case as the attacker sent it: who may erase (key scopes, signed webhook deletes),
 * how far a delete's cut-off reaches, and identities that never share a partition. Every request
 * below answered 200 and erased on main 331ea64.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { signWebhookPayload } from '../../lib/ingest/webhook';
import { hashKey } from '../../lib/tables/sources';
import { watermarkKey } from '../../lib/tables/erasures';
import { EXIT } from '../../cli/core/errors';
import { cli } from '../support/cli';
import { startTestStack, type TestStack, type TestResponse } from '../support/stack';

let stack: TestStack;
/** The key the page embeds: `keys create --source shop-web`, no other flag. */
let pageKey: string;

beforeAll(async () => {
  stack = await startTestStack();
  expect((await cli(stack, ['sources', 'create', 'shop-web'])).code).toBe(EXIT.ok);
  const origins = await cli(stack, ['sources', 'allow-origin', 'shop-web', 'https://shop.example', 'https://*.shop.example']);
  expect(origins.code).toBe(EXIT.ok);
  const created = await cli(stack, ['keys', 'create', '--source', 'shop-web']);
  expect(created.code).toBe(EXIT.ok);
  pageKey = created.stdout.trim();
  await stack.admin.setWebhookSecret('shop-web', 'shop-web-webhook-secret');
});

afterAll(async () => {
  await stack.stop();
});

/** `curl -u "$KEY:" [-H ...] -d '<body>' <url>`: curl -d sends a form content type. */
function curl(key: string, path: string, body: string, headers: Record<string, string> = {}): Promise<TestResponse> {
  return stack.send(path, undefined, {
    auth: key,
    raw: body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
}

/** The site's traffic for `userId`: a track and an identify through the Tracking API, stored. */
async function siteTraffic(userId: string, key = pageKey): Promise<void> {
  const track = await stack.send('/v1/track', { userId, event: 'Viewed', timestamp: new Date().toISOString() }, { auth: key });
  const identify = await stack.send('/v1/identify', { userId, traits: { plan: 'pro' } }, { auth: key });
  expect([track.status, identify.status]).toEqual([200, 200]);
}

async function eventsOf(sourceId: string, flag: '--user' | '--anonymous', id: string): Promise<Array<Record<string, unknown>>> {
  const result = await cli(stack, ['events', '--source', sourceId, flag, id]);
  expect(result.code).toBe(EXIT.ok);
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function erased(sourceId: string, userId: string): Promise<boolean> {
  const result = await cli(stack, ['erasures', 'show', '--source', sourceId, '--user', userId]);
  return result.stdout.includes('was erased');
}

async function quarantined(sourceId: string, userId: string): Promise<Array<Record<string, unknown>>> {
  return (await stack.scanRaw('rejected')).filter((item) => item.sourceId === sourceId && String(item.raw).includes(userId));
}

describe("a browser's public key (scope events) never erases", () => {
  it('refuses the delete on /segment with 403 naming the scope, quarantines it, and keeps the user', async () => {
    await siteTraffic('victim-1');
    await stack.drain();

    // Act: the exact request of the issue
    const response = await curl(pageKey, '/segment', '{"type":"delete","userId":"victim-1"}');
    await stack.drain();

    // Assess
    expect(response.status).toBe(403);
    expect(response.body.message).toContain('scope "events"');
    expect(response.body.message).toContain('"destination"');
    expect(await eventsOf('shop-web', '--user', 'victim-1')).toHaveLength(2);
    expect(await erased('shop-web', 'victim-1')).toBe(false);
    const [record] = await quarantined('shop-web', 'victim-1');
    expect(record).toMatchObject({ route: '/segment', reasons: [expect.stringContaining('scope "events"')] });
  });

  it('refuses it from an allowed page on /webhook/{sourceId} too', async () => {
    await siteTraffic('victim-2');
    await stack.drain();

    // Act
    const response = await curl(pageKey, '/webhook/shop-web', '{"type":"delete","userId":"victim-2"}', {
      origin: 'https://shop.example',
    });
    await stack.drain();

    // Assess
    expect(response.status).toBe(403);
    expect(response.body.message).toContain('scope "events"');
    expect(await eventsOf('shop-web', '--user', 'victim-2')).toHaveLength(2);
    expect(await erased('shop-web', 'victim-2')).toBe(false);
    expect(await quarantined('shop-web', 'victim-2')).toEqual([expect.objectContaining({ route: '/webhook' })]);
  });

  it('refuses it on the Tracking API with 403 naming the scope, and keeps the batch events beside it', async () => {
    const batch = {
      batch: [
        { type: 'track', userId: 'victim-3', event: 'Viewed' },
        { type: 'delete', userId: 'victim-3' },
      ],
    };

    // Act
    const alone = await curl(pageKey, '/v1/batch', JSON.stringify({ batch: [{ type: 'delete', userId: 'victim-3' }] }));
    const mixed = await curl(pageKey, '/v1/batch', JSON.stringify(batch));
    await stack.drain();

    // Assess
    expect(alone.status).toBe(403);
    expect(alone.body.errors).toEqual([expect.objectContaining({ index: 0, message: expect.stringContaining('scope "events"') })]);
    expect(mixed.status).toBe(200);
    expect(mixed.body).toMatchObject({ accepted: 1, rejected: 1 });
    expect(await eventsOf('shop-web', '--user', 'victim-3')).toHaveLength(1);
  });

  it('lets a destination key erase through /segment', async () => {
    const created = await cli(stack, ['keys', 'create', '--source', 'shop-web', '--scope', 'destination']);
    const destinationKey = created.stdout.trim();
    await siteTraffic('leaver-1');
    await stack.drain();

    // Act
    const response = await curl(destinationKey, '/segment', '{"type":"delete","userId":"leaver-1"}');
    await stack.drain();

    // Assess
    expect(response.status).toBe(200);
    expect(await eventsOf('shop-web', '--user', 'leaver-1')).toEqual([]);
    expect(await erased('shop-web', 'leaver-1')).toBe(true);
  });

  it('keeps an unscoped key (made before scopes) erasing, and flags it in keys list and status', async () => {
    const legacyKey = 'sk_legacyUnscopedKeyAAAAAAAAAAAAAAAAAAAAAA';
    await stack.clients.documents.send(
      new PutCommand({
        TableName: stack.config.tables.keys,
        Item: {
          keyHash: hashKey(legacyKey),
          sourceId: 'shop-web',
          keyPrefix: legacyKey.slice(0, 7),
          createdAt: '2026-01-01T00:00:00.000Z',
        },
      }),
    );
    await siteTraffic('leaver-2');
    await stack.drain();

    // Act
    const response = await curl(legacyKey, '/segment', '{"type":"delete","userId":"leaver-2"}');
    await stack.drain();
    const list = await cli(stack, ['keys', 'list', '--source', 'shop-web']);
    const json = await cli(stack, ['keys', 'list', '--source', 'shop-web', '--json']);
    const status = await cli(stack, ['status', '--rejections', '0']);

    // Assess
    expect(response.status).toBe(200);
    expect(await erased('shop-web', 'leaver-2')).toBe(true);
    expect(list.stdout).toMatch(/^sk_lega… +shop-web +unscoped +active/m);
    expect(list.stdout).toMatch(/^\S+… +shop-web +events +active/m);
    expect(list.stdout).toMatch(/^\S+… +shop-web +destination +active/m);
    expect(list.stderr).toContain('1 active key(s) without a scope (sk_lega…)');
    expect(list.stderr).toContain('docs/keys-and-scopes.md');
    const scopes = json.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { scope: string }).scope);
    expect(scopes.sort()).toEqual(['destination', 'events', 'unscoped']);
    expect(status.stdout).toContain('1 active key(s) without a scope (sk_lega…)');
  });
});

describe('a captured signed webhook request cannot carry appended deletes', () => {
  const secret = 'shop-web-webhook-secret';
  const captured = { type: 'track', userId: 'buyer-1', event: 'Order Completed', messageId: 'captured-1' };
  const signature = signWebhookPayload(secret, JSON.stringify(captured));

  it('accepts the signed first element but refuses the delete appended to it', async () => {
    await siteTraffic('someone');
    await stack.drain();

    // Act: the captured event and its X-Signature, with a delete appended
    const body = `[${JSON.stringify(captured)}, {"type":"delete","userId":"someone"}]`;
    const response = await stack.send('/webhook/shop-web', undefined, { auth: null, raw: body, headers: { 'x-signature': signature } });
    await stack.drain();

    // Assess
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ accepted: 1, rejected: 1 });
    expect(response.body.errors).toEqual([
      expect.objectContaining({ index: 1, message: expect.stringContaining('only as the signed first element') }),
    ]);
    expect(await erased('shop-web', 'someone')).toBe(false);
    expect(await eventsOf('shop-web', '--user', 'someone')).toHaveLength(2);
    expect(await quarantined('shop-web', 'someone')).toHaveLength(1);
  });

  it('accepts a delete that is itself the signed first element, or under a whole-body signature', async () => {
    const deletion = { type: 'delete', userId: 'signed-leaver', messageId: 'del-signed-1' };
    const whole = JSON.stringify([{ type: 'delete', userId: 'whole-leaver', messageId: 'del-whole-1' }]);

    // Act
    const first = await stack.send('/webhook/shop-web', undefined, {
      auth: null,
      raw: JSON.stringify([deletion]),
      headers: { 'x-signature': signWebhookPayload(secret, JSON.stringify(deletion)) },
    });
    const wholeBody = await stack.send('/webhook/shop-web', undefined, {
      auth: null,
      raw: whole,
      headers: { 'x-signature': signWebhookPayload(secret, whole) },
    });
    await stack.drain();

    // Assess
    expect([first.status, wholeBody.status]).toEqual([200, 200]);
    expect(await erased('shop-web', 'signed-leaver')).toBe(true);
    expect(await erased('shop-web', 'whole-leaver')).toBe(true);
  });

  it('takes an appended delete only when a destination key comes with the signature, not an events key', async () => {
    const destination = (await cli(stack, ['keys', 'create', '--source', 'shop-web', '--scope', 'destination'])).stdout.trim();
    const body = (userId: string) => `[${JSON.stringify(captured)}, {"type":"delete","userId":"${userId}"}]`;
    const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

    // Act
    const withPageKey = await stack.send('/webhook/shop-web', undefined, {
      raw: body('keyed-1'),
      headers: { 'x-signature': signature, authorization: basic(pageKey) },
    });
    const withDestinationKey = await stack.send('/webhook/shop-web', undefined, {
      raw: body('keyed-2'),
      headers: { 'x-signature': signature, authorization: basic(destination) },
    });
    await stack.drain();

    // Assess
    expect(withPageKey.status).toBe(200);
    expect(withPageKey.body).toMatchObject({ accepted: 1, rejected: 1 });
    expect(withDestinationKey.status).toBe(200);
    expect(withDestinationKey.body).toMatchObject({ accepted: 2, rejected: 0 });
    expect(await erased('shop-web', 'keyed-1')).toBe(false);
    expect(await erased('shop-web', 'keyed-2')).toBe(true);
  });

  it('with `sources set-webhook --batching off`, takes only whole-body signatures', async () => {
    // A source of its own: the ingest function caches source records (60 s), so shop-web's would keep batching on.
    await stack.admin.createSource('shop-web-unbatched');
    await stack.admin.setWebhookSecret('shop-web-unbatched', secret);
    const set = await cli(stack, ['sources', 'set-webhook', 'shop-web-unbatched', '--batching', 'off']);
    const single = JSON.stringify(captured);

    // Act
    const appended = await stack.send('/webhook/shop-web-unbatched', undefined, {
      auth: null,
      raw: `[${single}, {"type":"delete","userId":"someone"}]`,
      headers: { 'x-signature': signature },
    });
    const whole = await stack.send('/webhook/shop-web-unbatched', undefined, {
      auth: null,
      raw: single,
      headers: { 'x-signature': signature },
    });

    // Assess
    expect(set.code).toBe(EXIT.ok);
    expect(set.stdout).toContain('X-Signature must cover the whole body only');
    const listed = (await cli(stack, ['sources', 'list', '--json'])).stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { sourceId: string; webhookBatching: boolean });
    expect(listed.find((source) => source.sourceId === 'shop-web-unbatched')?.webhookBatching).toBe(false);
    expect(listed.find((source) => source.sourceId === 'shop-web')?.webhookBatching).toBe(true);
    expect(appended.status).toBe(401);
    expect(appended.body.message).toContain('batching is off');
    expect(whole.status).toBe(200);
  });
});

describe("a delete's cut-off never reaches the user's future events", () => {
  it('a delete dated now + 4 min erases what came before it, and drops nothing the user sends after it', async () => {
    const destination = (await cli(stack, ['keys', 'create', '--source', 'shop-web', '--scope', 'destination'])).stdout.trim();
    await siteTraffic('future-victim');
    await stack.drain();
    const fourMinutesAhead = new Date(Date.now() + 4 * 60_000).toISOString();
    const sentAt = Date.now();

    // Act: the delete dated 4 minutes ahead, then the user's live traffic
    const deletion = await curl(destination, '/segment', `{"type":"delete","userId":"future-victim","timestamp":"${fourMinutesAhead}"}`);
    await stack.drain();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await siteTraffic('future-victim');
    await stack.drain();

    // Assess: the history is gone, the new events are stored, the watermark is not in the future
    expect(deletion.status).toBe(200);
    const events = await eventsOf('shop-web', '--user', 'future-victim');
    expect(events).toHaveLength(2);
    expect(events.every((e) => Date.parse(String(e.receivedAt)) > sentAt)).toBe(true);
    const watermark = (await stack.scanRaw('erasures')).find((item) => item.pk === watermarkKey('shop-web').pk);
    expect(Date.parse(String(watermark?.cutoff))).toBeLessThanOrEqual(Date.now());
  });
});

describe('userIds and anonymous ids never share a partition', () => {
  it('a delete of userId anon:anon-visitor-1 leaves the anonymous visitor anon-visitor-1 alone', async () => {
    const destination = (await cli(stack, ['keys', 'create', '--source', 'shop-web', '--scope', 'destination'])).stdout.trim();
    const page = await stack.send('/v1/page', { anonymousId: 'anon-visitor-1', name: 'Home' }, { auth: pageKey });
    const user = await stack.send('/v1/track', { userId: 'anon:anon-visitor-1', event: 'Signed Up' }, { auth: pageKey });
    expect([page.status, user.status]).toEqual([200, 200]);
    await stack.drain();
    expect(await eventsOf('shop-web', '--anonymous', 'anon-visitor-1')).toEqual([
      expect.objectContaining({ type: 'page', anonymousId: 'anon-visitor-1' }),
    ]);
    expect(await eventsOf('shop-web', '--user', 'anon:anon-visitor-1')).toEqual([
      expect.objectContaining({ type: 'track', userId: 'anon:anon-visitor-1' }),
    ]);

    // Act
    const response = await curl(destination, '/segment', '{"type":"delete","userId":"anon:anon-visitor-1"}');
    await stack.drain();

    // Assess
    expect(response.status).toBe(200);
    expect(await eventsOf('shop-web', '--user', 'anon:anon-visitor-1')).toEqual([]);
    expect(await eventsOf('shop-web', '--anonymous', 'anon-visitor-1')).toHaveLength(1);
  });
});

describe('items written before the partition rule stay readable and erasable, each by its own identity', () => {
  const old = '2026-01-05T10:00:00.000Z';
  /** An item as the old writer stored it: the userId kept as an attribute only when it started with `anon:`. */
  const legacyItem = (type: 'track' | 'page', pk: string, messageId: string, fields: Record<string, unknown>) =>
    stack.clients.documents.send(
      new PutCommand({
        TableName: stack.config.tables[type],
        Item: { pk, sk: `${old}#${messageId}`, _r: Date.parse(old), timestamp: old, _o: true, ...fields },
      }),
    );

  it('reads and erases userId anon:x, userId ~anon:x and anonymous id x apart, old and new items alike', async () => {
    const destination = (await cli(stack, ['keys', 'create', '--source', 'shop-web', '--scope', 'destination'])).stdout.trim();
    await legacyItem('track', 'shop-web#anon:x', 'old-user-anon-x', { event: 'Old', userId: 'anon:x' });
    await legacyItem('page', 'shop-web#anon:x', 'old-visitor-x', { name: 'Home' });
    await legacyItem('track', 'shop-web#~anon:x', 'old-user-tilde', { event: 'Old' });
    expect((await stack.send('/v1/track', { userId: 'anon:x', event: 'New' }, { auth: pageKey })).status).toBe(200);
    await stack.drain();
    const ids = async (flag: '--user' | '--anonymous', id: string) => (await eventsOf('shop-web', flag, id)).map((e) => e.messageId).sort();

    // Assess the reads
    expect(await ids('--user', 'anon:x')).toEqual([expect.any(String), 'old-user-anon-x'].sort());
    expect((await eventsOf('shop-web', '--user', 'anon:x')).every((e) => e.userId === 'anon:x')).toBe(true);
    expect(await eventsOf('shop-web', '--user', '~anon:x')).toEqual([
      expect.objectContaining({ messageId: 'old-user-tilde', userId: '~anon:x' }),
    ]);
    expect(await eventsOf('shop-web', '--anonymous', 'x')).toEqual([
      expect.objectContaining({ messageId: 'old-visitor-x', anonymousId: 'x' }),
    ]);

    // Act: erase anon:x, then ~anon:x
    expect((await curl(destination, '/segment', '{"type":"delete","userId":"anon:x"}')).status).toBe(200);
    await stack.drain();
    const afterFirst = { user: await ids('--user', 'anon:x'), tilde: await ids('--user', '~anon:x'), anon: await ids('--anonymous', 'x') };
    expect((await curl(destination, '/segment', '{"type":"delete","userId":"~anon:x"}')).status).toBe(200);
    await stack.drain();

    // Assess the erasures
    expect(afterFirst).toEqual({ user: [], tilde: ['old-user-tilde'], anon: ['old-visitor-x'] });
    expect(await ids('--user', '~anon:x')).toEqual([]);
    expect(await ids('--anonymous', 'x')).toEqual(['old-visitor-x']);
  });
});
