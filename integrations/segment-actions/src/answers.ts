/**
 * The service's answer to a batch, as Segment's multi-status answer: one entry per event, in the
 * order sent, so Segment retries only the events that can succeed later and shows the others'
 * reasons in its Event Delivery view.
 */
import type { JSONLikeObject } from '@segment/actions-core';
import { MultiStatusResponse } from '@segment/actions-core';
import { answerMessage } from './settings';

/** The fields of an ingest answer read here (docs/spec.md section 2). */
interface IngestAnswer {
  errors?: { index?: unknown; message?: unknown }[];
}

/**
 * Per event: 200 for an accepted one; 400 with the service's reason for one it refused (it is
 * quarantined there, so a retry could not help). When the request as a whole was refused (401,
 * 403, 413, 429, 503, ...), every event gets that status and message, and Segment retries the
 * retryable ones (408, 429, 5xx) with its backoff.
 */
export function multiStatusOf(events: readonly JSONLikeObject[], status: number, body: unknown): MultiStatusResponse {
  const answers = new MultiStatusResponse();
  const itemErrors = (status === 200 || status === 400) && isAnswer(body) ? refusedItems(body) : undefined;
  events.forEach((event, index) => {
    if (!itemErrors) {
      answers.pushErrorResponse({ status, errormessage: answerMessage(status, body), sent: event, body: bodyOf(body) });
      return;
    }
    const refused = itemErrors.get(index);
    if (refused === undefined) answers.pushSuccessResponse({ status: 200, sent: event, body: 'accepted' });
    else
      answers.pushErrorResponse({ status: 400, errortype: 'PAYLOAD_VALIDATION_FAILED', errormessage: refused, sent: event, body: refused });
  });
  return answers;
}

function isAnswer(body: unknown): body is IngestAnswer {
  return typeof body === 'object' && body !== null && Array.isArray((body as IngestAnswer).errors);
}

/** The refused events of an answer, by index: its `errors` name them. */
function refusedItems(body: IngestAnswer): Map<number, string> {
  const refused = new Map<number, string>();
  for (const error of body.errors ?? []) {
    if (typeof error.index === 'number') refused.set(error.index, typeof error.message === 'string' ? error.message : 'refused');
  }
  return refused;
}

function bodyOf(body: unknown): JSONLikeObject | string {
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as JSONLikeObject) : String(body ?? '');
}
