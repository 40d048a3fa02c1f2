/** The one retry toolkit: backoff, the abortable sleep, the deadline, and the pending-items loop. */
import { backoffDelay, DeadlineError, retryPending, sleep, withinDeadline } from '../../../lib/shared/retry';
import { steppedClock } from '../../support/clock';

describe('backoffDelay', () => {
  it('doubles from the base up to the cap', () => {
    const policy = { baseMs: 100, capMs: 1000, jitter: 'half' } as const;

    const ceilings = [1, 2, 3, 4, 5, 10].map((attempt) => backoffDelay(policy, attempt, () => 1));

    expect(ceilings).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('waits between half and all of the ceiling with half jitter, and from 0 with full jitter', () => {
    const half = { baseMs: 100, capMs: 1000, jitter: 'half' } as const;
    const full = { ...half, jitter: 'full' } as const;

    expect([backoffDelay(half, 3, () => 0), backoffDelay(half, 3, () => 0.5)]).toEqual([200, 300]);
    expect([backoffDelay(full, 3, () => 0), backoffDelay(full, 3, () => 0.5)]).toEqual([0, 200]);
  });
});

describe('withinDeadline', () => {
  it('settles like the promise when it is in time', async () => {
    await expect(withinDeadline(Promise.resolve(1), 50)).resolves.toBe(1);
    await expect(withinDeadline(Promise.reject(new Error('no')), 50)).rejects.toThrow('no');
  });

  it('rejects with an Error even when the promise rejects with something else', async () => {
    const rejection = withinDeadline(Promise.reject('just text' as unknown as Error), 50);

    await expect(rejection).rejects.toBeInstanceOf(Error);
    await expect(rejection).rejects.toThrow('just text');
  });

  it('rejects with a DeadlineError when the time is up', async () => {
    const waiting = withinDeadline(new Promise(() => {}), 10);

    await expect(waiting).rejects.toBeInstanceOf(DeadlineError);
    await expect(waiting).rejects.toMatchObject({ name: 'DeadlineError', message: 'no answer within 10 ms' });
  });
});

describe('sleep', () => {
  it('ends early, with the reason, when its signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();

    const sleeping = sleep(10_000, controller.signal);
    controller.abort(new Error('interrupted'));

    await expect(sleeping).rejects.toThrow('interrupted');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('resolves once its time has passed when its signal does not abort', async () => {
    const started = Date.now();

    await expect(sleep(20, new AbortController().signal)).resolves.toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(19);
  });

  it('rejects at once when its signal has already aborted', async () => {
    await expect(sleep(10, AbortSignal.abort(new Error('stopped')))).rejects.toThrow('stopped');
  });
});

describe('retryPending', () => {
  const policy = { baseMs: 100, capMs: 1000, jitter: 'full' } as const;

  it('sends what is left after each attempt until nothing is pending, counting the items sent again', async () => {
    const clock = steppedClock();
    const seen: number[][] = [];

    const outcome = await retryPending([1, 2, 3, 4], { policy, deadline: 10_000, clock, random: () => 1 }, async (pending) => {
      seen.push([...pending]);
      return pending.slice(1);
    });

    expect(seen).toEqual([[1, 2, 3, 4], [2, 3, 4], [3, 4], [4]]);
    expect(outcome).toEqual({ pending: [], attempts: 4, retried: 6 });
    expect(clock.time).toBe(100 + 200 + 400);
  });

  it('stops before a wait that would end past the deadline, handing back what is pending', async () => {
    const clock = steppedClock();

    const outcome = await retryPending(['a'], { policy, deadline: 250, clock, random: () => 1 }, async (pending) => pending);

    // Waits of 100 (ends at 100), then 200 (would end at 300 > 250): two attempts.
    expect(outcome).toEqual({ pending: ['a'], attempts: 2, retried: 1 });
  });

  it('starts nothing at or after the deadline', async () => {
    const clock = steppedClock(500);
    const attempt = jest.fn(async () => []);

    const outcome = await retryPending(['a'], { policy, deadline: 500, clock }, attempt);

    expect(attempt).not.toHaveBeenCalled();
    expect(outcome.pending).toEqual(['a']);
  });
});
