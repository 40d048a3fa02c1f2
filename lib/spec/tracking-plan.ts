/**
 * Tracking plans: the document an operator stores per source (`segment-ingest plan set`), and the
 * sentences its violations are told in. The file is
 * `{ "mode": "warn" | "block", "unplanned": "allow" | "warn" | "block", "events": { "<event key>": <JSON Schema> } }`;
 * each schema applies to the whole event as Segment Protocols' do (a rule on `properties.total`
 * sits under `properties.properties.total`). Compiling is plan-compiler.ts's job; this module
 * carries no Ajv, so the ingest function loads the compiler only for sources that have a plan.
 */
import type { ErrorObject } from 'ajv';
import { jsonTypeOf, pathSegment, pointerToPath } from './property-paths';

export const PLAN_MODES = ['warn', 'block'] as const;
export const UNPLANNED_MODES = ['allow', 'warn', 'block'] as const;
export type PlanMode = (typeof PLAN_MODES)[number];
export type UnplannedMode = (typeof UNPLANNED_MODES)[number];

export interface PlanDocument {
  /** What a violation of an event's schema does: `warn` stores it and says so, `block` quarantines it. */
  mode: PlanMode;
  /** What an event whose key is not in `events` does. */
  unplanned: UnplannedMode;
  events: Record<string, object | boolean>;
}

/** A plan is stored in its source's item (400 KB at most, with the rest of the source). */
export const MAX_PLAN_BYTES = 256 * 1024;
export const MAX_PLAN_EVENTS = 2000;
/** Reasons named per violating event; the rest are counted. */
export const MAX_PLAN_REASONS = 10;

const FIELDS = new Set(['mode', 'unplanned', 'events']);

/** Checks the shape of a plan document (not its schemas: compilePlan does); lists every problem. */
export function readPlanDocument(value: unknown): { plan: PlanDocument } | { problems: string[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problems: ['the plan must be a JSON object'] };
  const document = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const field of Object.keys(document)) {
    if (!FIELDS.has(field)) problems.push(`unknown field ${JSON.stringify(field)}; a plan has "mode", "unplanned" and "events"`);
  }
  const mode = document.mode ?? 'warn';
  if (!PLAN_MODES.includes(mode as PlanMode)) problems.push(`"mode" must be "warn" or "block", got ${JSON.stringify(mode)}`);
  const unplanned = document.unplanned ?? 'allow';
  if (!UNPLANNED_MODES.includes(unplanned as UnplannedMode))
    problems.push(`"unplanned" must be "allow", "warn" or "block", got ${JSON.stringify(unplanned)}`);
  const events = document.events;
  if (typeof events !== 'object' || events === null || Array.isArray(events)) {
    problems.push('"events" must be an object of event keys and their JSON Schemas');
  } else {
    const keys = Object.keys(events);
    if (keys.length > MAX_PLAN_EVENTS) problems.push(`"events" has ${keys.length} event keys; at most ${MAX_PLAN_EVENTS}`);
    for (const key of keys) {
      const schema = (events as Record<string, unknown>)[key];
      if (key === '') problems.push('"events" has an empty event key');
      if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null || Array.isArray(schema)))
        problems.push(`events[${JSON.stringify(key)}] must be a JSON Schema (an object or a boolean)`);
    }
  }
  if (problems.length > 0) return { problems };
  return { plan: { mode: mode as PlanMode, unplanned: unplanned as UnplannedMode, events: events as PlanDocument['events'] } };
}

/** The reason of an event the plan does not list. */
export function unplannedReason(key: string, action: UnplannedMode): string {
  return `event ${JSON.stringify(clip(key, 100))} is not in the tracking plan (unplanned events: ${action})`;
}

/** Ajv's errors for `event` as sentences naming the property and the rule, at most `MAX_PLAN_REASONS` of them. */
export function describePlanErrors(event: unknown, errors: readonly ErrorObject[]): string[] {
  const reasons = [...new Set(errors.map((error) => describePlanError(event, error)))];
  if (reasons.length <= MAX_PLAN_REASONS) return reasons;
  return [...reasons.slice(0, MAX_PLAN_REASONS), `and ${reasons.length - MAX_PLAN_REASONS} more violations of the tracking plan`];
}

function describePlanError(event: unknown, error: ErrorObject): string {
  const path = pointerToPath(event, error.instancePath);
  const rule = `(tracking plan rule ${JSON.stringify(error.keyword)})`;
  const subject = path === '' ? 'the event' : `"${clip(path, 200)}"`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `"${clip(child(path, String(params.missingProperty)), 200)}" is required ${rule}`;
    case 'additionalProperties':
      return `"${clip(child(path, String(params.additionalProperty)), 200)}" is not in the plan ${rule}`;
    case 'type':
      return `${subject} must be ${String(params.type).split(',').join(' or ')}, not ${jsonTypeOf(valueAt(event, error.instancePath)) ?? 'absent'} ${rule}`;
    case 'enum':
      return `${subject} must be one of ${listValues(params.allowedValues)} ${rule}`;
    case 'const':
      return `${subject} must be ${clip(JSON.stringify(params.allowedValue) ?? 'null', 100)} ${rule}`;
    default:
      return `${subject} ${clip(error.message ?? 'is invalid', 200)} ${rule}`;
  }
}

function child(path: string, name: string): string {
  return path === '' ? pathSegment(name).replace(/^\./, '') : path + pathSegment(name);
}

function valueAt(root: unknown, pointer: string): unknown {
  let current = root;
  for (const raw of pointer === '' ? [] : pointer.slice(1).split('/')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[raw.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return current;
}

function listValues(values: unknown): string {
  const list = Array.isArray(values) ? values : [];
  const shown = list.slice(0, 5).map((v) => clip(JSON.stringify(v) ?? 'null', 40));
  return list.length > 5 ? `${shown.join(', ')} (and ${list.length - 5} more)` : shown.join(', ');
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
