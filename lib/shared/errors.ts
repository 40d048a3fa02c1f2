/**
 * Failures of configuration and of the AWS services we depend on, as our own classes. SDK errors
 * are translated once, where a call is made (`translateAwsError`), so the rest of the code decides
 * by class, never by an error's name or message:
 *
 * - `TransientError`: throttling, a service fault, a timeout, a broken connection. Retry.
 * - `RefusedItemError`: the service refused what we sent as invalid (DynamoDB's ValidationException
 *   for an item). Retrying sends the same thing; the item is quarantined.
 * - `ConfigurationError`: permissions, credentials, a missing table or queue, a KMS key, or an error
 *   we do not recognise. Nothing about the item; retrying later may succeed once someone fixes it,
 *   so the work goes back to SQS (and on to the dead-letter queue) and an alarm fires.
 */
import type { RefusalReason } from './reasons';
import { DeadlineError } from './retry';

/** Configuration that cannot work; thrown at cold start so the function fails loudly, not per request. */
export class ConfigError extends Error {
  constructor(problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

export type DependencyFailure = 'transient' | 'refused' | 'configuration';
export type Service = 'DynamoDB' | 'SQS';

/** A failure of a call to an AWS service, classified. `code` is the service's error name. */
export abstract class DependencyError extends Error {
  abstract readonly kind: DependencyFailure;
  readonly service: Service;
  readonly code: string;

  constructor(service: Service, code: string, message: string, cause?: unknown) {
    super(message, { cause });
    this.service = service;
    this.code = code;
  }
}

export class TransientError extends DependencyError {
  readonly kind = 'transient';
  constructor(service: Service, code: string, cause?: unknown) {
    super(service, code, `${service} did not complete the request (${code}); it will be retried`, cause);
    this.name = 'TransientError';
  }
}

export class RefusedItemError extends DependencyError {
  readonly kind = 'refused';
  /** Why, in our words (never the SDK's text): stored as the quarantine reason. */
  readonly reason: string;
  readonly category: RefusalReason = 'refused-by-dynamodb';
  constructor(service: Service, code: string, reason: string, cause?: unknown) {
    super(service, code, reason, cause);
    this.name = 'RefusedItemError';
    this.reason = reason;
  }
}

export class ConfigurationError extends DependencyError {
  readonly kind = 'configuration';
  constructor(service: Service, code: string, cause?: unknown) {
    super(
      service,
      code,
      `${service} refused the request (${code}): check the function's permissions, credentials, tables, queues and KMS keys`,
      cause,
    );
    this.name = 'ConfigurationError';
  }
}

/** Throttling and service faults, by the services' error names. */
const TRANSIENT_CODES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'Throttling',
  'RequestLimitExceeded',
  'InternalServerError',
  'InternalFailure',
  'InternalError',
  'ServiceUnavailable',
  'RequestThrottled',
  'TransactionInProgressException',
  // The SDK's request timeout and AbortSignal.timeout().
  'TimeoutError',
  'AbortError',
  'RequestTimeout',
  'RequestTimeoutException',
  // Node's codes for a connection that failed or broke.
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);

/** The request itself was refused as invalid. */
const REFUSED_CODES = new Set(['ValidationException']);

interface SdkErrorShape {
  name?: string;
  code?: string;
  $retryable?: unknown;
  $fault?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

/** The service's error name (or Node's error code) of an error the SDK or the network threw. */
export function errorCode(error: unknown): string {
  const e = (error ?? {}) as SdkErrorShape;
  const code = typeof e.code === 'string' && e.code !== '' ? e.code : undefined;
  return code && TRANSIENT_CODES.has(code) ? code : (e.name ?? code ?? typeof error);
}

/**
 * Translates what an AWS call threw into one of our classes; errors already translated pass
 * through. `reason` names a refused item in our words (the quarantine reason).
 */
export function translateAwsError(error: unknown, service: Service, reason = `${service} refused the item as invalid`): DependencyError {
  if (error instanceof DependencyError) return error;
  if (error instanceof DeadlineError) return new TransientError(service, 'DeadlineError', error);
  const e = (error ?? {}) as SdkErrorShape;
  const code = errorCode(error);
  const status = e.$metadata?.httpStatusCode;
  const causeCode = e.cause === undefined ? undefined : errorCode(e.cause);
  // The SDK attaches $metadata to what its retries gave up on; without an HTTP status no answer came
  // at all (a refused or broken connection, whose Node error code the SDK's wrapper may not keep).
  const noAnswer = e.$metadata !== undefined && status === undefined;
  if (
    noAnswer ||
    TRANSIENT_CODES.has(code) ||
    (causeCode !== undefined && TRANSIENT_CODES.has(causeCode)) ||
    e.$retryable ||
    e.$fault === 'server' ||
    (status !== undefined && status >= 500)
  ) {
    return new TransientError(service, code, error);
  }
  // DynamoDB has reported key-management problems as validation errors; those are not the item's.
  if (REFUSED_CODES.has(code) && !/\bKMS\b/i.test(error instanceof Error ? error.message : ''))
    return new RefusedItemError(service, code, reason, error);
  return new ConfigurationError(service, code, error);
}
