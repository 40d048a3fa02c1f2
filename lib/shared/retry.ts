/**
 * Waiting for an AWS request no longer than a time budget, without per-call SDK options (which
 * would keep the client from reusing its cached middleware; see lib/shared/clients.ts).
 */

/** Raised by `withinDeadline` when the time is up; callers treat it as a transient failure. */
export class DeadlineError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * Settles like `promise`, or rejects with `DeadlineError` after `ms`, whichever comes first. The
 * work behind `promise` is not cancelled: a request we stopped waiting for may still land, which
 * at-least-once delivery and idempotent storage already allow for.
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
