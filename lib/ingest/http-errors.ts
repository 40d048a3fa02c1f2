/**
 * The errors the ingest function answers with. Each carries its HTTP status and the category of
 * the refusal (`reason`, for logs and metrics); `errorResponse` in `http.ts` is the one place that
 * turns them into answers. Anything that is not one of these is unexpected: it becomes a generic
 * 500 and an error log line, so internals never reach the sender.
 */
import type { RefusalReason } from '../shared/reasons';

interface ServiceErrorOptions {
  cause?: unknown;
  headers?: Record<string, string>;
  /** Fields added to the answer beside `message`. */
  details?: Record<string, unknown>;
  reason?: RefusalReason;
}

export class ServiceError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly details: Record<string, unknown> | undefined;
  /** What kind of refusal this is (4xx); undefined for failures on our side (5xx). */
  readonly reason: RefusalReason | undefined;

  constructor(status: number, message: string, options: ServiceErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'ServiceError';
    this.status = status;
    this.headers = options.headers ?? {};
    this.details = options.details;
    this.reason = options.reason;
  }
}

/** 400: the body is not JSON, not the expected shape, or every event in it is invalid. */
export class BadRequestError extends ServiceError {
  constructor(message: string, reason: RefusalReason, details?: Record<string, unknown>) {
    super(400, message, { details, reason });
    this.name = 'BadRequestError';
  }
}

/** 401: no credentials, an unknown or revoked key, or a bad signature. */
export class UnauthorizedError extends ServiceError {
  constructor(message: string) {
    super(401, message, { headers: { 'WWW-Authenticate': 'Basic realm="segment-ingest"' }, reason: 'unauthorized' });
    this.name = 'UnauthorizedError';
  }
}

/** 403: the key is valid but its source is disabled, or it may not use this route. */
export class ForbiddenError extends ServiceError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(403, message, { details, reason: 'forbidden' });
    this.name = 'ForbiddenError';
  }
}

export class NotFoundError extends ServiceError {
  constructor(message: string) {
    super(404, message, { reason: 'not-found' });
    this.name = 'NotFoundError';
  }
}

export class MethodNotAllowedError extends ServiceError {
  constructor(message: string, allowed: readonly string[]) {
    super(405, message, { headers: { Allow: allowed.join(', ') }, reason: 'method-not-allowed' });
    this.name = 'MethodNotAllowedError';
  }
}

/** 413: the request is over a size limit; raised before the body is parsed. */
export class PayloadTooLargeError extends ServiceError {
  constructor(message: string) {
    super(413, message, { reason: 'too-large' });
    this.name = 'PayloadTooLargeError';
  }
}

/** 415: a content type, charset or encoding we cannot read. */
export class UnsupportedMediaTypeError extends ServiceError {
  constructor(message: string) {
    super(415, message, { reason: 'unsupported-media' });
    this.name = 'UnsupportedMediaTypeError';
  }
}

/** 429: the source is over its rate limit. */
export class TooManyRequestsError extends ServiceError {
  constructor(message: string, retryAfterSeconds: number) {
    super(429, message, { headers: { 'Retry-After': String(retryAfterSeconds) }, reason: 'rate-limited' });
    this.name = 'TooManyRequestsError';
  }
}

/** 503: SQS did not take every event within the time budget. The sender retries; dedup makes that safe. */
export class QueueUnavailableError extends ServiceError {
  constructor(message: string, retryAfterSeconds: number, cause?: unknown) {
    super(503, message, { cause, headers: { 'Retry-After': String(retryAfterSeconds) } });
    this.name = 'QueueUnavailableError';
  }
}
