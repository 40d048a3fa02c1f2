/**
 * Tracking plans at ingest (lib/ingest/plan-checks.ts), with the real compiler and real verdicts
 * from normalizeEvent: a fast unit test of what tests/integration/tracking-plans.test.ts checks
 * through the stack, plus the cases a stack cannot reach quickly: a stored plan that does not
 * compile (`plan set` refuses those), a plan stored without a version, more than a hundred warnings
 * in one request.
 */
import { applyPlan, createPlanLoader, MAX_PLAN_WARNINGS, planReport, type ActivePlan } from '../../../lib/ingest/plan-checks';
import type { Log } from '../../../lib/shared/log';
import type { Meter, MetricName } from '../../../lib/shared/metrics';
import type { SourceRecord } from '../../../lib/tables/sources';
import { SPEC_TYPES } from '../../../lib/spec/event-types';
import { normalizeEvent, type Verdict } from '../../../lib/spec/normalize';

function recordingLog(): Log & { errors: Array<[string, Record<string, unknown> | undefined]> } {
  const errors: Array<[string, Record<string, unknown> | undefined]> = [];
  return { errors, debug() {}, info() {}, warn() {}, error: (message, extra) => void errors.push([message, extra]) };
}

function recordingMeter(): Meter & { counts: Array<[MetricName, number, readonly string[] | undefined]> } {
  const counts: Array<[MetricName, number, readonly string[] | undefined]> = [];
  return { counts, count: (name, value, dimension) => void counts.push([name, value, dimension]), latency() {}, flush() {} };
}

function verdictOf(event: Record<string, unknown>): Verdict {
  return normalizeEvent(
    { messageId: `m-${Math.random()}`, userId: 'u1', ...event },
    { allowedTypes: SPEC_TYPES, clock: 'library', receivedAtMs: Date.UTC(2026, 0, 2), maxEventBytes: 32 * 1024 },
  );
}

function source(plan: unknown, version?: string): SourceRecord {
  const trackingPlan = typeof plan === 'string' ? plan : JSON.stringify(plan);
  return { sourceId: 'src-plan', trackingPlan, ...(version === undefined ? {} : { trackingPlanVersion: version }) };
}

async function activePlan(plan: unknown, log: Log = recordingLog()): Promise<ActivePlan> {
  const active = await createPlanLoader(log).planFor(source(plan, 'v1'));
  if (active === undefined) throw new Error('expected a plan');
  return active;
}

const orderPlan = {
  mode: 'block',
  unplanned: 'allow',
  events: { 'Order Completed': { properties: { properties: { required: ['total'] } } } },
};

describe('createPlanLoader', () => {
  it.each([
    ['is not JSON', '{"events": '],
    ['is not a plan document', { mode: 'strict', events: {} }],
  ])('holds a stored plan that %s as broken, and logs the source and version once', async (_, plan) => {
    const log = recordingLog();
    const loader = createPlanLoader(log);

    const first = await loader.planFor(source(plan, 'v-broken'));
    const second = await loader.planFor(source(plan, 'v-broken'));

    expect(first).toEqual({
      broken: "the source's tracking plan could not be compiled, so events were stored without checking them against it",
    });
    expect(second).toBe(first);
    expect(log.errors).toEqual([
      ['the tracking plan of a source does not compile; its events are stored unchecked', { sourceId: 'src-plan', version: 'v-broken' }],
    ]);
  });

  it('compiles a plan stored without a version once, keyed by its text, and enforces it', async () => {
    const loads: number[] = [];
    const loader = createPlanLoader(recordingLog(), async () => {
      loads.push(1);
      return import('../../../lib/spec/plan-compiler');
    });

    const first = await loader.planFor(source(orderPlan));
    const again = await loader.planFor(source(orderPlan));
    const other = await loader.planFor(source({ ...orderPlan, mode: 'warn' }));

    expect(again).toBe(first);
    expect(other).not.toBe(first);
    expect(loads).toHaveLength(1);
    expect(first && 'plan' in first && first.plan.check({ type: 'track', event: 'Order Completed', properties: {} }).problems).toEqual([
      '"properties.total" is required (tracking plan rule "required")',
    ]);
  });

  it('throws while the compiler cannot be loaded (the request is a 503), and loads it again for the next request', async () => {
    let attempts = 0;
    const loader = createPlanLoader(recordingLog(), async () => {
      attempts++;
      if (attempts === 1) throw new Error('Cannot find module plan-compiler.js');
      return import('../../../lib/spec/plan-compiler');
    });

    const first = loader.planFor(source(orderPlan, 'v1'));
    await expect(first).rejects.toThrow('Cannot find module plan-compiler.js');
    const second = await loader.planFor(source(orderPlan, 'v1'));

    expect(attempts).toBe(2);
    expect(second).toHaveProperty('plan.mode', 'block');
  });

  it('has no plan for a source without one, or no source', async () => {
    const loader = createPlanLoader(recordingLog());

    expect(await loader.planFor({ sourceId: 'plain' })).toBeUndefined();
    expect(await loader.planFor(undefined)).toBeUndefined();
  });
});

