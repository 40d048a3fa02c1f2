/**
 * The worker's time, owned in one place. An invocation's batch runs until its deadline: the
 * Lambda's remaining time less a safety margin. Some work must still happen after the deadline (a
 * sweep may have used all the time, and its audit must be recorded anyway); each such slice is
 * granted here, by name, and the sum of the slices is checked at load against the margin, so a
 * new slice cannot silently eat the time the function needs to answer SQS.
 */
/** Time kept back from the Lambda timeout so the function can still answer with its failures. */
export const SAFETY_MARGIN_MS = 3000;
/** The batch's time when the caller does not say how much the invocation has left (tests, the bench). */
export const DEFAULT_BUDGET_MS = 25_000;
/**
 * Time the batch's writes leave before the deadline for the check of what they wrote against the
 * erasures: without it, items retried until the deadline would fail every message of the batch,
 * not just theirs.
 */
export const CHECK_RESERVE_MS = 500;

/**
 * Work granted time after the deadline, in the order it may run: the erasure audit after a sweep
 * that used the whole budget, the requeue that continues that erasure, and the profile phase after
 * writes that retried until the deadline. Each starts at most its slice after the previous ended.
 */
export const POST_DEADLINE_SLICES = { audit: 750, requeue: 750, profiles: 1000 } as const;
export type Slice = keyof typeof POST_DEADLINE_SLICES;

/** What is left of the margin after every slice: writing the metrics and answering SQS. */
export const ANSWER_MS = 500;

/**
 * Throws when the slices and the answer do not fit in the safety margin. Called at load, below, so
 * a worker whose budget does not add up fails its cold start (and its unit test), not a batch.
 */
export function checkSlices(slices: Readonly<Record<string, number>>, marginMs: number, answerMs: number): void {
  const total = Object.values(slices).reduce((sum, ms) => sum + ms, 0) + answerMs;
  if (total > marginMs) {
    const parts = Object.entries(slices).map(([name, ms]) => `${name} ${ms} ms`);
    throw new Error(
      `the worker's post-deadline slices (${parts.join(' + ')}) and ${answerMs} ms to answer exceed its ${marginMs} ms safety margin`,
    );
  }
}
checkSlices(POST_DEADLINE_SLICES, SAFETY_MARGIN_MS, ANSWER_MS);

/**
 * The budget: the batch's deadline, and the end of each slice granted after it. A slice runs for
 * its length from now, or from the deadline while the deadline is still ahead: its end is never
 * more than the slice's length past the later of the two.
 */
export const BUDGET = {
  /** Epoch ms by which every request of a batch started at `startedAt` must be done, but the slices. */
  deadline(startedAt: number, remainingMs: number | undefined): number {
    const available = (remainingMs ?? DEFAULT_BUDGET_MS + SAFETY_MARGIN_MS) - SAFETY_MARGIN_MS;
    return startedAt + Math.max(1000, available);
  },
  /** The end (epoch ms) of `slice`, for a batch whose deadline is `deadline`, asked at `now`. */
  until(slice: Slice, deadline: number, now: number): number {
    return Math.max(deadline, now) + POST_DEADLINE_SLICES[slice];
  },
  /** The slice's length, for a call that takes a timeout rather than an end. */
  ms(slice: Slice): number {
    return POST_DEADLINE_SLICES[slice];
  },
} as const;
