/**
 * Privacy policies at ingest (docs/privacy.md). A source's policy rides in its source record, which
 * the authenticator reads and caches (`KEY_CACHE_SECONDS`), so it costs no request of its own and a
 * change applies within the cache's lifetime; it is compiled once per version (a hash of its text)
 * per instance. Applied after validation and the tracking plan, before anything is queued: to each
 * valid event, and to what the quarantine keeps of a refused one, so a raw value reaches no queue
 * message, table, quarantine record or log line. Counts per rule go to `PrivacyRuleApplied.<rule>`
 * (and their sum to `PrivacyRuleApplied`), never a value.
 *
 * A stored policy that cannot be read or compiled (a missing PRIVACY_HASH_KEY) fails the request
 * with a 503 rather than let the source's values through as sent.
 */
import type { Log } from '../shared/log';
import { loadOnce } from '../shared/load-once';
import { LruCache } from '../shared/lru-cache';
import type { Meter } from '../shared/metrics';
import type { SourceRecord } from '../tables/sources';
import type { Finished, Verdict } from '../spec/normalize';
import type { PrivacyKeyRing } from '../shared/privacy-hash';
import type * as PrivacyEngineModule from '../spec/privacy-engine';
import type { CompiledPolicy, Memo, Tally } from '../spec/privacy-rules';

/** The policy code, a chunk loaded at the first source with a policy (lib/spec/privacy-engine.ts). */
export type PrivacyEngine = typeof PrivacyEngineModule;

/** A source's compiled policy and the code that applies it. */
export interface ActivePolicy {
  compiled: CompiledPolicy;
  engine: PrivacyEngine;
}

export interface PrivacyLoader {
  /**
   * The compiled policy of `source`; `undefined` without one. Throws when the stored policy cannot
   * be applied or its code cannot be loaded (the request is answered 503, never let through as sent).
   */
  policyFor(source: SourceRecord | undefined): Promise<ActivePolicy | undefined>;
}

const POLICY_ENTRIES = 100;
const POLICY_TTL_MS = 24 * 3_600_000;

export function createPrivacyLoader(
  log: Log,
  keys: PrivacyKeyRing | undefined,
  loadEngine: () => Promise<PrivacyEngine> = () => import('../spec/privacy-engine'),
): PrivacyLoader {
  const policies = new LruCache<ActivePolicy>(POLICY_ENTRIES);
  const engineOnce = loadOnce(loadEngine);
  return {
    async policyFor(source) {
      const text = source?.privacyPolicy;
      if (text === undefined || source === undefined) return undefined;
      const version = source.privacyPolicyVersion ?? text;
      const cached = policies.get(version);
      if (cached) return cached.value;
      try {
        const engine = await engineOnce();
        const read = engine.readPrivacyPolicy(JSON.parse(text));
        if ('problems' in read) throw new Error(`the stored policy is invalid: ${read.problems.length} problem(s)`);
        const active = { compiled: engine.compilePolicy(read.policy, keys?.current), engine };
        policies.set(version, active, POLICY_TTL_MS);
        return active;
      } catch (error) {
        log.error('the privacy policy of a source cannot be applied; its requests are answered 503', {
          sourceId: source.sourceId,
          version,
          error: (error as Error).message,
        });
        throw error;
      }
    },
  };
}

/** One request's privacy work: what each rule did (for the metric) and how many events consent withheld. */
export interface PrivacyRun {
  policy: CompiledPolicy;
  engine: PrivacyEngine;
  tally: Tally;
  /** The hashes made in this request (a batch repeats its user's id): dropped with the request. */
  memo: Memo;
  withheld: number;
  maxEventBytes: number;
}

export function startPrivacyRun({ compiled, engine }: ActivePolicy, maxEventBytes: number): PrivacyRun {
  return { policy: compiled, engine, tally: new Map(), memo: new Map(), withheld: 0, maxEventBytes };
}

/**
 * The policy as normalize's `finish`: applied to each valid event before it is serialized. An event
 * consent withholds is counted in `run.withheld`; one the policy leaves without an id is refused.
 */
