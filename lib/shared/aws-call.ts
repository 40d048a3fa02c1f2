/**
 * The one door every AWS SDK call of lib/ goes through: it keeps the call's deadline, counts the
 * request, and translates what the SDK or the network threw into our classes (`errors.ts`), but for
 * a failed condition, which the caller asked for and receives as the SDK threw it. Only
 * SDK-shaped errors are translated; anything else (a TypeError, a mistake of ours) leaves the door
 * as it came, so a bug stays a bug (`unexpected.ts` counts and logs it) and never reads as a
 * permission problem.
 */
import { isAwsError, isConditionalFailure, translateAwsError, type Service } from './errors';
import { DeadlineError, systemClock, withinDeadline, type Clock } from './retry';

export interface AwsCallOptions {
  service: Service;
  /**
   * Epoch ms by which the call must have answered: past it the door stops waiting
   * (`DeadlineError`, translated as transient). A call that would start at or after it is not sent.
   */
  deadline?: number;
  /** The longest the call may take, counted from now (alone or with `deadline`: the sooner wins). */
  timeoutMs?: number;
  clock?: Pick<Clock, 'now'>;
  /** Its `requests` is raised by one for each call sent. */
  counter?: { requests: number };
  /** A refused item's reason, in our words (the quarantine reason), from what the service threw. */
  reason?: (error: unknown) => string;
  /**
   * Hands the call an AbortSignal that fires at the deadline, so the SDK abandons the request too.
   * Off for clients with cached middleware, which per-call options would bypass (`clients.ts`).
   */
  abortable?: boolean;
}

/** The milliseconds the call may take, or undefined for no limit. */
function allowance(options: AwsCallOptions): number | undefined {
  const { deadline, timeoutMs } = options;
  if (deadline === undefined) return timeoutMs;
  const left = Math.ceil(deadline - (options.clock ?? systemClock).now());
  return timeoutMs === undefined ? left : Math.min(left, timeoutMs);
}

/**
 * Sends one AWS call through the door: `send` makes the request (with the signal when
 * `abortable`). Throws a `DependencyError` for what the service or the network answered, our
 * `DeadlineError` translated as transient when the time ran out, and anything else unchanged.
 */
export async function awsCall<T>(options: AwsCallOptions, send: (abortSignal?: AbortSignal) => Promise<T>): Promise<T> {
  const ms = allowance(options);
  try {
    if (ms !== undefined && ms <= 0) throw new DeadlineError(0);
    if (options.counter) options.counter.requests++;
    if (ms === undefined) return await send();
    return await withinDeadline(send(options.abortable ? AbortSignal.timeout(ms) : undefined), ms);
  } catch (error) {
    // A failed condition is an answer the caller asked for: it leaves as the SDK threw it.
    if (!isAwsError(error) || isConditionalFailure(error)) throw error;
    const reason = options.reason?.(error);
    throw reason === undefined ? translateAwsError(error, options.service) : translateAwsError(error, options.service, reason);
  }
}
