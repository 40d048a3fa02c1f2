/**
 * Tracking plans at ingest. A source's plan travels in its source record, which the authenticator
 * already reads and caches (auth.ts, `KEY_CACHE_SECONDS`), so a plan costs no DynamoDB request of
 * its own, and a failed read is the 503 of any source lookup. It is compiled once per plan
 * version (a hash of its text) in each instance; the Ajv compiler (lib/spec/plan-compiler.ts, a
 * file of its own in the bundle) is loaded only when the first source with a plan is seen.
 *
 * A violation in `block` mode turns the event into a refusal like an invalid one (quarantined with
 * its reasons, listed in `errors`); in `warn` mode the event is stored and the answer's `warnings`
 * names the violation. Both count in `PlanViolations` (dimension `kind`: `schema`, `unplanned`).
 */
import type { Log } from '../shared/log';
import { loadOnce } from '../shared/load-once';
import { LruCache } from '../shared/lru-cache';
import type { Meter } from '../shared/metrics';
import type { SourceRecord } from '../tables/sources';
import type { Verdict } from '../spec/normalize';
import type { CompiledPlan, compilePlan } from '../spec/plan-compiler';
import { unplannedReason, type readPlanDocument } from '../spec/tracking-plan';

/** What the ingest function takes from the compiler module it loads on demand (the plan's reader too: 1.4 KB less in the bundle). */
interface Compiler {
  compilePlan: typeof compilePlan;
  readPlanDocument: typeof readPlanDocument;
}

/** A source's plan as this instance holds it: compiled, or broken (with why, for the answer). */
export type ActivePlan = { plan: CompiledPlan } | { broken: string };

export interface PlanLoader {
  /**
   * The plan of `source`; `undefined` without one. Throws when the compiler cannot be loaded
   * (the request is answered 503, never let through unchecked).
   */
  planFor(source: SourceRecord | undefined): Promise<ActivePlan | undefined>;
}

/** Compiled plans kept per instance, by version: a plan's text hash, shared by sources with the same plan. */
const PLAN_ENTRIES = 100;
const PLAN_TTL_MS = 24 * 3_600_000;
/** Plan warnings listed in one answer; the rest are counted in the metric. */
export const MAX_PLAN_WARNINGS = 100;

export function createPlanLoader(log: Log, loadCompiler: () => Promise<Compiler> = () => import('../spec/plan-compiler')): PlanLoader {
  const plans = new LruCache<ActivePlan>(PLAN_ENTRIES);
  const compiler = loadOnce(loadCompiler);
  return {
    async planFor(source) {
      const text = source?.trackingPlan;
      if (text === undefined || source === undefined) return undefined;
      const version = source.trackingPlanVersion ?? text;
      const cached = plans.get(version);
      if (cached) return cached.value;
      const active = compile(await compiler(), text);
      if ('broken' in active)
        log.error('the tracking plan of a source does not compile; its events are stored unchecked', {
          sourceId: source.sourceId,
          version,
        });
      plans.set(version, active, PLAN_TTL_MS);
      return active;
    },
  };
}

/**
 * A stored plan that does not compile (`plan set` refuses those; only a plan written some other
 * way, or by another Ajv version, can be one) lets events through with a warning rather than
 * refuse a source's traffic for as long as nobody fixes it.
 */
function compile(compiler: Compiler, text: string): ActivePlan {
  try {
    const read = compiler.readPlanDocument(JSON.parse(text));
    if ('problems' in read) throw new Error(read.problems.join('; '));
    return { plan: compiler.compilePlan(read.plan) };
  } catch {
    return { broken: "the source's tracking plan could not be compiled, so events were stored without checking them against it" };
  }
}

/** What one request's plan checks add to its answer: warnings (bounded) and metrics. */
export interface PlanReport {
  meter: Meter;
  warnings: string[];
  /** One event per request: warnings without the `event <i>:` prefix. */
  single: boolean;
  listed: number;
}

export function planReport(meter: Meter, warnings: string[], single: boolean, active: ActivePlan): PlanReport {
  if ('broken' in active) warnings.push(active.broken);
  return { meter, warnings, single, listed: 0 };
}

/**
 * The verdict on a valid event once its source's plan has judged it: unchanged when it keeps to
 * the plan (or the plan allows it, or is broken), a refusal (`tracking-plan`) in block mode, and
 * unchanged with a warning in warn mode.
 */
export function applyPlan(active: ActivePlan, verdict: Verdict, index: number, report: PlanReport): Verdict {
  if (!verdict.ok || 'broken' in active) return verdict;
  const { plan } = active;
  const judged = plan.check(verdict.event);
  if (judged.broken) {
    noteWarning(report, index, brokenReason(judged.key ?? ''));
    return verdict;
  }
  if (judged.planned && judged.problems.length === 0) return verdict;
  const action = judged.planned ? plan.mode : plan.unplanned;
  if (action === 'allow') return verdict;
  report.meter.count('PlanViolations', 1, ['kind', judged.planned ? 'schema' : 'unplanned']);
  const reasons = judged.planned ? judged.problems : [unplannedReason(judged.key ?? '', action)];
  if (action === 'block') return { ok: false, reasons, reason: 'tracking-plan', messageId: verdict.event.messageId };
  noteWarning(report, index, reasons.join('; '));
  return verdict;
}

function noteWarning(report: PlanReport, index: number, warning: string): void {
  if (report.listed < MAX_PLAN_WARNINGS) report.warnings.push(`${report.single ? '' : `event ${index}: `}${warning}`);
  else if (report.listed === MAX_PLAN_WARNINGS)
    report.warnings.push(`more events of this request have tracking plan warnings; the first ${MAX_PLAN_WARNINGS} are listed`);
  report.listed++;
}

function brokenReason(key: string): string {
  return `the tracking plan's schema for event ${JSON.stringify(key.slice(0, 100))} does not compile; the event was stored unchecked`;
}
