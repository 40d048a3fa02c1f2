/**
 * Privacy policies on the emulators (docs/privacy.md): a policy set with the CLI, applied at ingest
 * on every event route, single and batched, to valid events and to what the quarantine keeps of
 * invalid ones; read back from the queue messages (received here before the worker gets them), the
 * event tables, the profiles, the quarantine and the log lines: no raw value anywhere, and each
 * hash equal to an HMAC computed here with the stage's key.
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { TABLE_NAMES } from '../../infra';
import { setPrivacyPolicy, preparePolicy } from '../../lib/admin/privacy-policies';
import { preparePlan, removeTrackingPlan, setTrackingPlan } from '../../lib/admin/tracking-plans';
import { createIngestHandler, ingestDepsFrom } from '../../lib/ingest/handler';
import { createWorker } from '../../lib/worker/process-batch';
import { toSqsRecord } from '../../local/sqs-trigger';
import { cli } from '../support/cli';
import { httpApiEvent, segmentEvent } from '../support/events';
import { deliverAll, EVENT_ROUTES, routeLabel } from '../support/senders';
import { startTestStack, type TestStack } from '../support/stack';
import { recordingLog } from '../support/worker-run';

let stack: TestStack;
const log = recordingLog();
const dir = mkdtempSync(path.join(tmpdir(), 'privacy-'));

beforeAll(async () => {
  // No key cache (a policy set applies to the next request), and the worker driven by `pump`.
  stack = await startTestStack({ env: { KEY_CACHE_SECONDS: '0' }, startWorker: false, log });
});

afterAll(async () => {
  await stack.stop();
});

/** The stage's privacy key as the test stack made it (`1:<hex>`). */
function stageKey(): string {
  return (stack.env.PRIVACY_HASH_KEY ?? '').replace(/^1:/, '');
}

const hmac = (value: string, key = stageKey(), version = 1) => `hmac-v${version}:${createHmac('sha256', key).update(value).digest('hex')}`;

const admin = () => ({ documents: stack.clients.documents, tables: stack.config.tables });

async function setPolicy(policy: unknown): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = path.join(dir, `policy-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, typeof policy === 'string' ? policy : JSON.stringify(policy));
  return cli(stack, ['sources', 'privacy', stack.sourceId, '--set', file]);
}

/** Receives every queued message (their bodies are returned), hands them to the worker as Lambda would, and deletes them. */
async function pump(): Promise<string[]> {
  const processBatch = createWorker(stack.workerDeps);
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await stack.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: stack.queues.queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((m) => m.Body ?? ''));
    const result = await processBatch({ Records: Messages.map((m) => toSqsRecord(m, 'arn:aws:sqs:us-east-1:000000000000:test')) }, 30_000);
    expect(result.batchItemFailures).toEqual([]);
    await stack.clients.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: stack.queues.queueUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
      }),
    );
  }
}

/** Everything stored: every table of the stage, as JSON text. */
async function everythingStored(): Promise<string> {
  const tables = await Promise.all(TABLE_NAMES.filter((t) => t !== 'sources').map((t) => stack.scanRaw(t)));
  return JSON.stringify(tables);
}

const RAW = {
  email: 'jane.raw@example.com',
  phone: ' +1 555 0100 ',
  note: 'note-raw-5521',
  password: 'hunter2-raw-pw',
  card: '4111111111111111',
  ssn: '123-45-6789',
  clientSecret: 'cs-raw-secret-9931',
  queryToken: 'qtok-raw-777',
  ip: '198.51.100.77',
  notJson: 'bodytext-raw-4410',
};

const POLICY = {
  ip: 'truncate',
  fields: [
    { path: 'userId', action: 'hash' },
    { path: 'traits.email', action: 'hash' },
    { path: 'context.traits.email', action: 'hash' },
    { path: 'traits.phone', action: 'sha256_for_ad_matching' },
    { path: 'traits.note', action: 'redact' },
    { path: 'properties.*.card', action: 'drop' },
    { path: 'context.page.url', action: 'redact_query', params: ['token'] },
  ],
  keys: [
    { preset: 'segment-red', action: 'drop' },
    { names: ['*secret*'], action: 'redact' },
  ],
};

const context = () => ({
  ip: RAW.ip,
  traits: { email: RAW.email },
  page: { url: `https://shop.example/p?token=${RAW.queryToken}&utm_source=mail`, path: '/p' },
  library: { name: 'analytics.js', version: '5.0.0' },
});

function identify(userId: string): Record<string, unknown> {
  return segmentEvent('identify', {
    userId,
    context: context(),
    traits: { email: RAW.email, phone: RAW.phone, note: RAW.note, password: RAW.password, plan: 'pro' },
  });
}

