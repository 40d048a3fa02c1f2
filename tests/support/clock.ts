/** Clocks for tests of retry loops: one that never waits, and one whose time moves only by its sleeps. */
import type { Clock } from '../../lib/shared/retry';

/** Real time, but retries do not wait. */
export const noWaitClock: Clock = { now: () => Date.now(), sleep: async () => {} };

/** Time starts at `start` and moves only when the code sleeps (or the test calls `advance`). */
export function steppedClock(start = 0): Clock & { advance(ms: number): void; readonly time: number } {
  let time = start;
  return {
    now: () => time,
    sleep: async (ms) => {
      time += ms;
    },
    advance(ms) {
      time += ms;
    },
    get time() {
      return time;
    },
  };
}
