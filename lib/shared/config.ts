/**
 * The environment, read and validated once. Every other module takes a `Config` as an argument;
 * nothing else reads `process.env`.
 */
import { TABLE_NAMES, tableNames, type TableName } from '../../infra';
import { ConfigError } from './errors';
import { METRICS_NAMESPACE } from './metrics';
import { parsePrivacyKeyRing, type PrivacyKeyRing } from './privacy-hash';

/**
 * Lambda's limit on a synchronous invocation's payload (6 MB, as AWS counts it: 6 x 1024 x 1024
 * bytes). API Gateway hands the ingest function the whole request inside one JSON event, so every
 * body the service promises to read must fit in it, with the rest of the event beside it.
 */
export const LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024;
/**
 * Room kept in the event for everything but the body: HTTP APIs take at most 10,240 bytes of
 * request line and headers, which the event holds (JSON-escaped) beside the path, query and
 * request context, some of them twice (`rawPath` and `requestContext.http.path`, `rawQueryString`
 * and `queryStringParameters`).
 */
export const EVENT_ENVELOPE_BYTES = 32 * 1024;
/**
 * A text body travels as a JSON string, so each `"` and `\` of it takes two bytes. Segment JSON
 * has one `"` in about 8.5 bytes (the bench's analytics.js events grow 11.8%, docs/operations.md);
 * an eighth more is allowed for it.
 */
export const TEXT_ESCAPING_ALLOWANCE = 1 / 8;
/** The largest text body that reaches the function: `(6 MiB - envelope - 2 quotes) / (1 + allowance)` = 5,563,276 bytes. */
export const MAX_TEXT_BODY_BYTES = Math.floor((LAMBDA_PAYLOAD_BYTES - EVENT_ENVELOPE_BYTES - 2) / (1 + TEXT_ESCAPING_ALLOWANCE));
/**
 * The largest body that reaches the function base64-encoded (gzip, or a type API Gateway treats
 * as binary): `(6 MiB - envelope) x 3/4` = 4,694,016 bytes as sent. A gzip body's limit is on its
 * inflated size, which JSON makes 5-10 times the compressed one, so this binds only bodies that
 * do not compress.
 */
export const MAX_BASE64_BODY_BYTES = Math.floor(((LAMBDA_PAYLOAD_BYTES - EVENT_ENVELOPE_BYTES) * 3) / 4);
/** Raw text kept for a quarantined event or body; longer text is cut, and the record says so. */
export const RAW_TEXT_LIMIT = 48 * 1024;
/** DynamoDB's limit on one item, attribute names included (400 KB). */
export const DYNAMODB_ITEM_BYTES = 400 * 1024;
/**
 * What an event item holds besides the event: its keys (up to 2,048 and 1,024 bytes), `sourceId`,
 * `receivedAt`, `expiresAt` and, for an event stored as JSON text, its ids again as attributes.
 */
export const ITEM_OVERHEAD_BYTES = 16 * 1024;
/**
 * How much larger than its JSON an event may be as DynamoDB attributes: a list element costs one
 * byte beside its value, so `[1,2,3,...]` (two bytes an element in JSON) takes three.
 */
