/**
 * Compiles a tracking plan (tracking-plan.ts) with Ajv, the engine of the Spec validation:
 * `allErrors`, so a violation names every rule it breaks, and ajv-formats for `format`
 * (`date-time`, `email`, `uri`, ...). Draft-07 JSON Schema, as Segment Protocols writes them.
 *
 * The Ajv compiler is about 130 KB of code: the ingest function bundles this module as a file of
 * its own (scripts/build.ts) and imports it only when a source has a plan, once per plan version
 * (lib/ingest/plan-checks.ts); the CLI compiles with it in `plan set` to refuse a plan that does
 * not compile.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { eventKeyOf } from './event-keys';
import { describePlanErrors, type PlanDocument, type PlanMode, type UnplannedMode } from './tracking-plan';

export interface PlanVerdict {
  /** False when the event's key is not in the plan (alias and delete are never checked: always planned). */
  planned: boolean;
  /** Empty when the event keeps to its schema. */
  problems: string[];
  key?: string;
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
}

/** Compiles every schema of `plan`; throws `PlanCompileError` listing each one that fails. */
export function compilePlan(plan: PlanDocument, options: CompileOptions = {}): CompiledPlan {
  const warn = options.warn ?? (() => {});
  const ajv = new Ajv({
    allErrors: true,
    allowUnionTypes: true,
    strict: options.strict ?? false,
    logger: {
      log: () => {},
      warn: (...args: unknown[]) => warn(args.map(String).join(' ')),
      error: (...args: unknown[]) => warn(args.map(String).join(' ')),
    },
  });
  addFormats(ajv);
  const validators = new Map<string, ValidateFunction>();
  const problems: string[] = [];
  for (const [key, schema] of Object.entries(plan.events)) {
    try {
      validators.set(key, ajv.compile(schema));
    } catch (error) {
      problems.push(`events[${JSON.stringify(key)}]: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new PlanCompileError(problems);
  return {
    mode: plan.mode,
    unplanned: plan.unplanned,
    size: validators.size,
    check(event) {
      const key = eventKeyOf(event);
      if (key === undefined) return { planned: true, problems: [] };
      const validate = validators.get(key);
      if (validate === undefined) return { planned: false, problems: [], key };
      return validate(event)
        ? { planned: true, problems: [], key }
        : { planned: true, problems: describePlanErrors(event, validate.errors ?? []), key };
    },
  };
}
