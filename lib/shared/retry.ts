/**
 * The one retry toolkit: backoff with jitter, a sleep that an abort signal ends, a deadline on a
 * promise, and the loop every "send what is pending, retry what is left" caller shares (the queue,
 * the batch writer, the tombstone reads). The replay sender of the CLI uses the backoff and the sleep.
 */

/** Exponential backoff: the ceiling before retry n is `min(capMs, baseMs * 2^(n-1))`. */
export interface Backoff {
  baseMs: number;
  capMs: number;
  /**
   * `full`: anywhere from 0 to the ceiling (spreads parallel retries best, e.g. throttled batch
   * writes); `half`: from half the ceiling to the ceiling (never retries at once).
   */
  jitter: 'full' | 'half';
}

/** The time source and the sleep; tests pass their own. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** A sleep that rejects with the signal's reason as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const systemClock: Clock = { now: Date.now, sleep: (ms) => sleep(ms) };

/** The wait before retry `attempt` (1 is the first retry). */
export function backoffDelay(policy: Backoff, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return policy.jitter === 'full' ? random() * ceiling : ceiling * (0.5 + random() / 2);
}

/**
 * Our own out-of-time, always this class: raised by `withinDeadline` when the time is up, and by
 * any loop of ours that stops at its deadline (`what` names the work that ran out of time). It is
 * a failure to wait, not a refusal: callers treat it like any transient failure (retry, or hand
 * the work back to SQS).
 */
export class DeadlineError extends Error {
  readonly kind = 'deadline';
  constructor(ms: number, what?: string) {
    super(what === undefined ? `no answer within ${ms} ms` : `${what} ran out of time`);
    this.name = 'DeadlineError';
  }
}

/**
 * Settles like `promise`, or rejects with `DeadlineError` after `ms`, whichever comes first. The
 * work behind `promise` is not cancelled: a request we stopped waiting for may still land, which
 * at-least-once delivery and idempotent storage already allow for. Used where per-call SDK options
 * would keep a client from reusing its cached middleware (lib/shared/clients.ts).
 */
export function withinDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineError(ms)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

export interface RetryOptions {
  policy: Backoff;
  /** Epoch ms: no attempt starts at or after it, and no wait would end after it. */
  deadline: number;
  clock: Clock;
  random?: () => number;
}

export interface RetryOutcome<T> {
  /** What was still pending when the loop stopped: empty when everything went through. */
  pending: readonly T[];
  attempts: number;
  /** Items sent again, summed over the retries. */
  retried: number;
}

/**
 * Calls `attempt` with what is pending, then again with what it hands back, after a backoff, until
 * nothing is pending or the next try could not start before the deadline. `attempt` decides what a
 * failure means: return the items to retry them, throw to stop.
 */
export async function retryPending<T>(
  items: readonly T[],
  options: RetryOptions,
  attempt: (pending: readonly T[], attemptNumber: number) => Promise<readonly T[]>,
): Promise<RetryOutcome<T>> {
  const { clock, deadline } = options;
  let pending = items;
  let attempts = 0;
  let retried = 0;
  while (pending.length > 0) {
    if (attempts > 0) {
      const delay = backoffDelay(options.policy, attempts, options.random);
      if (clock.now() + delay >= deadline) break;
      await clock.sleep(delay);
      retried += pending.length;
    }
    // Past the deadline nothing new starts: the caller has already given these items up.
    if (clock.now() >= deadline) break;
    pending = await attempt(pending, attempts);
    attempts++;
  }
  return { pending, attempts, retried };
}