export const ITEM_GROWTH = 1.5;
/** The largest `MAX_EVENT_BYTES` whose events always fit one item: `(400 KiB - 16 KiB) / 1.5` = 262,144 bytes. */
export const MAX_STORABLE_EVENT_BYTES = Math.floor((DYNAMODB_ITEM_BYTES - ITEM_OVERHEAD_BYTES) / ITEM_GROWTH);

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
  /** The S3 emulator of the local lake; unset in AWS. */
  s3Endpoint: string | undefined;
  /**
   * The stage's lake bucket (docs/lake.md; stage parameter `lake`, env LAKE_BUCKET). Required by the
   * lake function; unset, the stage has no lake.
   */
  lakeBucket: string | undefined;
  queueUrl: string | undefined;
  tables: Record<TableName, string>;
  limits: Limits;
  /** Largest SQS message the ingest function packs records into. */
  queueMessageBytes: number;
  /**
   * The time budgets of one ingest request (docs/spec.md section 2: answer well inside Segment's 5 s).
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
  /** Days an event is kept after its `timestamp` (DynamoDB TTL on the event tables); 0 keeps events for ever. */
  eventRetentionDays: number;
  /** Parallel BatchWriteItem calls in the worker. */
  writeConcurrency: number;
  /**
   * MiB the worker's cache of observed schemas may hold per instance (env SCHEMA_CACHE_MB,
   * docs/limits.md): the bound on what one sender inventing event names can pin in memory.
   */
  schemaCacheMb: number;
  /**
   * The worker keeps profiles (lib/worker/profiles/; stage parameter `profiles`, env PROFILES). Off,
   * it writes none: a stage that does not read them pays nothing for them. Erasure removes a
   * user's profile either way (one kept while they were on).
   */
  profiles: boolean;
  /**
   * Deprecated and ignored (stage parameter `profileActivity`, env PROFILE_ACTIVITY): the worker no
   * longer keeps activity; `segment-ingest profile` derives it from the event tables (issue 22,
   * docs/configuration.md). Still read so a stage that sets it deploys and loads as before.
   */
  profileActivity: boolean;
  /**
   * The per-stage secret the erasures table names users with (an HMAC of the userId); created at
   * deploy in Secrets Manager, generated and kept in `.data/` by the local stack. Required by the worker.
   */
  erasureHashKey: string | undefined;
  /**
   * The per-stage keys privacy policies hash with (PRIVACY_HASH_KEY, lib/shared/privacy-hash.ts),
   * kept like the erasure hash key; required by the ingest function only for a policy that hashes.
   */
  privacyHashKeys: PrivacyKeyRing | undefined;
  logLevel: string;
  /** Powertools service name (a metric dimension); one per stage in AWS. */
  serviceName: string;
  metricsNamespace: string;
}

type Env = Record<string, string | undefined>;

