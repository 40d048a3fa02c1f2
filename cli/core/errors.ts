/**
 * How the CLI fails: a `CliError` carries a message meant for the operator and an exit code. Every
 * other error is translated by `explainError` into one sentence; stack traces are never shown
 * (set SEGMENT_INGEST_DEBUG=1 to see them).
 */

/** Exit codes, documented in the README ("Operating it"). */
export const EXIT = {
  ok: 0,
  /** The command could not do its job: an AWS or endpoint error, a refused key, a broken file. */
  failed: 1,
  /** Bad arguments, a missing file, a checkpoint that does not match. */
  usage: 2,
  /** The command finished but left something undone, listed in its output (lines not sent, messages not moved). */
  incomplete: 3,
  /** What was asked about does not exist: `erasures show` found no erasure recorded for the user. */
  notFound: 4,
  /** Interrupted (Ctrl-C); what was done is saved. */
  interrupted: 130,
} as const;

export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT.failed, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = 'UsageError';
  }
}

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  cause?: unknown;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_SOCKET: 'connection closed',
};

/** The network problem behind an error (searching its causes), e.g. "connection refused". */
export function networkProblem(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const e = current as AwsLikeError;
    if (e.code && NETWORK_CODES[e.code]) return NETWORK_CODES[e.code];
    if (e.name === 'TimeoutError') return 'timed out';
    if (Array.isArray(e.errors) && e.errors.length > 0) {
      const inner = networkProblem(e.errors[0]);
      if (inner) return inner;
    }
    current = e.cause;
  }
  return undefined;
}

/** Where an AWS call went, so a failure can say what could not be reached. */
export interface ErrorContext {
  dynamodbEndpoint?: string;
  sqsEndpoint?: string;
  local?: boolean;
}

/** One operator-readable sentence for any error: ours as is, AWS and network errors explained. */
export function explainError(error: unknown, context: ErrorContext = {}): string {
  if (error instanceof CliError) return error.message;
  const e = (error ?? {}) as AwsLikeError;
  const name = e.name ?? '';
  const message = e.message ?? String(error);
  const network = networkProblem(error);
  if (network) {
    const where = [
      context.dynamodbEndpoint && `DynamoDB at ${context.dynamodbEndpoint}`,
      context.sqsEndpoint && `SQS at ${context.sqsEndpoint}`,
    ]
      .filter(Boolean)
      .join(' or ');
    const hint = context.local
      ? ' Is the local stack running (npm start)? Point at another one with --dynamodb-endpoint/--sqs-endpoint, or at a deployed stage with --stage.'
      : '';
    return `cannot reach ${where || 'AWS'} (${network}).${hint}`;
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return 'no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) for the account of the stage.';
  }
  if (name === 'ResourceNotFoundException') {
    return `a table of the stage does not exist (${message}). Is the stage provisioned${context.local ? ' (npm start creates the local one)' : ' and the region right'}?`;
  }
  if (
    name === 'QueueDoesNotExist' ||
    name === 'AWS.SimpleQueueService.NonExistentQueue' ||
    /NonExistentQueue|queue does not exist/i.test(message)
  ) {
    return `a queue of the stage does not exist (${message}). Is the stage provisioned${context.local ? ' (npm start creates the local one)' : ' and the region right'}?`;
  }
  if (
    [
      'UnrecognizedClientException',
      'InvalidClientTokenId',
      'ExpiredToken',
      'ExpiredTokenException',
      'AccessDenied',
      'AccessDeniedException',
    ].includes(name)
  ) {
    return `AWS refused the request (${name}): ${message}`;
  }
  if (name && name !== 'Error' && name !== 'TypeError') return `${name}: ${message}`;
  return `unexpected error: ${message}`;
}
