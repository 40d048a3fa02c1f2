/**
 * Tracking plans cannot stall ingest (issue 23): patterns run on RE2 (re2js), in time linear in
 * the value; what RE2 cannot run is refused when the plan is compiled for `plan set`, naming the
 * construct; the `url` format is bounded.
 */
import { compilePlan, PlanCompileError, URL_FORMAT_MAX_CHARS } from '../../../lib/spec/plan-compiler';
import type { PlanDocument } from '../../../lib/spec/tracking-plan';

const plan = (property: Record<string, unknown>): PlanDocument =>
  ({
    mode: 'block',
    unplanned: 'allow',
    events: { Signup: { type: 'object', properties: { properties: { type: 'object', properties: { value: property } } } } },
  }) as PlanDocument;

const track = (value: string) => ({ type: 'track', event: 'Signup', properties: { value } });

/** CPU milliseconds `run` takes. */
function cpuMs(run: () => void): number {
  const start = process.cpuUsage();
  run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

it('checks "^(a+)+$" against 10,000 "a"s and a "!" in linear time, with the answer a backtracking engine gives', () => {
  const compiled = compilePlan(plan({ type: 'string', pattern: '^(a+)+$' }), { eager: true });

  // 29 "a"s and a "!" took 2.8 s on main 331ea64, doubling per character.
  const ms = cpuMs(() => expect(compiled.check(track(`${'a'.repeat(10_000)}!`)).problems).toHaveLength(1));

  expect(ms).toBeLessThan(200);
  expect(compiled.check(track('aaaa')).problems).toEqual([]);
});

it('runs patternProperties on RE2 too', () => {
  const compiled = compilePlan(plan({ type: 'object', patternProperties: { '^(x+)+$': { type: 'number' } } }), { eager: true });

  const ms = cpuMs(() =>
    expect(
      compiled.check({ type: 'track', event: 'Signup', properties: { value: { [`${'x'.repeat(5000)}!`]: 'text' } } }).problems,
    ).toEqual([]),
  );

  expect(ms).toBeLessThan(200);
  expect(compiled.check({ type: 'track', event: 'Signup', properties: { value: { xxx: 'text' } } }).problems).toHaveLength(1);
});

it.each([
  ['a backreference', '^(a+)\\1$', '\\1'],
  ['a lookahead', '^(?=a)a+$', '(?='],
  ['a negative lookbehind', '(?<!b)a', '(?<!'],
])('refuses %s at plan set, naming the construct', (_name, pattern, construct) => {
  let error: unknown;
  try {
    compilePlan(plan({ type: 'string', pattern }), { eager: true });
  } catch (caught) {
    error = caught;
  }

  expect(error).toBeInstanceOf(PlanCompileError);
  expect((error as PlanCompileError).message).toContain('cannot run in linear time');
  expect((error as PlanCompileError).message).toContain(construct);
});

it('fails a "url" value longer than the bound in milliseconds, and still checks ordinary URLs', () => {
  const compiled = compilePlan(plan({ type: 'string', format: 'url' }), { eager: true });

  // 0.53 s on main 331ea64.
  const ms = cpuMs(() => expect(compiled.check(track(`http://${'a'.repeat(30_000)}!`)).problems).toHaveLength(1));

  expect(ms).toBeLessThan(50);
  expect(compiled.check(track('https://example.com/path?q=1')).problems).toEqual([]);
  expect(compiled.check(track(`https://example.com/${'p'.repeat(URL_FORMAT_MAX_CHARS - 20)}`)).problems).toEqual([]);
  expect(compiled.check(track('not a url')).problems).toHaveLength(1);
});