/** Reads the configuration from `env`; throws `ConfigError` listing every problem at once. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const { integer, flag, url } = envReaders(env, problems);

  const stage = env.STAGE ?? 'local';
  if (!/^[a-zA-Z0-9-]{1,40}$/.test(stage)) problems.push(`STAGE must be letters, digits and dashes, got "${stage}"`);

  const config: Config = {
    stage,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    dynamodbEndpoint: url('DYNAMODB_ENDPOINT'),
    sqsEndpoint: url('SQS_ENDPOINT'),
    s3Endpoint: url('S3_ENDPOINT'),
    lakeBucket: env.LAKE_BUCKET || undefined,
    queueUrl: url('QUEUE_URL'),
    tables: { ...tableNames(stage), ...tableOverrides(env.TABLE_OVERRIDES, problems) },
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
    eventRetentionDays: integer('EVENT_RETENTION_DAYS', 0, 0, 36_500),
    writeConcurrency: integer('WRITE_CONCURRENCY', 4, 1, 64),
    schemaCacheMb: integer('SCHEMA_CACHE_MB', 48, 1, 4096),
    profiles: flag('PROFILES', true),
    profileActivity: flag('PROFILE_ACTIVITY', true),
    erasureHashKey: env.ERASURE_HASH_KEY || undefined,
    privacyHashKeys: privacyKeys(env.PRIVACY_HASH_KEY, problems),
    logLevel: env.LOG_LEVEL ?? 'INFO',
    serviceName: env.POWERTOOLS_SERVICE_NAME ?? `segment-ingest-${stage}`,
    metricsNamespace: env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
  };
  if (config.erasureHashKey !== undefined && config.erasureHashKey.length < 16)
    problems.push('ERASURE_HASH_KEY must be at least 16 characters');
  problems.push(...budgetProblems(config), ...limitProblems(config.limits));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function privacyKeys(text: string | undefined, problems: string[]): PrivacyKeyRing | undefined {
  if (!text) return undefined;
  const read = parsePrivacyKeyRing(text);
  if ('problems' in read) problems.push(...read.problems);
  return 'ring' in read ? read.ring : undefined;
}

/** `integer`, `flag` and `url` each read one variable of `env`; a malformed value is added to `problems` and read as the fallback (a URL as unset). */
function envReaders(env: Env, problems: string[]) {
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
  return { integer, flag, url };
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

/**
 * Request-size limits that could not work in AWS: a body the service promises to read that
 * Lambda cannot be handed, or an event DynamoDB cannot store as one item.
 */
export function limitProblems(limits: Limits): string[] {
  const problems: string[] = [];
  const bodyLimits: Array<[name: string, value: number]> = [
    ['MAX_REQUEST_BYTES', limits.maxRequestBytes],
    ['MAX_BATCH_BYTES', limits.maxBatchBytes],
    // MAX_EVENT_BYTES (the body limit of /v1/{type}) is held lower by the DynamoDB item limit below.
  ];
  for (const [name, value] of bodyLimits) {
    if (value > MAX_TEXT_BODY_BYTES) {
      problems.push(
        `${name} (${value}) must be at most ${MAX_TEXT_BODY_BYTES}: API Gateway hands the body to Lambda inside one event of at most ` +
          `${LAMBDA_PAYLOAD_BYTES} bytes, as an escaped JSON string (${TEXT_ESCAPING_ALLOWANCE * 100}% allowed for it) beside ${EVENT_ENVELOPE_BYTES} bytes of headers and context`,
      );
    }
  }
  if (limits.maxEventBytes > MAX_STORABLE_EVENT_BYTES) {
    problems.push(
      `MAX_EVENT_BYTES (${limits.maxEventBytes}) must be at most ${MAX_STORABLE_EVENT_BYTES}: an event stored as DynamoDB attributes may take ` +
        `${ITEM_GROWTH}x its JSON size, plus ${ITEM_OVERHEAD_BYTES} bytes of keys and attributes, and an item holds at most ${DYNAMODB_ITEM_BYTES} bytes`,
    );
  }
  return problems;
}

/**
 * `TABLE_OVERRIDES`: `name=physical,...`, the tables a stage uses instead of its own, e.g. a table
 * restored from point-in-time recovery (docs/operations.md, restore). Empty: none.
 */
function tableOverrides(raw: string | undefined, problems: string[]): Partial<Record<TableName, string>> {
  const parsed = parseTableOverrides(raw ?? '', TABLE_NAMES, 'TABLE_OVERRIDES');
  problems.push(...parsed.problems);
  return parsed.overrides as Partial<Record<TableName, string>>;
}

/**
 * Reads `name=physical,...` against the known table names; `label` names the text in the problems
 * (`TABLE_OVERRIDES` here, `param tableOverrides` in infra/settings.ts, which reads the same text).
 */
export function parseTableOverrides(
  text: string,
  tables: readonly string[],
  label: string,
): { overrides: Record<string, string>; problems: string[] } {
  const overrides: Record<string, string> = {};
  const problems: string[] = [];
  for (const entry of text.split(',').map((part) => part.trim())) {
    if (entry === '') continue;
    const [name = '', physical = '', ...rest] = entry.split('=').map((part) => part.trim());
    if (!tables.includes(name)) {
      problems.push(`${label} names an unknown table "${name}" in "${entry}"; tables are ${tables.join(', ')}`);
    } else if (rest.length > 0 || !/^[a-zA-Z0-9_.-]{3,255}$/.test(physical)) {
      problems.push(`${label} entry "${entry}" must be <table>=<DynamoDB table name> (3-255 letters, digits, _ . -)`);
    } else {
      overrides[name] = physical;
    }
  }
  return { overrides, problems };
}
