/**
 * The sources and keys administration (lib/admin/sources.ts) and the tracking plans it stores
 * (lib/admin/tracking-plans.ts), called directly against DynamoDB Local: what each refuses, with a
 * message naming the problem, leaves the stored source as it was; a DynamoDB failure that is not a
 * failed condition reaches the caller as it is, never disguised as "already exists" or "changed
 * meanwhile". DynamoDB Local never throttles: tests/support/faults.ts forces that on the real client.
 */
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createSourceAdmin, generateWebhookSecret, SourceAdminError, type SourceAdmin } from '../../lib/admin/sources';
import {
  getTrackingPlan,
  preparePlan,
  removeTrackingPlan,
  setTrackingPlan,
  TrackingPlanError,
  type TrackingPlanDeps,
} from '../../lib/admin/tracking-plans';
import { MAX_ALLOWED_ORIGINS } from '../../lib/shared/origins';
import { MAX_PLAN_BYTES } from '../../lib/spec/tracking-plan';
import { throttle, withFault } from '../support/faults';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let tables: { keys: string; sources: string };

beforeAll(async () => {
  stack = await startTestStack();
  tables = { keys: stack.config.tables.keys, sources: stack.config.tables.sources };
});

afterAll(async () => {
  await stack.stop();
});

/** What the administration throws when it refuses a change: a SourceAdminError with exactly this message. */
function refusal(message: string): SourceAdminError {
  return expect.objectContaining({ name: 'SourceAdminError', message }) as SourceAdminError;
}

/** An admin whose DynamoDB client throttles every `operation` it sends. */
function throttledAdmin(operation: string): SourceAdmin {
  return createSourceAdmin({ documents: withFault(stack.clients.documents, throttle({ on: operation })), tables });
}

describe('sources', () => {
  it.each([
    ['an empty id', ''],
    ['a space', 'shop web'],
    ['a slash', 'shop/web'],
    ['a non-ASCII letter', 'boutique-é'],
    ['65 characters', 'a'.repeat(65)],
  ])('refuses a source id with %s, naming the id and the rule, and stores nothing', async (_, sourceId) => {
    const attempt = stack.admin.createSource(sourceId);

    await expect(attempt).rejects.toEqual(refusal(`source id "${sourceId}" must be 1-64 letters, digits, "-" or "_"`));
    expect((await stack.admin.listSources()).map((s) => s.sourceId)).not.toContain(sourceId);
  });

  it('stamps a new source with the time of the clock it was given, and names it by its id when no name is given', async () => {
    const admin = createSourceAdmin({ documents: stack.clients.documents, tables, now: () => new Date('2026-03-01T09:30:00.000Z') });

    await admin.createSource('clocked');

    expect(await admin.getSource('clocked')).toEqual({
      sourceId: 'clocked',
      name: 'clocked',
      disabled: false,
      createdAt: '2026-03-01T09:30:00.000Z',
    });
  });

  it('passes on a throttled create as the DynamoDB error, not as "already exists"', async () => {
    const attempt = throttledAdmin('PutItem').createSource('throttled-create');

    await expect(attempt).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(await stack.admin.getSource('throttled-create')).toBeUndefined();
  });

  it('passes on a throttled disable as the DynamoDB error, not as "does not exist"', async () => {
    await stack.admin.createSource('throttled-disable');

    const attempt = throttledAdmin('UpdateItem').setDisabled('throttled-disable', true);

    await expect(attempt).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(await stack.admin.getSource('throttled-disable')).toMatchObject({ disabled: false });
  });
});

describe('webhook secrets', () => {
  it('generates secrets of 32 random bytes in hex, a different one each time', () => {
    const secrets = [generateWebhookSecret(), generateWebhookSecret(), generateWebhookSecret()];

    for (const secret of secrets) expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(secrets).size).toBe(3);
  });

  it.each([
    ['an empty secret', '', {}, 'a webhook secret must be 1-1024 characters'],
    ['a secret of 1025 characters', 'x'.repeat(1025), {}, 'a webhook secret must be 1-1024 characters'],
    ['a negative grace', 'new-secret', { graceSeconds: -1 }, 'graceSeconds must be 0 or more'],
    ['a grace that is not a number', 'new-secret', { graceSeconds: Number.NaN }, 'graceSeconds must be 0 or more'],
  ])('refuses %s and keeps the current secret', async (_, secret, options, message) => {
    const attempt = stack.admin.setWebhookSecret(stack.sourceId, secret, options);

    await expect(attempt).rejects.toEqual(refusal(message));
    expect((await stack.admin.getSource(stack.sourceId))?.webhookSecret).toBe(stack.webhookSecret);
  });

  it('passes on a throttled rotation as the DynamoDB error, not as "changed meanwhile", and keeps the current secret', async () => {
    const attempt = throttledAdmin('UpdateItem').setWebhookSecret(stack.sourceId, 'rotated-while-throttled');

    await expect(attempt).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
    expect((await stack.admin.getSource(stack.sourceId))?.webhookSecret).toBe(stack.webhookSecret);
  });
});

