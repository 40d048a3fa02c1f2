/**
 * Tracking plans on the local stack: `plan set|show|remove` through the CLI, and the ingest
 * function enforcing them (block quarantines the violating event, its valid neighbours are
 * stored; warn stores it and says so; unplanned events; a plan that cannot be loaded is a 503).
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createIngestHandler, ingestDepsFrom } from '../../lib/ingest/handler';
import { createPlanLoader } from '../../lib/ingest/plan-checks';
import { setTrackingPlan } from '../../lib/admin/tracking-plans';
import { silentLog } from '../../lib/shared/log';
import { cli } from '../support/cli';
import { httpApiEvent, segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
const dir = mkdtempSync(path.join(tmpdir(), 'plans-'));

beforeAll(async () => {
  // No key cache: a plan set or removed applies to the next request.
  stack = await startTestStack({ env: { KEY_CACHE_SECONDS: '0' } });
});

afterAll(async () => {
  await stack.stop();
});

const orderSchema = {
  type: 'object',
  properties: {
    properties: {
      type: 'object',
      required: ['total'],
      properties: { total: { type: 'number', minimum: 0 }, currency: { enum: ['EUR', 'USD'] } },
    },
  },
};

async function setPlan(plan: unknown): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = path.join(dir, `plan-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, typeof plan === 'string' ? plan : JSON.stringify(plan));
  return cli(stack, ['plan', 'set', '--source', stack.sourceId, file]);
}

const order = (userId: string, properties: Record<string, unknown>) =>
  segmentEvent('track', { userId, event: 'Order Completed', properties });

describe('block mode', () => {
  beforeAll(async () => {
    const set = await setPlan({ mode: 'block', unplanned: 'warn', events: { 'Order Completed': orderSchema } });
    expect(set).toMatchObject({ code: 0 });
  });

  it('quarantines the violating event with a reason naming the property and the rule, and stores its valid neighbours', async () => {
    const valid = order('plan-ok', { total: 27.5, currency: 'EUR' });
    const violating = order('plan-bad', { total: '27.50', currency: 'GBP' });
    const unplanned = segmentEvent('track', { userId: 'plan-unplanned', event: 'Coupon Applied' });

    const response = await stack.send('/v1/batch', { batch: [valid, violating, unplanned] });
    await stack.drain();

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ success: true, accepted: 2, rejected: 1 });
    expect(response.body.errors).toEqual([
      {
        index: 1,
        messageId: violating.messageId,
        message:
          '"properties.total" must be number, not string (tracking plan rule "type"); "properties.currency" must be one of "EUR", "USD" (tracking plan rule "enum")',
      },
    ]);
    expect(response.body.warnings).toEqual(['event 2: event "Coupon Applied" is not in the tracking plan (unplanned events: warn)']);
    const track = await stack.scan('track');
    expect(track.filter((i) => i.userId === 'plan-ok')).toHaveLength(1);
    expect(track.filter((i) => i.userId === 'plan-unplanned')).toHaveLength(1);
    expect(track.filter((i) => i.userId === 'plan-bad')).toHaveLength(0);
    const [quarantined] = (await stack.scan('rejected')).filter((i) => i.messageId === violating.messageId);
    expect(quarantined).toMatchObject({ raw: JSON.stringify(violating), index: 1, route: '/v1/batch' });
    expect(quarantined?.reasons).toEqual([expect.stringContaining('"properties.total"'), expect.stringContaining('"properties.currency"')]);
  });

  it('answers 400 when the only event violates the plan, naming the missing property', async () => {
    const response = await stack.send('/v1/track', order('plan-single', { currency: 'EUR' }));

    expect(response.status).toBe(400);
    expect(response.body.message).toBe('invalid track: "properties.total" is required (tracking plan rule "required")');
  });

  it('shows the stored plan and removes it; events are then no longer checked', async () => {
    const shown = await cli(stack, ['plan', 'show', '--source', stack.sourceId]);
    const removed = await cli(stack, ['plan', 'remove', '--source', stack.sourceId]);
    const after = await stack.send('/v1/track', order('plan-removed', { total: 'free' }));
    const again = await cli(stack, ['plan', 'remove', '--source', stack.sourceId]);

    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual({ mode: 'block', unplanned: 'warn', events: { 'Order Completed': orderSchema } });
    expect(removed).toMatchObject({ code: 0, stdout: expect.stringContaining('removed') });
    expect(after.status).toBe(200);
    expect(again).toMatchObject({ code: 0, stdout: `Source "${stack.sourceId}" had no tracking plan.\n` });
  });
});

describe('warn mode', () => {
  it('stores the violating event and names the violation in the answer', async () => {
    await setPlan({ mode: 'warn', unplanned: 'block', events: { 'Order Completed': orderSchema } });
    const violating = order('warn-bad', { total: -3 });

    const response = await stack.send('/v1/track', violating);
    const unplanned = await stack.send('/v1/batch', {
      batch: [order('warn-ok', { total: 1 }), segmentEvent('identify', { userId: 'warn-id' })],
    });
    await stack.drain();

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      accepted: 1,
      rejected: 0,
      warnings: ['"properties.total" must be >= 0 (tracking plan rule "minimum")'],
    });
    expect((await stack.scan('track')).filter((i) => i.userId === 'warn-bad')).toHaveLength(1);
    // unplanned: block refuses an event key the plan does not list, identify included.
    expect(unplanned.body).toMatchObject({ accepted: 1, rejected: 1 });
    expect(unplanned.body.errors).toEqual([
      { index: 1, messageId: expect.any(String), message: 'event "identify" is not in the tracking plan (unplanned events: block)' },
    ]);
  });
});

describe('plan set', () => {
  it('refuses a plan that does not compile with exit 2, a message naming the event, and stores nothing', async () => {
    await cli(stack, ['plan', 'remove', '--source', stack.sourceId]);

    const bad = await setPlan({
      mode: 'block',
      events: { 'Order Completed': { type: 'object', properties: { total: { type: 'nombre' } } } },
    });
    const shape = await setPlan({ mode: 'stop', events: [] });
    const notJson = await setPlan('{"mode": "warn",');
    const missing = await cli(stack, ['plan', 'set', '--source', stack.sourceId, path.join(dir, 'nope.json')]);
    const shown = await cli(stack, ['plan', 'show', '--source', stack.sourceId]);

    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not a tracking plan that can be stored:\n {2}events\["Order Completed"\]: schema is invalid/);
    expect(shape.code).toBe(2);
    expect(shape.stderr).toContain('"mode" must be "warn" or "block", got "stop"');
    expect(shape.stderr).toContain('"events" must be an object');
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('the plan is not JSON');
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('nope.json: no such file') });
    expect(shown).toMatchObject({ code: 0, stdout: '', stderr: expect.stringContaining('has no tracking plan') });
  });

  it('refuses an unknown source with exit 2, and reads a plan from stdin', async () => {
    const plan = JSON.stringify({ mode: 'warn', events: { identify: { type: 'object' } } });

    const unknown = await cli(stack, ['plan', 'set', '--source', 'nobody', '-'], { stdin: plan });
    const piped = await cli(stack, ['plan', 'set', '--source', stack.sourceId, '-'], { stdin: plan });

    expect(unknown).toMatchObject({ code: 2, stderr: 'segment-ingest: source "nobody" does not exist\n' });
    expect(piped).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(
        /^Tracking plan [0-9a-f]{16} stored for source "src-test": 1 event key\(s\), mode warn, unplanned allow\.\n$/,
      ),
    });
    await cli(stack, ['plan', 'remove', '--source', stack.sourceId]);
  });
});

describe('a stored schema that does not compile', () => {
  it('stores the events of its key unchecked, with a warning, and still checks the other keys', async () => {
    // Only a plan written around `plan set` can hold one (plan set compiles every schema first).
    const plan = {
      mode: 'block',
      unplanned: 'allow',
      events: { 'Order Completed': { type: 'nombre' }, 'Signed Up': { required: ['never'] } },
    };
    const deps = { documents: stack.clients.documents, tables: stack.config.tables };
    await setTrackingPlan(deps, stack.sourceId, { plan: plan as never, text: JSON.stringify(plan), version: 'hand-written', warnings: [] });

    const response = await stack.send('/v1/batch', {
      batch: [order('broken-1', { total: 1 }), segmentEvent('track', { event: 'Signed Up' })],
    });

    expect(response.body).toMatchObject({
      accepted: 1,
      rejected: 1,
      warnings: ['event 0: the tracking plan\'s schema for event "Order Completed" does not compile; the event was stored unchecked'],
    });
    await cli(stack, ['plan', 'remove', '--source', stack.sourceId]);
  });
});

describe('when the plan cannot be loaded', () => {
  it('answers 503 and accepts nothing, rather than letting events through unchecked', async () => {
    await setPlan({ mode: 'block', events: { 'Order Completed': orderSchema } });
    const deps = ingestDepsFrom(stack.config, stack.clients, silentLog);
    // The compiler module missing from the bundle (a packaging fault no emulator can produce).
    const handler = createIngestHandler({
      ...deps,
      plans: createPlanLoader(silentLog, () => Promise.reject(new Error('Cannot find module'))),
    });
    const authorization = `Basic ${Buffer.from(`${stack.key}:`).toString('base64')}`;

    const request = () => httpApiEvent({ headers: { authorization }, body: JSON.stringify(order('plan-503', { total: 1 })) });

    const response = await handler(request());
    const control = await createIngestHandler(deps)(request());

    expect(control.statusCode).toBe(200);
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['Retry-After']).toBeDefined();
    await cli(stack, ['plan', 'remove', '--source', stack.sourceId]);
  });
});
