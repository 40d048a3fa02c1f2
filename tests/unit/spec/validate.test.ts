/**
 * The validators compiled at build time are the schemas in lib/spec/schemas.ts: the committed file
 * is what the generator writes now, and it judges events exactly as Ajv compiling at load did.
 */
import { readFileSync } from 'node:fs';
import Ajv, { type ValidateFunction } from 'ajv';
import { validatorSource, VALIDATORS_FILE } from '../../../scripts/generate-validators';
import { validators as compiled } from '../../../lib/spec/compiled-validators';
import { AJV_OPTIONS, SCHEMAS } from '../../../lib/spec/schemas';
import { validateAgainstSpec } from '../../../lib/spec/validate';
import { segmentEvent } from '../../support/events';
import { SPEC_TYPES, type SpecType } from '../../../lib/spec/event-types';

const validators = compiled as Record<SpecType, ValidateFunction>;

describe('compiled validators', () => {
  it('are up to date with the schemas (run `npx tsx scripts/generate-validators.ts` when this fails)', () => {
    expect(readFileSync(VALIDATORS_FILE, 'utf8')).toBe(validatorSource());
  });

  it('give the same verdicts and errors as validators compiled at load', () => {
    // Prepare
    const ajv = new Ajv(AJV_OPTIONS);
    const samples: unknown[] = [
      ...SPEC_TYPES.map((type) => segmentEvent(type)),
      { type: 'track' },
      {
        type: 'track',
        event: '',
        userId: '',
        anonymousId: [],
        messageId: 'x'.repeat(101),
        context: 'c',
        integrations: 1,
        properties: [],
        traits: true,
        version: {},
      },
      { type: 'group', groupId: 12, userId: 7 },
      { type: 'alias', previousId: '' },
      { type: 'page', name: null, category: 3 },
      { messageId: '🙂'.repeat(60) },
      { messageId: '🙂'.repeat(50) },
      'text',
      null,
      [],
    ];

    for (const type of SPEC_TYPES) {
      const atLoad = ajv.compile(SCHEMAS[type]);
      for (const sample of samples) {
        // Act
        const valid = validators[type](sample);

        // Assess
        expect([type, sample, valid, validators[type].errors ?? null]).toEqual([type, sample, atLoad(sample), atLoad.errors ?? null]);
      }
    }
  });

  it('are what validateAgainstSpec uses', () => {
    expect(validateAgainstSpec('track', { type: 'track', userId: 'u' })).toEqual([
      { reason: 'missing-field', message: 'missing required field "event"' },
    ]);
    expect(validateAgainstSpec('identify', segmentEvent('identify'))).toEqual([]);
  });
});