function track(userId: string): Record<string, unknown> {
  return segmentEvent('track', {
    userId,
    event: 'Order Completed',
    context: context(),
    properties: { payment: { card: RAW.card, brand: 'visa' }, ssn: RAW.ssn, mySecretCode: RAW.clientSecret, total: 10 },
  });
}

const rawUserId = (route: string) => routeLabel(route as (typeof EVENT_ROUTES)[number], 'cust-raw');

describe('a policy with every action, on every route', () => {
  let bodies: string[];
  let stored: string;

  beforeAll(async () => {
    expect(await setPolicy(POLICY)).toMatchObject({ code: 0 });
    for (const route of EVENT_ROUTES) {
      const userId = rawUserId(route);
      const valid = await deliverAll(stack, route, [identify(userId), track(userId)]);
      for (const response of valid) expect(response.status).toBe(200);
      // Invalid: a track without its name, carrying the same fields, alone and beside a valid one.
      const { event: _event, ...nameless } = track(userId);
      const invalid = await deliverAll(stack, route, [nameless, identify(userId)]);
      const refused = invalid.map((r) => (r.status === 400 ? 1 : Number(r.body.rejected)));
      expect({ route, refused: refused.reduce((a, b) => a + b, 0) }).toEqual({ route, refused: 1 });
    }
    const notJson = await stack.send('/v1/track', undefined, { raw: `{"email": "${RAW.email}", ${RAW.notJson}` });
    expect(notJson.status).toBe(400);
    bodies = await pump();
    stored = await everythingStored();
  });

  it('leaves no raw value in any queue message, table, quarantine record or log line', () => {
    const logs = JSON.stringify(log.lines);
    const userIds = EVENT_ROUTES.map(rawUserId);
    for (const [name, raw] of [...Object.entries(RAW), ...userIds.map((u) => ['userId', u])]) {
      const value = (raw as string).trim();
      expect({ name, queue: bodies.some((b) => b.includes(value)), stored: stored.includes(value), logs: logs.includes(value) }).toEqual({
        name,
        queue: false,
        stored: false,
        logs: false,
      });
    }
    expect(bodies.some((b) => b.includes(hmac(RAW.email)))).toBe(true);
  });

  it('stores each event with its fields hashed, redacted, dropped and truncated as the policy says', async () => {
    const identifies = await stack.scan('identify');
    const tracks = await stack.scan('track');
    for (const route of EVENT_ROUTES) {
      const userId = hmac(rawUserId(route));
      const stored = identifies.filter((e) => e.userId === userId);
      expect({ route, count: stored.length }).toEqual({ route, count: 2 });
      expect(stored[0]).toMatchObject({
        traits: {
          email: hmac(RAW.email),
          phone: createHash('sha256').update('+1 555 0100').digest('hex'),
          note: '[redacted]',
          plan: 'pro',
        },
        context: {
          ip: '198.51.100.0',
          traits: { email: hmac(RAW.email) },
          page: { url: 'https://shop.example/p?token=redacted&utm_source=mail' },
        },
      });
      expect(stored[0]?.traits).not.toHaveProperty('password');
      const [order] = tracks.filter((e) => e.userId === userId);
      expect(order?.properties).toEqual({ payment: { brand: 'visa' }, mySecretCode: '[redacted]', total: 10 });
    }
  });

  it('keys the profiles by the hashed id, with the hashed traits', async () => {
    const profiles = await stack.scanRaw('profiles');
    const userId = hmac(rawUserId('/v1/batch'));
    // A small profile lives in its core item (lib/tables/profiles.ts): the email trait is the core's
    // fact `t#email` in the hashed user's partition.
    const core = profiles.find((p) => p.pk === `${stack.sourceId}#user#${userId}` && p.sk === 'core');
    const email = (core?.f as Record<string, unknown> | undefined)?.['t#email'];
    expect(email).toBeDefined();
    expect(JSON.stringify(email)).toContain(hmac(RAW.email));
  });

  it('quarantines invalid events with the policy applied, and a body that is not JSON as a note of its size', async () => {
    const rejected = await stack.scanRaw('rejected');
    const events = rejected.filter((r) => String(r.raw).startsWith('{"type":"track"'));
    expect(events.length).toBeGreaterThanOrEqual(EVENT_ROUTES.length);
    for (const record of events) {
      const raw = JSON.parse(String(record.raw)) as Record<string, unknown>;
      expect(raw).toMatchObject({ context: { ip: '198.51.100.0', traits: { email: hmac(RAW.email) } } });
      expect(raw.properties).toEqual({ payment: { brand: 'visa' }, mySecretCode: '[redacted]', total: 10 });
    }
    expect(rejected.some((r) => String(r.raw).startsWith('(not kept: the body is not JSON'))).toBe(true);
  });
});

