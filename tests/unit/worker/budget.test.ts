/**
 * The worker's one time budget (lib/worker/budget.ts): the slices granted after the deadline fit
 * the safety margin with time left to answer, and a budget whose slices do not fit is refused at
 * load, naming them.
 */
import { ANSWER_MS, BUDGET, POST_DEADLINE_SLICES, SAFETY_MARGIN_MS, checkSlices } from '../../../lib/worker/budget';

describe('the worker budget', () => {
  it('grants slices after the deadline that, with the time to answer, fit the safety margin', () => {
    // Act
    const total = Object.values(POST_DEADLINE_SLICES).reduce((sum, ms) => sum + ms, 0) + ANSWER_MS;

    // Assess
    expect(total).toBeLessThanOrEqual(SAFETY_MARGIN_MS);
    expect(() => checkSlices(POST_DEADLINE_SLICES, SAFETY_MARGIN_MS, ANSWER_MS)).not.toThrow();
  });

  it('refuses slices that exceed the margin, naming each (the 1,000 + 1,500 + 1,500 ms of main 331ea64)', () => {
    expect(() => checkSlices({ audit: 1000, requeue: 1500, profiles: 1500 }, 3000, 0)).toThrow(
      "the worker's post-deadline slices (audit 1000 ms + requeue 1500 ms + profiles 1500 ms) and 0 ms to answer exceed its 3000 ms safety margin",
    );
  });

  it('sets the deadline the margin before the invocation ends, and ends a slice its length after the later of deadline and now', () => {
    // Act
    const deadline = BUDGET.deadline(10_000, 25_000);

    // Assess
    expect(deadline).toBe(10_000 + 25_000 - SAFETY_MARGIN_MS);
    expect(BUDGET.until('audit', deadline, deadline - 5_000)).toBe(deadline + POST_DEADLINE_SLICES.audit);
    expect(BUDGET.until('profiles', deadline, deadline + 200)).toBe(deadline + 200 + POST_DEADLINE_SLICES.profiles);
  });
});
