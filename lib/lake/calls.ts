/**
 * The lake's AWS calls (S3 objects, the erasures table), each through the one door of
 * lib/shared/aws-call.ts: a time limit (the invocation's deadline when the handler knows it, and
 * never more than `LAKE_CALL_TIMEOUT_MS` a call), a request count, and the SDK's errors in our
 * classes (a throttled or failed S3 request is a `TransientError`: Lambda retries the batch).
 */
import { awsCall } from '../shared/aws-call';

/** One invocation's calls: its deadline (epoch ms) and the requests it sent. Absent: no deadline, not counted. */
export interface LakeCalls {
  deadline?: number;
  counter?: { requests: number };
}

/** The longest one lake call may take: an object of a few MB, or a page of the erasures table. */
export const LAKE_CALL_TIMEOUT_MS = 30_000;
/**
 * Kept free before Lambda's own timeout: a call still waiting then is abandoned with our
 * `DeadlineError` (logged, retried), rather than the invocation being killed mid-write.
 */
export const LAKE_SAFETY_MARGIN_MS = 2_000;

/** The calls of an invocation with `remainingMs` left (Lambda's `getRemainingTimeInMillis()`), counted from 0. */
export function invocationCalls(remainingMs: number | undefined, now = Date.now()): Required<Pick<LakeCalls, 'counter'>> & LakeCalls {
  return { deadline: remainingMs === undefined ? undefined : now + remainingMs - LAKE_SAFETY_MARGIN_MS, counter: { requests: 0 } };
}

/** Sends one call through the door; `send` gets the abort signal that fires at the call's deadline. */
export function lakeCall<T>(
  service: 'S3' | 'DynamoDB',
  calls: LakeCalls | undefined,
  send: (abortSignal?: AbortSignal) => Promise<T>,
): Promise<T> {
  return awsCall({ service, deadline: calls?.deadline, timeoutMs: LAKE_CALL_TIMEOUT_MS, counter: calls?.counter, abortable: true }, send);
}
