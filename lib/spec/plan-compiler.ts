/**
 * Compiles a tracking plan (tracking-plan.ts) with Ajv, the engine of the Spec validation:
 * `allErrors`, so a violation names every rule it breaks, and ajv-formats for `format`
 * (`date-time`, `email`, `uri`, ...). Draft-07 JSON Schema, as Segment Protocols writes them, or
 * 2019-09 or 2020-12 when the plan's schemas say so in `$schema` (one draft per plan).
 *
 * The Ajv compiler is about 170 KB of code: the ingest function bundles this module as a file of
 * its own (scripts/build.ts) and imports it only when a source has a plan, once per plan version
 * (lib/ingest/plan-checks.ts); the CLI compiles with it in `plan set` to refuse a plan that does
 * not compile.
 *
 * No plan can stall ingest (docs/limits.md): `pattern` and `patternProperties` run on RE2's
 * linear-time engine (re2js), so a construct that needs backtracking (a backreference, a
 * lookaround) does not compile and `plan set` names it; the one ajv-formats format that is
 * super-linear on long values, `url`, fails values longer than `URL_FORMAT_MAX_CHARS`.
 */
import Ajv, { type Options, type ValidateFunction } from 'ajv';
import type { RegExpEngine } from 'ajv/dist/types';
import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats';
import { RE2JS } from 're2js';
import { eventKeyOf } from './event-keys';
import { describePlanErrors, type PlanDocument, type PlanMode, type UnplannedMode } from './tracking-plan';

/** Loaded with the compiler by the ingest function (lib/ingest/plan-checks.ts), which reads a stored plan only to compile it. */
export { readPlanDocument } from './tracking-plan';

export interface PlanVerdict {
  /** False when the event's key is not in the plan (alias and delete are never checked: always planned). */
  planned: boolean;
  /** Empty when the event keeps to its schema. */
  problems: string[];
  key?: string;
  /** The key's schema does not compile: the event was not checked (only a plan `plan set` did not check can be so). */
  broken?: boolean;
}

export interface CompiledPlan {
  mode: PlanMode;
  unplanned: UnplannedMode;
  /** Event keys with a schema. */
  size: number;
  check(event: Record<string, unknown>): PlanVerdict;
}

/** A plan whose schemas do not compile; `problems` names each event and what is wrong. */
export class PlanCompileError extends Error {
  constructor(readonly problems: string[]) {
    super(`the tracking plan does not compile: ${problems.join('; ')}`);
    this.name = 'PlanCompileError';
  }
}

export interface CompileOptions {
  /** Ajv's strict mode: `log` reports unknown keywords and the like to `warn` (the CLI), `false` ignores them (ingest). */
  strict?: boolean | 'log';
  warn?: (message: string) => void;
  /**
   * Compile every schema now and throw `PlanCompileError` listing each one that fails (`plan set`).
   * Otherwise (ingest) each event key's schema is compiled when its first event is checked: Ajv
   * takes milliseconds per schema, and a plan of hundreds of events would hold up one request.
   */
  eager?: boolean;
}

/** The plan's checks; each schema compiled at most once (see `CompileOptions.eager`). */
export function compilePlan(plan: PlanDocument, options: CompileOptions = {}): CompiledPlan {
  const ajv = createAjv(plan, options);
  const validators = new Map<string, ValidateFunction | Error>();
  const validatorOf = (key: string): ValidateFunction | Error | undefined => {
    const known = validators.get(key);
    if (known !== undefined || !Object.hasOwn(plan.events, key)) return known;
    let compiled: ValidateFunction | Error;
    try {
      compiled = ajv.compile(plan.events[key] as object);
    } catch (error) {
      compiled = error instanceof Error ? error : new Error(String(error));
    }
    validators.set(key, compiled);
    return compiled;
  };
  if (options.eager) {
    const problems = Object.keys(plan.events).flatMap((key) => {
      const compiled = validatorOf(key);
      return compiled instanceof Error ? [`events[${JSON.stringify(key)}]: ${compiled.message}`] : [];
    });
    if (problems.length > 0) throw new PlanCompileError(problems);
  }
  return {
    mode: plan.mode,
    unplanned: plan.unplanned,
    size: Object.keys(plan.events).length,
    check(event) {
      const key = eventKeyOf(event);
      if (key === undefined) return { planned: true, problems: [] };
      const validate = validatorOf(key);
      if (validate === undefined) return { planned: false, problems: [], key };
      if (validate instanceof Error) return { planned: true, problems: [], key, broken: true };
      return validate(event)
        ? { planned: true, problems: [], key }
        : { planned: true, problems: describePlanErrors(event, validate.errors ?? []), key };
    },
  };
}

function createAjv(plan: PlanDocument, options: CompileOptions): Ajv {
  const warn = options.warn ?? (() => {});
  const say = (...args: unknown[]) => warn(args.map(String).join(' '));
  const settings: Options = {
    allErrors: true,
    allowUnionTypes: true,
    strict: options.strict ?? false,
    code: { regExp: linearRegExp },
    // A rule on `properties` or `required` without `"type": "object"` is how tracking plans (and
    // Segment Protocols') are written, and the event checked is an object anyway: not worth a warning.
    strictTypes: false,
    logger: { log: () => {}, warn: say, error: say },
  };
  const draft = draftOf(plan);
  const ajv = draft === '2020-12' ? new Ajv2020(settings) : draft === '2019-09' ? new Ajv2019(settings) : new Ajv(settings);
  addFormats(ajv);
  ajv.addFormat('url', boundedUrl);
  return ajv;
}

/**
 * A pattern compiled for RE2: matching takes time linear in the value, whatever the pattern (`^(a+)+$`
 * on 29 `a`s and a `!` took 2.8 s with JavaScript's backtracking engine, doubling per character).
 * Throws, naming the construct, for what RE2 cannot run (`\1`, `(?=`, `(?<!`).
 */
export const linearRegExp: RegExpEngine = Object.assign(
  (pattern: string): { test(value: string): boolean } => {
    let compiled: RE2JS;
    try {
      compiled = RE2JS.compile(pattern);
    } catch (error) {
      throw new Error(
        `pattern ${JSON.stringify(pattern)} cannot run in linear time (${(error as Error).message}); backreferences and lookarounds are not supported`,
        { cause: error },
      );
    }
    return { test: (value: string) => compiled.matcher(value).find() };
  },
  { code: 're2js' },
);

/** Longer `url` values fail the format: its regex takes quadratic time (0.53 s on 30 KB). */
export const URL_FORMAT_MAX_CHARS = 2048;
const URL_FORMAT = fullFormats.url as RegExp;

function boundedUrl(value: string): boolean {
  return value.length <= URL_FORMAT_MAX_CHARS && URL_FORMAT.test(value);
}

/** The JSON Schema draft the plan's schemas declare in `$schema` (the first that does); draft-07 when none does. */
function draftOf(plan: PlanDocument): '07' | '2019-09' | '2020-12' {
  for (const schema of Object.values(plan.events)) {
    const declared = typeof schema === 'object' ? (schema as { $schema?: unknown }).$schema : undefined;
    if (typeof declared !== 'string') continue;
    if (declared.includes('2020-12')) return '2020-12';
    if (declared.includes('2019-09')) return '2019-09';
    return '07';
  }
  return '07';
}
