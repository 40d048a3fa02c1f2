/**
 * Posting one `/v1/batch` body to the public endpoint the way a careful Segment client does:
 * 429 and 503 wait for `Retry-After`; 408, 423, other 5xx (not 501), timeouts and connection errors
 * back off exponentially with jitter; anything else the endpoint refuses stops the replay, since
 * sending more would fail the same way (a wrong key, a wrong URL).
 */
import { CliError, EXIT, networkProblem } from '../core/errors';
import { backoffDelay, sleep, type Backoff } from '../../lib/shared/retry';

export interface BatchAnswer {
  accepted: number;
  /** Events of the batch the service rejected (and quarantined), by index in the batch. */
  errors: Array<{ index: number; message: string }>;
  /** Attempts beyond the first. */
  retries: number;
}

export interface RetryNotice {
  attempt: number;
  delayMs: number;
  problem: string;
}

export interface SenderOptions {
  /** Base URL, no trailing slash. */
  endpoint: string;
  key: string;
  /** Attempts after the first before giving up. */
  maxRetries: number;
  /** One request's time limit. */
  timeoutMs: number;
  /** Longest `Retry-After` honoured; longer ones are cut to this. */
  maxRetryAfterMs?: number;
  fetch?: typeof fetch;
  onRetry?: (notice: RetryNotice) => void;
  random?: () => number;
}

export type SendBatch = (body: string, events: number, signal?: AbortSignal) => Promise<BatchAnswer>;

const RETRYABLE = new Set([408, 423, 429]);

/** Reads `Retry-After` (seconds or an HTTP date) as milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Between half and all of 0.5 s, 1 s, 2 s ... capped at 30 s. */
const SENDER_BACKOFF: Backoff = { baseMs: 500, capMs: 30_000, jitter: 'half' };

/** The wait before retry `attempt` of a batch, in whole milliseconds. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  return Math.round(backoffDelay(SENDER_BACKOFF, attempt, random));
}

function refusal(status: number, message: string, endpoint: string): CliError {
  const hints: Record<number, string> = {
    401: ' Check the key (--key, or SEGMENT_INGEST_KEY): it must be an active key of the source.',
    403: ' The source of the key is disabled (segment-ingest sources enable ID).',
    404: ` Is ${endpoint} the base URL of segment-ingest (without /v1)?`,
    405: ` Is ${endpoint} the base URL of segment-ingest (without /v1)?`,
    413: " The deployment has lower limits than Segment's; pass smaller --batch-bytes / --batch-events.",
  };
  return new CliError(`the endpoint refused the batch: ${status} ${message}.${hints[status] ?? ''}`, EXIT.failed);
}

export function createBatchSender(options: SenderOptions): SendBatch {
  const doFetch = options.fetch ?? fetch;
  const url = `${options.endpoint}/v1/batch`;
  const authorization = `Basic ${Buffer.from(`${options.key}:`).toString('base64')}`;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 600_000;

  return async (body, events, signal) => {
    let problem: string;
    for (let attempt = 0; ; attempt++) {
      let retryAfterMs: number | undefined;
      try {
        const response = await doFetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization, 'user-agent': 'segment-ingest-cli' },
          body,
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        const text = await response.text();
        const answer = parseAnswer(text);
        if (response.status === 200 && answer && typeof answer.accepted === 'number') {
          return { accepted: answer.accepted, errors: answer.errors ?? [], retries: attempt };
        }
        // Every event of the batch was invalid: the service quarantined them all and says why.
        if (response.status === 400 && answer && Array.isArray(answer.errors) && answer.errors.length === events) {
          return { accepted: 0, errors: answer.errors, retries: attempt };
        }
        const message = answer?.message ?? text.slice(0, 200).trim();
        if (!(RETRYABLE.has(response.status) || (response.status >= 500 && response.status !== 501) || response.status === 200)) {
          throw refusal(response.status, message || response.statusText, options.endpoint);
        }
        problem = `${response.status}${message ? ` ${message}` : ''}`;
        if (response.status === 429 || response.status === 503) retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      } catch (error) {
        if (error instanceof CliError) throw error;
        if (signal?.aborted) throw signal.reason as Error;
        problem = networkProblem(error) ?? (error as Error).message;
      }
      if (attempt >= options.maxRetries) {
        throw new CliError(`gave up on a batch after ${attempt + 1} attempts; the last problem: ${problem}`, EXIT.failed);
      }
      const delayMs = retryAfterMs === undefined ? backoffMs(attempt + 1, options.random) : Math.min(retryAfterMs, maxRetryAfterMs);
      options.onRetry?.({ attempt: attempt + 1, delayMs, problem });
      await sleep(delayMs, signal);
    }
  };
}

interface Answer {
  accepted?: number;
  errors?: Array<{ index: number; message: string }>;
  message?: string;
}

function parseAnswer(text: string): Answer | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as Answer) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks the endpoint before sending anything: `GET /health` must answer. Throws `CliError` naming
 * the problem (down, wrong URL) so a replay never starts against nothing.
 */
export async function checkEndpoint(endpoint: string, fetchImpl: typeof fetch = fetch, hint = ''): Promise<void> {
  let response: Response;
  try {
    response = await fetchImpl(`${endpoint}/health`, { signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
  } catch (error) {
    throw new CliError(
      `cannot reach the endpoint ${endpoint} (${networkProblem(error) ?? (error as Error).message}).${hint}`,
      EXIT.failed,
      { cause: error },
    );
  }
  if (response.status >= 500) return; // Down for the moment: the retries deal with it.
  if (!response.ok)
    throw new CliError(`GET ${endpoint}/health answered ${response.status}: is ${endpoint} the base URL of segment-ingest?`, EXIT.failed);
}