describe('rate limits', () => {
  it.each([0, -5, Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses %p events per second, naming the value, and keeps the limit',
    async (perSecond) => {
      const sourceId = `limited-${String(perSecond).replace(/\W/g, '')}`;
      await stack.admin.createSource(sourceId);
      await stack.admin.setRateLimit(sourceId, 50);

      const attempt = stack.admin.setRateLimit(sourceId, perSecond);

      await expect(attempt).rejects.toEqual(refusal(`rate limit must be a positive number of events per second, got ${perSecond}`));
      expect(await stack.admin.getSource(sourceId)).toMatchObject({ rateLimitPerSecond: 50 });
    },
  );
});

describe('allowed origins', () => {
  it('refuses a change to a source that does not exist', async () => {
    const attempt = stack.admin.changeAllowedOrigins('no-such-source', { add: ['https://shop.example'] });

    await expect(attempt).rejects.toEqual(refusal('source "no-such-source" does not exist'));
  });

  it('refuses origins that are not origins, naming each, and changes nothing', async () => {
    await stack.admin.createSource('origins-bad');

    const attempt = stack.admin.changeAllowedOrigins('origins-bad', {
      add: ['https://ok.example', 'ftp://files.example', 'not an origin'],
    });

    await expect(attempt).rejects.toThrow(SourceAdminError);
    await expect(attempt).rejects.toThrow(/ftp:\/\/files\.example.*; .*not an origin/);
    expect((await stack.admin.getSource('origins-bad'))?.allowedOrigins).toBeUndefined();
  });

  it(`refuses to allow more than ${MAX_ALLOWED_ORIGINS} origins, pointing to wildcards, and keeps the list`, async () => {
    await stack.admin.createSource('origins-full');
    const many = Array.from({ length: MAX_ALLOWED_ORIGINS }, (_, i) => `https://shop-${i}.example`);
    await stack.admin.changeAllowedOrigins('origins-full', { add: many });

    const attempt = stack.admin.changeAllowedOrigins('origins-full', { add: ['https://one-more.example'] });

    await expect(attempt).rejects.toEqual(
      refusal(`a source allows at most ${MAX_ALLOWED_ORIGINS} origins; use wildcards (https://*.shop.example) for many subdomains`),
    );
    expect((await stack.admin.getSource('origins-full'))?.allowedOrigins).toEqual(many);
  });

  it('adding an origin that is listed already keeps one of it', async () => {
    await stack.admin.createSource('origins-twice');
    await stack.admin.changeAllowedOrigins('origins-twice', { add: ['https://shop.example'] });

    const next = await stack.admin.changeAllowedOrigins('origins-twice', { add: ['https://shop.example', 'https://SHOP.example'] });

    expect(next).toEqual(['https://shop.example']);
    expect((await stack.admin.getSource('origins-twice'))?.allowedOrigins).toEqual(['https://shop.example']);
  });

  it('allowing every origin on a source that has no list leaves it without one', async () => {
    await stack.admin.createSource('origins-any');

    const next = await stack.admin.changeAllowedOrigins('origins-any', { any: true });

    expect(next).toBeUndefined();
    expect(await stack.admin.getSource('origins-any')).not.toHaveProperty('allowedOrigins');
  });

  it('refuses to remove an origin that is not listed, naming it, and keeps the list', async () => {
    await stack.admin.createSource('origins-remove');
    await stack.admin.changeAllowedOrigins('origins-remove', { add: ['https://shop.example'] });

    const attempt = stack.admin.changeAllowedOrigins('origins-remove', { remove: ['https://shop.example', 'https://other.example'] });

    await expect(attempt).rejects.toEqual(refusal('not among the allowed origins of source "origins-remove": https://other.example'));
    expect((await stack.admin.getSource('origins-remove'))?.allowedOrigins).toEqual(['https://shop.example']);
  });
});

describe('keys', () => {
  it('refuses a key for a source that does not exist, and stores no key', async () => {
    const attempt = stack.admin.createKey('no-such-source');

    await expect(attempt).rejects.toEqual(refusal('source "no-such-source" does not exist'));
    expect(await stack.admin.listKeys('no-such-source')).toEqual([]);
  });

  it('refuses to revoke when nothing matches, showing only the first 7 characters of what was given', async () => {
    const attempt = stack.admin.revokeKey('sk_unknownKeyThatMatchesNothing');

    await expect(attempt).rejects.toEqual(refusal('no key matches "sk_unkn…"'));
  });

  it('refuses to revoke by a prefix two keys share, and revokes neither', async () => {
    await stack.admin.createSource('shared-prefix');
    await stack.admin.createKey('shared-prefix', { key: 'sk_SAMEprefixAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    await stack.admin.createKey('shared-prefix', { key: 'sk_SAMEprefixBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' });
    const [first] = await stack.admin.listKeys('shared-prefix');
    const prefix = first?.keyPrefix ?? '';

    const attempt = stack.admin.revokeKey(prefix);

    await expect(attempt).rejects.toEqual(refusal(`"${prefix}" matches 2 keys; give the whole key or its hash`));
    expect((await stack.admin.listKeys('shared-prefix')).map((k) => k.revokedAt)).toEqual([undefined, undefined]);
  });
});

describe('tracking plans', () => {
  const deps = (): TrackingPlanDeps => ({ documents: stack.clients.documents, tables: { sources: tables.sources } });
  const plan = { mode: 'block', events: { 'Order Completed': { type: 'object', required: ['properties'] } } };

  it('refuses a plan whose schema does not compile, naming the event key and what Ajv found', () => {
    const broken = { events: { 'Order Completed': { type: 'object', properties: { total: { type: 'money' } } } } };

    const attempt = () => preparePlan(JSON.stringify(broken));

    expect(attempt).toThrow(TrackingPlanError);
    expect(attempt).toThrow(/^events\["Order Completed"\]: .*type/);
  });

  it(`refuses a plan of more than ${MAX_PLAN_BYTES} bytes as compact JSON, saying how big it is`, () => {
    const events = Object.fromEntries(
      Array.from({ length: 300 }, (_, i) => [`Event ${i}`, { type: 'object', description: 'd'.repeat(1000) }]),
    );
    // What would be stored: the plan with its defaults filled in, as compact JSON.
    const stored = JSON.stringify({ mode: 'warn', unplanned: 'allow', events });

    const attempt = () => preparePlan(JSON.stringify({ events }, null, 2));

    expect(attempt).toThrow(TrackingPlanError);
    expect(attempt).toThrow(`the plan is ${Buffer.byteLength(stored)} bytes as compact JSON; at most ${MAX_PLAN_BYTES}`);
  });

  it('stamps a stored plan with the time of the clock it was given', async () => {
    const prepared = preparePlan(JSON.stringify(plan));

    const stored = await setTrackingPlan({ ...deps(), now: () => new Date('2026-04-02T08:00:00.000Z') }, stack.sourceId, prepared);

    expect(stored).toEqual({ plan: prepared.plan, version: prepared.version, setAt: '2026-04-02T08:00:00.000Z' });
    expect(await getTrackingPlan(deps(), stack.sourceId)).toEqual(stored);
  });

  it('refuses to set, show or remove the plan of a source that does not exist', async () => {
    const prepared = preparePlan(JSON.stringify(plan));
    const missing = refusal('source "no-such-source" does not exist');

    await expect(setTrackingPlan(deps(), 'no-such-source', prepared)).rejects.toEqual(missing);
    await expect(getTrackingPlan(deps(), 'no-such-source')).rejects.toEqual(missing);
    await expect(removeTrackingPlan(deps(), 'no-such-source')).rejects.toEqual(missing);
    expect(await stack.admin.getSource('no-such-source')).toBeUndefined();
  });

  it('shows a plan stored without a version (written by hand) with an empty version rather than failing', async () => {
    await stack.clients.documents.send(
      new PutCommand({
        TableName: tables.sources,
        Item: {
          sourceId: 'hand-written',
          name: 'hand-written',
          disabled: false,
          createdAt: '2026-01-01T00:00:00.000Z',
          trackingPlan: JSON.stringify(plan),
        },
      }),
    );

    const shown = await getTrackingPlan(deps(), 'hand-written');

    expect(shown).toEqual({ plan, version: '', setAt: undefined });
  });

  it('passes on a throttled set or remove as the DynamoDB error, not as "does not exist", and keeps the plan', async () => {
    await stack.admin.createSource('plan-throttled');
    const before = await setTrackingPlan(deps(), 'plan-throttled', preparePlan(JSON.stringify(plan)));
    const throttled = { ...deps(), documents: withFault(stack.clients.documents, throttle({ on: 'UpdateItem' })) };

    const set = setTrackingPlan(throttled, 'plan-throttled', preparePlan(JSON.stringify({ ...plan, mode: 'warn' })));
    const remove = removeTrackingPlan(throttled, 'plan-throttled');

    await expect(set).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
    await expect(remove).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(await getTrackingPlan(deps(), 'plan-throttled')).toEqual(before);
  });
});
