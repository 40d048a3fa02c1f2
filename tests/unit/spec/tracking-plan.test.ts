/** Tracking plans: the document's checks, compiling with Ajv, and the sentences violations are told in. */
import { compilePlan, PlanCompileError } from '../../../lib/spec/plan-compiler';
import { MAX_PLAN_EVENTS, MAX_PLAN_REASONS, readPlanDocument, type PlanDocument } from '../../../lib/spec/tracking-plan';

const plan = (events: PlanDocument['events'], mode: PlanDocument['mode'] = 'block'): PlanDocument => ({ mode, unplanned: 'warn', events });

const track = (properties: Record<string, unknown>) => ({ type: 'track', event: 'Order Completed', messageId: 'm1', properties });

describe('compilePlan', () => {
  const compiled = compilePlan(
    plan({
      'Order Completed': {
        type: 'object',
        required: ['properties'],
        properties: {
          properties: {
            type: 'object',
            required: ['order_id'],
            additionalProperties: false,
            properties: {
              order_id: { type: 'string', pattern: '^ord_' },
              email: { type: 'string', format: 'email' },
              items: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' } } } },
            },
          },
        },
      },
    }),
  );

  it('names the property and the rule of every violation, with array positions', () => {
    const verdict = compiled.check(track({ order_id: 'x1', email: 'nope', items: [{ sku: 'a' }, { sku: 7 }], extra: true }));

    expect(verdict).toEqual({
      planned: true,
      key: 'Order Completed',
      problems: [
        '"properties.extra" is not in the plan (tracking plan rule "additionalProperties")',
        '"properties.order_id" must match pattern "^ord_" (tracking plan rule "pattern")',
        '"properties.email" must match format "email" (tracking plan rule "format")',
        '"properties.items[1].sku" must be string, not integer (tracking plan rule "type")',
      ],
    });
  });

  it('names a missing property with its full path, and passes an event that keeps to the plan', () => {
    expect(compiled.check(track({})).problems).toEqual(['"properties.order_id" is required (tracking plan rule "required")']);
    expect(compiled.check({ type: 'track', event: 'Order Completed' }).problems).toEqual([
      '"properties" is required (tracking plan rule "required")',
    ]);
    expect(compiled.check(track({ order_id: 'ord_1', email: 'a@example.com' }))).toEqual({
      planned: true,
      problems: [],
      key: 'Order Completed',
    });
  });

  it('tells unplanned event keys apart, and never checks alias or delete', () => {
    expect(compiled.check({ type: 'track', event: 'Other' })).toEqual({ planned: false, problems: [], key: 'Other' });
    expect(compiled.check({ type: 'alias', previousId: 'a', userId: 'b' })).toEqual({ planned: true, problems: [] });
  });

  it('names at most a bounded number of reasons per event', () => {
    const many = compilePlan(
      plan({ identify: { type: 'object', properties: { traits: { type: 'object', additionalProperties: { type: 'number' } } } } }),
    );
    const traits = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, 'x']));

    const { problems } = many.check({ type: 'identify', traits });

    expect(problems).toHaveLength(MAX_PLAN_REASONS + 1);
    expect(problems.at(-1)).toBe('and 40 more violations of the tracking plan');
  });

  it('refuses schemas that do not compile, naming each event', () => {
    const act = () => compilePlan(plan({ A: { type: 'nombre' }, B: { $ref: '#/definitions/missing' }, C: true }), { eager: true });

    expect(act).toThrow(PlanCompileError);
    try {
      act();
    } catch (error) {
      expect((error as PlanCompileError).problems).toEqual([
        expect.stringMatching(/^events\["A"\]: schema is invalid/),
        expect.stringMatching(/^events\["B"\]: can't resolve reference/),
      ]);
    }
  });

  it('compiles a schema only when an event of its key is first checked, unless asked to compile all', () => {
    const lazy = compilePlan(plan({ A: { type: 'nombre' }, B: { type: 'object' } }));

    expect(lazy.check({ type: 'track', event: 'B' })).toEqual({ planned: true, problems: [], key: 'B' });
    expect(lazy.check({ type: 'track', event: 'A' })).toEqual({ planned: true, problems: [], key: 'A', broken: true });
  });

  it('compiles 2020-12 schemas when the plan says so, and refuses a plan that mixes drafts', () => {
    const modern = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      properties: { properties: { properties: { tags: { prefixItems: [{ type: 'string' }] } } } },
    };

    const compiled2020 = compilePlan(plan({ identify: modern }, 'warn'));
    const mixed = () =>
      compilePlan(plan({ identify: modern, group: { $schema: 'http://json-schema.org/draft-07/schema#' } }), { eager: true });

    expect(compiled2020.check({ type: 'identify', properties: { tags: [1] } }).problems).toEqual([
      '"properties.tags[0]" must be string, not integer (tracking plan rule "type")',
    ]);
    expect(mixed).toThrow(/events\["group"\]: no schema with key or ref "http:\/\/json-schema.org\/draft-07\/schema#"/);
  });

  it('compiles 2019-09 schemas when the plan says so, checking the keywords of that draft', () => {
    const compiled2019 = compilePlan(
      plan({
        identify: {
          $schema: 'https://json-schema.org/draft/2019-09/schema',
          properties: { traits: { dependentRequired: { street: ['city'] } } },
        },
      }),
    );

    const { problems } = compiled2019.check({ type: 'identify', traits: { street: 'Main St 1' } });

    expect(problems).toEqual(['"traits" must have property city when property street is present (tracking plan rule "dependentRequired")']);
  });

  it('names the value a "const" rule wants, and the allowed values of a long "enum" with how many more there are', () => {
    const strict = compilePlan(
      plan({
        'Order Completed': {
          properties: {
            properties: {
              properties: {
                version: { const: 2 },
                currency: { enum: ['EUR', 'USD', 'GBP', 'CHF', 'JPY', 'SEK', 'NOK', `X${'Y'.repeat(60)}`] },
              },
            },
          },
        },
      }),
    );

    const { problems } = strict.check(track({ version: 1, currency: 'DKK' }));

    expect(problems).toEqual([
      '"properties.version" must be 2 (tracking plan rule "const")',
      '"properties.currency" must be one of "EUR", "USD", "GBP", "CHF", "JPY" (and 3 more) (tracking plan rule "enum")',
    ]);
  });

  it('calls a violation of the schema at the top "the event", with the type it has', () => {
    const strict = compilePlan(plan({ 'Order Completed': { type: 'array' } }));

    const { problems } = strict.check(track({}));

    expect(problems).toEqual(['the event must be array, not object (tracking plan rule "type")']);
  });

  it('clips a long enum value in the sentence, so one value cannot make a reason huge', () => {
    const long = `v${'x'.repeat(100)}`;
    const strict = compilePlan(plan({ 'Order Completed': { properties: { properties: { properties: { tier: { enum: [long] } } } } } }));

    const [problem] = strict.check(track({ tier: 'other' })).problems;

    expect(problem).toBe(`"properties.tier" must be one of ${JSON.stringify(long).slice(0, 40)}… (tracking plan rule "enum")`);
  });

  it('reports unknown keywords in strict log mode instead of failing', () => {
    const warnings: string[] = [];

    compilePlan(plan({ A: { type: 'object', propertes: {} } }), { strict: 'log', eager: true, warn: (m) => warnings.push(m) });

    expect(warnings.join('\n')).toContain('unknown keyword: "propertes"');
  });
});

