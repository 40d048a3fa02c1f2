/**
 * Failures of configuration and of the AWS services we depend on, as our own classes. SDK errors
 * are translated once, where a call is made (`translateAwsError`), so the rest of the code decides
 * by class, never by an error's name or message:
 *
 * - `TransientError`: throttling, a service fault, a timeout, a broken connection. Retry.
 * - `RefusedItemError`: the service refused what we sent as invalid (DynamoDB's ValidationException
 *   for an item). Retrying sends the same thing; the item is quarantined.
 * - `ConfigurationError`: permissions, credentials, a missing table or queue, a KMS key, or a service
 *   error we do not recognise. Nothing about the item; retrying later may succeed once someone fixes
 *   it, so the work goes back to SQS (and on to the dead-letter queue) and an alarm fires.
 *
 * Only what an AWS call threw is translated (`isAwsError` tells; `lib/shared/aws-call.ts` is the
 * door every call goes through). Anything else, a TypeError or our own mistake, is an unexpected
 * error: it keeps its class and stack, is counted as `UnexpectedErrors` and never reads as a
 * permission problem (`lib/shared/unexpected.ts`).
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
export type Service = 'DynamoDB' | 'SQS' | 'S3';

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

/** Errors the SDK's credential and token providers throw: no answer from a service, but ours to fix. */
const PROVIDER_ERROR = /ProviderError$/;
/** Node's system error codes (`ECONNRESET`, `EACCES`) and undici's (`UND_ERR_SOCKET`). */
const NODE_CODE = /^(E[A-Z0-9_]+|UND_ERR_[A-Z_]+)$/;

/**
 * Whether `error` is what an AWS call throws: a service's answer (the SDK attaches `$metadata`,
 * `$fault` or `$retryable`), a known throttling, fault or refusal name, a credential provider's
 * error, a network error by its Node code, a timeout, or a wrapper whose cause is one of those.
 * Already translated errors and our `DeadlineError` count too. A TypeError of our own does not.
 */
export function isAwsError(error: unknown): boolean {
  if (error instanceof DependencyError || error instanceof DeadlineError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const e = error as SdkErrorShape;
  if (e.$metadata !== undefined || e.$fault !== undefined || e.$retryable !== undefined) return true;
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  if (TRANSIENT_CODES.has(name) || TRANSIENT_CODES.has(code) || REFUSED_CODES.has(name) || PROVIDER_ERROR.test(name)) return true;
  if (NODE_CODE.test(code)) return true;
  return e.cause !== undefined && e.cause !== error && isAwsError(e.cause);
}

/** A conditional write whose condition did not hold: DynamoDB's answer, not a failure. */
export function isConditionalFailure(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as SdkErrorShape).name === 'ConditionalCheckFailedException';
}

/** The service's error name (or Node's error code) of an error the SDK or the network threw. */
export function errorCode(error: unknown): string {
  if (error instanceof DependencyError) return error.code;
  const e = (error ?? {}) as SdkErrorShape;
  const code = typeof e.code === 'string' && e.code !== '' ? e.code : undefined;
  return code && TRANSIENT_CODES.has(code) ? code : (e.name ?? code ?? typeof error);
}

/**
 * Translates what an AWS call threw into one of our classes; errors already translated pass
 * through. `reason` names a refused item in our words (the quarantine reason). Meant for what
 * `isAwsError` accepts: anything else it calls a configuration error, so callers ask first
 * (`lib/shared/aws-call.ts` does).
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
