/**
 * The errors the service answers with. Each maps to one HTTP status in `http.ts`; anything that is
 * not one of these becomes a generic 500 and a log line, so internals never reach the sender.
 */
export class ServiceError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    status: number,
    message: string,
    options: { cause?: unknown; headers?: Record<string, string>; details?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ServiceError';
    this.status = status;
    this.headers = options.headers ?? {};
    this.details = options.details;
  }
}

/** 400: the body is not JSON, not the expected shape, or every event in it is invalid. */
export class BadRequestError extends ServiceError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(400, message, { details });
    this.name = 'BadRequestError';
  }
}

/** 401: no credentials, an unknown or revoked key, or a bad signature. */
export class UnauthorizedError extends ServiceError {
  constructor(message: string) {
    super(401, message, { headers: { 'WWW-Authenticate': 'Basic realm="segment-ingest"' } });
    this.name = 'UnauthorizedError';
  }
}

/** 403: the key is valid but its source is disabled, or it may not use this route. */
export class ForbiddenError extends ServiceError {
  constructor(message: string) {
    super(403, message);
    this.name = 'ForbiddenError';
  }
}

export class NotFoundError extends ServiceError {
  constructor(message: string) {
    super(404, message);
    this.name = 'NotFoundError';
  }
}

export class MethodNotAllowedError extends ServiceError {
  constructor(message: string, allowed: readonly string[]) {
    super(405, message, { headers: { Allow: allowed.join(', ') } });
    this.name = 'MethodNotAllowedError';
  }
}

/** 413: the request is over a size limit; raised before the body is parsed. */
export class PayloadTooLargeError extends ServiceError {
  constructor(message: string) {
    super(413, message);
    this.name = 'PayloadTooLargeError';
  }
}

/** 415: a content type, charset or encoding we cannot read. */
export class UnsupportedMediaTypeError extends ServiceError {
  constructor(message: string) {
    super(415, message);
    this.name = 'UnsupportedMediaTypeError';
  }
}

/** 429: the source is over its rate limit. */
export class TooManyRequestsError extends ServiceError {
  constructor(message: string, retryAfterSeconds: number) {
    super(429, message, { headers: { 'Retry-After': String(retryAfterSeconds) } });
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

/** Configuration that cannot work; thrown at cold start so the function fails loudly, not per request. */
export class ConfigError extends Error {
  constructor(problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}
