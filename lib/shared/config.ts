/**
 * The environment, read and validated once. Every other module takes a `Config` as an argument;
 * nothing else reads `process.env`.
 */
import { tableNames, type TableName } from '../../infra';
import { ConfigError } from './errors';

export interface Limits {
  /** One event, serialized. Segment's limit is 32 KB. */
  maxEventBytes: number;
  /** A `/v1/batch` or `/v1/import` request. Segment's limit is 500 KB. */
  maxBatchBytes: number;
  maxBatchEvents: number;
  maxWebhookEvents: number;
  /** Any request, after decompression. */
  maxRequestBytes: number;
}

export interface Config {
  stage: string;
  region: string;
  /** Custom endpoints (DynamoDB Local, the SQS emulator); unset in AWS. */
  dynamodbEndpoint: string | undefined;
  sqsEndpoint: string | undefined;
  queueUrl: string | undefined;
  tables: Record<TableName, string>;
  limits: Limits;
  /** Largest SQS message the ingest function packs records into. */
  queueMessageBytes: number;
  /**
   * The time budgets of one ingest request (SPEC.md section 2: answer well inside Segment's 5 s).
   * `request`: from receipt to the answer, 503 when it runs out; `enqueue`: the part of it spent
   * getting events into SQS; `lookup`: one DynamoDB read of a key or source. Every budget is also
   * cut to the invocation's remaining time, and `functionTimeoutMs` (when the environment says it)
   * must leave room for them: a configuration that cannot work fails at cold start.
   */
  requestBudgetMs: number;
  enqueueBudgetMs: number;
  lookupTimeoutMs: number;
  functionTimeoutMs: number | undefined;
  keyCacheSeconds: number;
  rejectedRetentionDays: number;
  /** Parallel BatchWriteItem calls in the worker. */
  writeConcurrency: number;
  /**
   * Profiles keep counts and first/last seen times of every event type (stage parameter
   * `profileActivity`, env PROFILE_ACTIVITY). Traits, links and groups are kept either way.
   */
  profileActivity: boolean;
  /**
   * The per-stage secret the erasures table names users with (an HMAC of the userId); created at
   * deploy in Secrets Manager, generated and kept in `.data/` by the local stack. Required by the worker.
   */
  erasureHashKey: string | undefined;
  logLevel: string;
  /** Powertools service name (a metric dimension); one per stage in AWS. */
  serviceName: string;
  metricsNamespace: string;
}

type Env = Record<string, string | undefined>;

/** Reads the configuration from `env`; throws `ConfigError` listing every problem at once. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const flag = (name: string, fallback: boolean): boolean => {
    const raw = env[name]?.trim().toLowerCase();
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    problems.push(`${name} must be true or false, got "${env[name] ?? ''}"`);
    return fallback;
  };
  const url = (name: string): string | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    try {
      new URL(raw);
      return raw;
    } catch {
      problems.push(`${name} must be a URL, got "${raw}"`);
      return undefined;
    }
  };

  const stage = env.STAGE ?? 'local';
  if (!/^[a-zA-Z0-9-]{1,40}$/.test(stage)) problems.push(`STAGE must be letters, digits and dashes, got "${stage}"`);

  const config: Config = {
    stage,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    dynamodbEndpoint: url('DYNAMODB_ENDPOINT'),
    sqsEndpoint: url('SQS_ENDPOINT'),
    queueUrl: url('QUEUE_URL'),
    tables: tableNames(stage),
    limits: {
      maxEventBytes: integer('MAX_EVENT_BYTES', 32 * 1024, 1024, 400 * 1024),
      maxBatchBytes: integer('MAX_BATCH_BYTES', 500 * 1024, 1024, 6 * 1024 * 1024),
      maxBatchEvents: integer('MAX_BATCH_EVENTS', 2500, 1, 100_000),
      maxWebhookEvents: integer('MAX_WEBHOOK_EVENTS', 4000, 1, 100_000),
      maxRequestBytes: integer('MAX_REQUEST_BYTES', 5 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    },
    queueMessageBytes: integer('QUEUE_MESSAGE_BYTES', 256 * 1024, 64 * 1024, 1024 * 1024),
    requestBudgetMs: integer('REQUEST_BUDGET_MS', 4000, 200, 29_000),
    enqueueBudgetMs: integer('ENQUEUE_BUDGET_MS', 3000, 100, 29_000),
    lookupTimeoutMs: integer('LOOKUP_TIMEOUT_MS', 1000, 50, 10_000),
    functionTimeoutMs: env.FUNCTION_TIMEOUT_SECONDS ? integer('FUNCTION_TIMEOUT_SECONDS', 0, 1, 900) * 1000 : undefined,
    keyCacheSeconds: integer('KEY_CACHE_SECONDS', 60, 0, 3600),
    rejectedRetentionDays: integer('REJECTED_RETENTION_DAYS', 30, 1, 3650),
    writeConcurrency: integer('WRITE_CONCURRENCY', 4, 1, 64),
    profileActivity: flag('PROFILE_ACTIVITY', true),
    erasureHashKey: env.ERASURE_HASH_KEY || undefined,
    logLevel: env.LOG_LEVEL ?? 'INFO',
    serviceName: env.POWERTOOLS_SERVICE_NAME ?? `segment-ingest-${stage}`,
    metricsNamespace: env.POWERTOOLS_METRICS_NAMESPACE ?? 'SegmentIngest',
  };
  if (config.erasureHashKey !== undefined && config.erasureHashKey.length < 16)
    problems.push('ERASURE_HASH_KEY must be at least 16 characters');
  problems.push(...budgetProblems(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Time kept back from the function's timeout so the ingest function can always answer 503 itself. */
export const ANSWER_MARGIN_MS = 500;

/** Budgets that cannot be kept: each must fit in the one around it, and the request in the function's timeout. */
function budgetProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.enqueueBudgetMs > config.requestBudgetMs) {
    problems.push(`ENQUEUE_BUDGET_MS (${config.enqueueBudgetMs}) must not exceed REQUEST_BUDGET_MS (${config.requestBudgetMs})`);
  }
  if (config.lookupTimeoutMs * 2 > config.requestBudgetMs) {
    problems.push(`LOOKUP_TIMEOUT_MS (${config.lookupTimeoutMs}) must leave room in REQUEST_BUDGET_MS for a key and a source lookup`);
  }
  const timeout = config.functionTimeoutMs;
  if (timeout !== undefined && config.requestBudgetMs + ANSWER_MARGIN_MS > timeout) {
    problems.push(
      `REQUEST_BUDGET_MS (${config.requestBudgetMs}) plus ${ANSWER_MARGIN_MS} ms to answer must fit in the function timeout (FUNCTION_TIMEOUT_SECONDS ${timeout / 1000})`,
    );
  }
  return problems;
}