describe('context.ip', () => {
  it('is filled from the source address API Gateway saw when the sender sent none, and the policy applies to it', async () => {
    expect(await setPolicy({ ip: 'hash' })).toMatchObject({ code: 0 });
    const handler = createIngestHandler(stack.ingestDeps);
    const event = segmentEvent('track', { userId: 'ip-fill', context: { library: { name: 'analytics-node', version: '2.1.0' } } });
    const request = httpApiEvent({ path: '/v1/track', body: JSON.stringify({ ...event, writeKey: stack.key }) });
    request.requestContext.http.sourceIp = '192.0.2.44';
    expect((await handler(request)).statusCode).toBe(200);
    const bodies = await pump();
    const [stored] = (await stack.scan('track')).filter((e) => e.userId === 'ip-fill');
    expect(stored?.context).toEqual({ library: { name: 'analytics-node', version: '2.1.0' }, ip: hmac('192.0.2.44') });
    expect(bodies.join('')).not.toContain('192.0.2.44');
  });

  it("is not filled on /segment, whose requests come from Segment's servers", async () => {
    expect(await setPolicy({ ip: 'keep' })).toMatchObject({ code: 0 });
    const event = segmentEvent('track', { userId: 'ip-direct', context: { library: { name: 'analytics-node', version: '2.1.0' } } });

    expect((await stack.send('/segment', event)).status).toBe(200);
    await pump();

    const [stored] = (await stack.scan('track')).filter((e) => e.userId === 'ip-direct');
    expect(stored?.context).toEqual({ library: { name: 'analytics-node', version: '2.1.0' } });
  });
});

describe('consent', () => {
  it('withholds events whose consent denies a dropped category, and strips them to what a stripped category allows', async () => {
    expect(
      await setPolicy({
        consent: [
          { category: 'Advertising', action: 'drop' },
          { category: 'Analytics', action: 'strip', keep: ['properties.plan'] },
        ],
      }),
    ).toMatchObject({ code: 0 });
    const withConsent = (userId: string, preferences?: Record<string, boolean>) =>
      segmentEvent('track', {
        userId,
        event: 'Signed Up',
        properties: { plan: 'pro', referrer: 'friend' },
        context: { ...(preferences ? { consent: { categoryPreferences: preferences } } : {}), locale: 'en-GB' },
      });
    const events = [
      withConsent('consent-denied', { Advertising: false }),
      withConsent('consent-stripped', { Analytics: false, Advertising: true }),
      withConsent('consent-none'),
    ];

    const response = await stack.send('/v1/batch', { batch: events });
    await pump();

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      accepted: 3,
      rejected: 0,
      warnings: [expect.stringContaining('1 event(s) were accepted and not stored')],
    });
    const tracks = await stack.scan('track');
    expect(tracks.filter((e) => e.userId === 'consent-denied')).toEqual([]);
    const [stripped] = tracks.filter((e) => e.userId === 'consent-stripped');
    expect(stripped?.properties).toEqual({ plan: 'pro' });
    expect(stripped?.context).toEqual({ consent: { categoryPreferences: { Analytics: false, Advertising: true } } });
    const [whole] = tracks.filter((e) => e.userId === 'consent-none');
    expect(whole?.properties).toEqual({ plan: 'pro', referrer: 'friend' });
  });
});

