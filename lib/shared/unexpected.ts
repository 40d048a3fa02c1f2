/**
 * Errors that are nobody's answer: not a service's, not the network's, not our own deadline (a
 * TypeError, an invariant broken). They are bugs, and reported as bugs: counted as
 * `UnexpectedErrors` (an alarm of its own, runbook in docs/operations.md), each logged once with
 * its stack, never translated into a configuration error whose runbook says "check IAM".
 */
import type { Log } from './log';
import type { Meter } from './metrics';

/**
 * What the log keeps of an unexpected error: its class and its stack's frames (where in our code).
 * Not its message: a runtime's message may quote the data it choked on (JSON.parse quotes the
 * text), and no event body or trait is ever logged (docs/spec.md section 3).
 */
export function describeError(error: unknown): { name: string; stack: string[] } {
  if (!(error instanceof Error)) return { name: typeof error, stack: [] };
  const frames = (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  return { name: error.name, stack: frames.map((line) => line.trim()) };
}

/** Logs at most this many distinct errors of one invocation; the count covers all of them. */
const LOGGED_ERRORS = 5;

/**
 * Counts `errors` as `UnexpectedErrors` and logs each distinct one (by class and stack) once, with
 * its stack. `where` says what was running (a phase, a route).
 */
export function reportUnexpected(log: Log, meter: Meter, errors: readonly unknown[], where: string): void {
  if (errors.length === 0) return;
  meter.count('UnexpectedErrors', errors.length);
  const seen = new Set<string>();
  for (const error of errors) {
    const described = describeError(error);
    const key = `${described.name}\u0000${described.stack.join('\n')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (seen.size > LOGGED_ERRORS) break;
    log.error('unexpected error: a bug, not a permission or configuration problem', { where, error: described, count: errors.length });
  }
}
