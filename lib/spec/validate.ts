/**
 * Validation against the Segment Spec schemas with every schema compiled at build time
 * (`scripts/generate-validators.ts` writes `compiled-validators.ts` from `schemas.ts`), so neither
 * the Ajv compiler nor compiling costs anything at cold start. `allErrors`: a rejected event lists
 * every reason. Errors are turned into sentences a Segment user can act on in the debugger.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { validators as compiled } from './compiled-validators';
import type { Problem } from '../shared/reasons';
import type { SpecType } from './event-types';

const validators = compiled as Record<SpecType, ValidateFunction>;

/** Validates `event` against the schema of `type`; returns the problems that make it invalid (empty when valid). */
export function validateAgainstSpec(type: SpecType, event: unknown): Problem[] {
  const validate = validators[type];
  if (validate(event)) return [];
  return (validate.errors ?? []).map(describeError);
}

function describeError(error: ErrorObject): Problem {
  const field = error.instancePath.slice(1).replaceAll('/', '.');
  switch (error.keyword) {
    case 'required':
      return { reason: 'missing-field', message: `missing required field "${String(error.params.missingProperty)}"` };
    case 'type': {
      const types = String(error.params.type).split(',').join(' or ');
      return { reason: 'invalid-field', message: field ? `"${field}" must be ${article(types)}` : `the event must be ${article(types)}` };
    }
    case 'minLength':
      return { reason: 'invalid-field', message: `"${field}" must not be empty` };
    case 'maxLength':
      return { reason: 'invalid-field', message: `"${field}" must be at most ${String(error.params.limit)} characters` };
    default:
      return {
        reason: 'invalid-field',
        message: field ? `"${field}" ${error.message ?? 'is invalid'}` : (error.message ?? 'the event is invalid'),
      };
  }
}

function article(types: string): string {
  return types
    .replace('object', 'an object')
    .replace(/^(string|number|array|null)/, 'a $1')
    .replace(' or null', ' or null');
}