describe('setting a policy', () => {
  it('refuses a malformed policy, naming the bad rule, and keeps the one stored', async () => {
    expect(await setPolicy({ fields: [{ path: 'traits.email', action: 'redact' }] })).toMatchObject({ code: 0 });

    const refused = await setPolicy({
      ip: 'mask',
      fields: [
        { path: 'traits.email', action: 'hash' },
        { path: 'traits..x', action: 'sha256' },
      ],
    });
    const shown = await cli(stack, ['sources', 'privacy', stack.sourceId]);

    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('"ip" must be one of keep, truncate, hash, drop, got "mask"');
    expect(refused.stderr).toContain('fields[1].path must be a dot-separated field path');
    expect(refused.stderr).toContain(
      'fields[1].action must be one of drop, redact, hash, sha256_for_ad_matching, redact_query, got "sha256"',
    );
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual({ fields: [{ path: 'traits.email', action: 'redact' }] });
    expect(await setPolicy('{"ip": ')).toMatchObject({ code: 2, stderr: expect.stringContaining('the policy is not JSON') });
  });

  it('takes effect within the key cache lifetime', async () => {
    const handler = createIngestHandler(ingestDepsFrom({ ...stack.config, keyCacheSeconds: 1 }, stack.clients, log));
    const send = async (userId: string) => {
      const event = segmentEvent('identify', { userId, traits: { email: RAW.email } });
      expect(
        (await handler(httpApiEvent({ path: '/v1/identify', body: JSON.stringify({ ...event, writeKey: stack.key }) }))).statusCode,
      ).toBe(200);
    };
    const emailOf = async (userId: string) => (await stack.scan('identify')).find((e) => e.userId === userId)?.traits;
    const store = (action: string) =>
      setPrivacyPolicy(admin(), stack.sourceId, preparePolicy(JSON.stringify({ fields: [{ path: 'traits.email', action }] })));
    await store('redact');
    await send('cache-1');
    await store('hash');
    await send('cache-2');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await send('cache-3');
    await pump();

    expect(await emailOf('cache-1')).toEqual({ email: '[redacted]' });
    // Within the cache's second the old policy may still apply; after it, the new one does.
    expect([{ email: '[redacted]' }, { email: hmac(RAW.email) }]).toContainEqual(await emailOf('cache-2'));
    expect(await emailOf('cache-3')).toEqual({ email: hmac(RAW.email) });
  });

  it('hashes under the new version prefix once the key rotates', async () => {
    expect(await setPolicy({ fields: [{ path: 'traits.email', action: 'hash' }] })).toMatchObject({ code: 0 });
    const newKey = 'a-new-privacy-key-0123456789abcdef';
    const ring = { current: { version: 2, key: newKey }, previous: [{ version: 1, key: stageKey() }] };
    const handler = createIngestHandler(ingestDepsFrom({ ...stack.config, privacyHashKeys: ring }, stack.clients, log));
    const event = segmentEvent('identify', { userId: 'rotated', traits: { email: RAW.email } });

    expect(
      (await handler(httpApiEvent({ path: '/v1/identify', body: JSON.stringify({ ...event, writeKey: stack.key }) }))).statusCode,
    ).toBe(200);
    await pump();

    const [stored] = (await stack.scan('identify')).filter((e) => e.userId === 'rotated');
    expect(stored?.traits).toEqual({ email: hmac(RAW.email, newKey, 2) });
    expect(hmac(RAW.email, newKey, 2)).not.toEqual(hmac(RAW.email));
  });
});

describe('ids the policy hashes', () => {
  it('are looked up, erased and shown by the id as the customer knows it', async () => {
    expect(await setPolicy({ fields: [{ path: 'userId', action: 'hash' }] })).toMatchObject({ code: 0 });
    const known = 'known-id-77';
    const sent = await stack.send('/v1/batch', {
      batch: [
        segmentEvent('identify', { userId: known, traits: { plan: 'pro' } }),
        segmentEvent('track', { userId: known, event: 'Seen' }),
      ],
    });
    expect(sent.status).toBe(200);
    await pump();

    const events = await cli(stack, ['events', '--source', stack.sourceId, '--user', known]);
    const profile = await cli(stack, ['profile', '--source', stack.sourceId, '--user', known]);
    expect(events.code).toBe(0);
    expect(
      events.stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { userId: string }).userId),
    ).toEqual([hmac(known), hmac(known)]);
    expect(profile).toMatchObject({ code: 0, stdout: expect.stringContaining(hmac(known)) });

    const deletion = await stack.send('/segment', {
      type: 'delete',
      userId: known,
      messageId: 'privacy-del-1',
      timestamp: new Date().toISOString(),
    });
    expect(deletion.status).toBe(200);
    await pump();

    const erasure = await cli(stack, ['erasures', 'show', '--source', stack.sourceId, '--user', known]);
    const after = await cli(stack, ['events', '--source', stack.sourceId, '--user', known]);
    expect(erasure).toMatchObject({ code: 0, stdout: expect.stringContaining('was erased') });
    expect(after.stdout).toBe('');
    expect(await stack.scan('track')).not.toContainEqual(expect.objectContaining({ userId: hmac(known) }));
  });
});

describe('with a tracking plan', () => {
  it('the plan judges the event as sent, then the policy applies', async () => {
    const plan = {
      mode: 'block',
      unplanned: 'allow',
      events: {
        identify: {
          type: 'object',
          properties: { traits: { type: 'object', properties: { email: { type: 'string', format: 'email' } } } },
        },
      },
    };
    await setTrackingPlan(admin(), stack.sourceId, preparePlan(JSON.stringify(plan)));
    expect(await setPolicy({ fields: [{ path: 'traits.email', action: 'hash' }] })).toMatchObject({ code: 0 });

    const response = await stack.send('/v1/identify', segmentEvent('identify', { userId: 'planned', traits: { email: RAW.email } }));
    const bodies = await pump();
    await removeTrackingPlan(admin(), stack.sourceId);

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ accepted: 1, rejected: 0 });
    expect((await stack.scan('identify')).find((e) => e.userId === 'planned')?.traits).toEqual({ email: hmac(RAW.email) });
    expect(bodies.join('')).not.toContain(RAW.email);
  });
});