describe('applyPlan', () => {
  it('stores the events of a source whose plan is broken unchanged, and says so once in the answer', async () => {
    const active = await activePlan('not json');
    const meter = recordingMeter();
    const warnings: string[] = [];
    const verdict = verdictOf({ type: 'track', event: 'Order Completed', properties: {} });

    const report = planReport(meter, warnings, false, active);
    const judged = applyPlan(active, verdict, 0, report);

    expect(judged).toBe(verdict);
    expect(warnings).toEqual(["the source's tracking plan could not be compiled, so events were stored without checking them against it"]);
    expect(meter.counts).toEqual([]);
  });

  it('stores an event whose own schema does not compile unchecked, with a warning naming its key', async () => {
    // At ingest each schema is compiled when its first event comes: the plan loads, and only this key's schema is broken.
    const active = await activePlan({ mode: 'block', events: { 'Order Completed': { type: 'nombre' }, Other: {} } });
    const warnings: string[] = [];
    const verdict = verdictOf({ type: 'track', event: 'Order Completed' });

    const judged = applyPlan(active, verdict, 3, planReport(recordingMeter(), warnings, false, active));

    expect(judged).toBe(verdict);
    expect(warnings).toEqual([
      'event 3: the tracking plan\'s schema for event "Order Completed" does not compile; the event was stored unchecked',
    ]);
  });

  it('lets an unplanned event through without a warning or a metric when the plan allows unplanned events', async () => {
    const active = await activePlan(orderPlan);
    const meter = recordingMeter();
    const warnings: string[] = [];
    const verdict = verdictOf({ type: 'track', event: 'Coupon Applied' });

    const judged = applyPlan(active, verdict, 0, planReport(meter, warnings, true, active));

    expect(judged).toBe(verdict);
    expect(warnings).toEqual([]);
    expect(meter.counts).toEqual([]);
  });

  it('leaves an event already refused by the Spec to that refusal', async () => {
    const active = await activePlan(orderPlan);
    const invalid = verdictOf({ type: 'track' });

    const judged = applyPlan(active, invalid, 0, planReport(recordingMeter(), [], true, active));

    expect(judged).toBe(invalid);
  });

  it(`lists the first ${MAX_PLAN_WARNINGS} warnings of a request, then one line saying more were left out, and counts them all`, async () => {
    const active = await activePlan({ ...orderPlan, mode: 'warn' });
    const meter = recordingMeter();
    const warnings: string[] = [];
    const report = planReport(meter, warnings, false, active);
    const events = Array.from({ length: MAX_PLAN_WARNINGS + 5 }, () =>
      verdictOf({ type: 'track', event: 'Order Completed', properties: {} }),
    );

    const judged = events.map((verdict, index) => applyPlan(active, verdict, index, report));

    expect(judged.every((verdict) => verdict.ok)).toBe(true);
    expect(warnings).toHaveLength(MAX_PLAN_WARNINGS + 1);
    expect(warnings[MAX_PLAN_WARNINGS - 1]).toBe(
      `event ${MAX_PLAN_WARNINGS - 1}: "properties.total" is required (tracking plan rule "required")`,
    );
    expect(warnings.at(-1)).toBe(`more events of this request have tracking plan warnings; the first ${MAX_PLAN_WARNINGS} are listed`);
    expect(meter.counts).toHaveLength(MAX_PLAN_WARNINGS + 5);
    expect(meter.counts[0]).toEqual(['PlanViolations', 1, ['kind', 'schema']]);
  });
});