describe('readPlanDocument', () => {
  it('defaults mode to warn and unplanned to allow', () => {
    expect(readPlanDocument({ events: {} })).toEqual({ plan: { mode: 'warn', unplanned: 'allow', events: {} } });
  });

  it('lists every problem of the document at once', () => {
    expect(readPlanDocument({ mode: 'strict', unplanned: 'drop', events: { a: 3, '': {} }, extra: 1 })).toEqual({
      problems: [
        'unknown field "extra"; a plan has "mode", "unplanned" and "events"',
        '"mode" must be "warn" or "block", got "strict"',
        '"unplanned" must be "allow", "warn" or "block", got "drop"',
        'events["a"] must be a JSON Schema (an object or a boolean)',
        '"events" has an empty event key',
      ],
    });
  });

  it.each([
    ['an array', []],
    ['null', null],
    ['a string', 'plan'],
  ])('refuses %s as a plan: a plan is a JSON object', (_, value) => {
    expect(readPlanDocument(value)).toEqual({ problems: ['the plan must be a JSON object'] });
  });

  it(`refuses more than ${MAX_PLAN_EVENTS} event keys, saying how many there are`, () => {
    const events = Object.fromEntries(Array.from({ length: MAX_PLAN_EVENTS + 1 }, (_, i) => [`Event ${i}`, true]));

    expect(readPlanDocument({ events })).toEqual({
      problems: [`"events" has ${MAX_PLAN_EVENTS + 1} event keys; at most ${MAX_PLAN_EVENTS}`],
    });
  });
});