export function privacyFinisher(run: PrivacyRun): (event: Record<string, unknown>) => Finished {
  // normalize's event is its own shallow copy of the item: its top level is changed in place.
  return (event) => finishEvent(run, event, true);
}

function finishEvent(run: PrivacyRun, event: Record<string, unknown>, ownsEvent: boolean): Finished {
  const applied = run.engine.applyPolicy(run.policy, event, run.tally, run.memo, ownsEvent);
  if ('withheld' in applied) {
    run.withheld++;
    return { withheld: true };
  }
  const { userId, anonymousId, type } = applied.event;
  if (type === 'delete' ? userId === undefined : userId === undefined && anonymousId === undefined) {
    const what = type === 'delete' ? 'other id a delete can name' : '"anonymousId"';
    const message = `the source's privacy policy drops "userId" and the event has no ${what}: it could not be stored under anyone`;
    return { problem: { reason: 'missing-identity', message } };
  }
  return applied;
}

/**
 * The policy applied to a verdict already serialized (a source with a tracking plan: the plan
 * judges the event as sent, then the policy applies): re-serialized when something changed,
 * `undefined` when consent withholds it, a refusal when it is left without an id or too large.
 */
export function applyPrivacy(run: PrivacyRun, verdict: Verdict): Verdict | undefined {
  if (!verdict.ok) return verdict;
  const finished = finishEvent(run, verdict.event as unknown as Record<string, unknown>, false);
  if ('withheld' in finished) return undefined;
  const { messageId } = verdict.event;
  if ('problem' in finished) return { ok: false, reasons: [finished.problem.message], reason: finished.problem.reason, messageId };
  if (finished.event === (verdict.event as unknown)) return verdict;
  const json = JSON.stringify(finished.event);
  const bytes = Buffer.byteLength(json);
  if (bytes > run.maxEventBytes) {
    const message = `event is ${bytes} bytes serialized once the source's privacy policy applied (hashes are longer than most values); the limit is ${run.maxEventBytes}`;
    return { ok: false, reasons: [message], reason: 'too-large', messageId };
  }
  return { ...verdict, event: finished.event as unknown as typeof verdict.event, json };
}

/** What the quarantine keeps of a refused item under the policy: the item with the policy applied, as JSON. */
export function quarantinedText(run: PrivacyRun, item: unknown): string {
  if (typeof item !== 'object' || item === null) return JSON.stringify(item) ?? String(item);
  if (Array.isArray(item)) return JSON.stringify(item.map((element) => JSON.parse(quarantinedText(run, element)) as unknown));
  const applied = run.engine.applyPolicy(run.policy, item as Record<string, unknown>, run.tally, run.memo);
  if ('withheld' in applied) return JSON.stringify(`(not kept: the user's consent denies category ${applied.withheld})`);
  const batch = applied.event.batch;
  if (!Array.isArray(batch)) return JSON.stringify(applied.event);
  return JSON.stringify({ ...applied.event, batch: JSON.parse(quarantinedText(run, batch)) as unknown });
}

/**
 * A whole body the quarantine keeps, under the policy: the policy applied to it when it is JSON
 * (to each element of its `batch`), and only a note of its size when it is not, since rules by
 * field cannot find a value in text that is no JSON.
 */
export function quarantinedBody(run: PrivacyRun, text: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `(not kept: the body is not JSON and the source has a privacy policy; ${Buffer.byteLength(text)} bytes)`;
  }
  return quarantinedText(run, value);
}

/**
 * The request's counts: per rule (`PrivacyRuleApplied.fields[0]`) and all rules together
 * (`PrivacyRuleApplied`), metrics of the invocation's one record; and a warning for the events
 * consent withheld.
 */
export function finishPrivacyRun(run: PrivacyRun, meter: Meter, warnings: string[]): void {
  let total = 0;
  for (const [rule, n] of run.tally) {
    meter.count(`PrivacyRuleApplied.${rule}`, n);
    total += n;
  }
  meter.count('PrivacyRuleApplied', total);
  if (run.withheld > 0)
    warnings.push(
      `${run.withheld} event(s) were accepted and not stored: the user's consent (context.consent.categoryPreferences) denies a category the source's privacy policy withholds`,
    );
}
