/**
 * `npm start`: the whole pipeline on this machine. Starts DynamoDB Local (data kept in .data/ so a
 * restart keeps it) and the SQS emulator, creates the `local` stage's tables and queues from
 * infra/ and the `local` source with its key and webhook secret, then serves the ingest function on
 * http://localhost:$PORT (so `/health` answers only once all of it exists) and drains the queue
 * with the worker. Ctrl-C stops everything it started.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateKey, type SourceAdmin } from '../lib/admin/sources';
import { hashKey } from '../lib/tables/sources';
import { generateWebhookSecret } from '../lib/admin/sources';
import { startEmulators, type Emulators } from '../local/emulators';
import { startPipeline, type Pipeline } from '../local/pipeline';
import { assertPortsFree } from '../local/ports';

// The SDK's notice that its 2027 releases need Node 22 would print nine lines before the banner;
// the README states the Node versions this runs on, and package-lock.json pins the SDK.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { createLogger } from '../lib/shared/log';

const root = path.resolve(__dirname, '..');
/** Where DynamoDB Local's data and the dev credentials are kept; DATA_DIR moves it (e.g. a second stack). */
const dataDir = path.resolve(root, process.env.DATA_DIR ?? '.data');
const STAGE = 'local';
const SOURCE_ID = 'local';

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw ? Number(raw) : fallback;
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    console.error(`${name} must be a port number, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

/**
 * A local credential: the environment variable `envName` if set, else the value kept in
 * `.data/<file>` by an earlier start, else a new one from `generate`, kept there for the next start.
 */
function localCredential(envName: string, file: string, generate: () => string): string {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  const kept = path.join(dataDir, file);
  if (existsSync(kept)) return readFileSync(kept, 'utf8').trim();
  const value = generate();
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(kept, `${value}\n`, { mode: 0o600 });
  return value;
}

/** The `local` source's API key: DEV_API_KEY, or kept in .data/dev-api-key. */
const devApiKey = () => localCredential('DEV_API_KEY', 'dev-api-key', generateKey);
/** The `local` source's webhook shared secret: DEV_WEBHOOK_SECRET, or kept in .data/dev-webhook-secret. */
const devWebhookSecret = () => localCredential('DEV_WEBHOOK_SECRET', 'dev-webhook-secret', generateWebhookSecret);

/** The local stage's secret for erasure records: ERASURE_HASH_KEY, or kept in .data/erasure-hash-key. */
const erasureHashKey = () => localCredential('ERASURE_HASH_KEY', 'erasure-hash-key', () => randomBytes(32).toString('hex'));

/** The local stage's key for privacy policies' hashes: PRIVACY_HASH_KEY, or kept in .data/privacy-hash-key. */
const privacyHashKey = () => localCredential('PRIVACY_HASH_KEY', 'privacy-hash-key', () => randomBytes(32).toString('hex'));

/** The `local` source with the dev key and webhook secret, created or brought up to date. */
async function provisionLocalSource(admin: SourceAdmin, key: string, webhookSecret: string): Promise<void> {
  if (!(await admin.getSource(SOURCE_ID))) await admin.createSource(SOURCE_ID, 'Local development');
  const keys = await admin.listKeys(SOURCE_ID);
  // A key registered before scopes existed is registered again with its scope: the local flows send deletes with it.
  const current = keys.some((k) => k.keyHash === hashKey(key) && !k.revokedAt && k.scope === 'destination');
  if (!current) await admin.createKey(SOURCE_ID, { key, scope: 'destination' });
  if ((await admin.getSource(SOURCE_ID))?.webhookSecret !== webhookSecret) await admin.setWebhookSecret(SOURCE_ID, webhookSecret);
}

/** Starts the emulators and the pipeline; whatever started is stopped again if a later step fails. */
async function startStack(ports: {
  http: number;
  dynamodb: number;
  sqs: number;
  s3: number;
}): Promise<{ emulators: Emulators; pipeline: Pipeline }> {
  const key = devApiKey();
  const webhookSecret = devWebhookSecret();
  const emulators = await startEmulators({
    dynamodbPort: ports.dynamodb,
    sqsPort: ports.sqs,
    dataDir: path.join(dataDir, 'dynamodb'),
    s3Port: ports.s3,
    s3Dir: path.join(dataDir, 's3'),
  });
  const quiet = process.env.QUIET === '1';
  try {
    const logLevel = process.env.LOG_LEVEL ?? 'WARN';
    const pipeline = await startPipeline({
      stage: STAGE,
      dynamodbEndpoint: emulators.dynamodbEndpoint,
      sqsEndpoint: emulators.sqsEndpoint,
      s3Endpoint: emulators.s3Endpoint,
      // The stage parameter `lake` (docs/lake.md): LAKE=false runs without it.
      lake: !['false', '0'].includes(process.env.LAKE ?? ''),
      port: ports.http,
      env: { LOG_LEVEL: logLevel, ...pickFunctionEnv(), ERASURE_HASH_KEY: erasureHashKey(), PRIVACY_HASH_KEY: privacyHashKey() },
      // The functions' own lines (Powertools JSON, at LOG_LEVEL) beside the request lines, as CloudWatch would hold them.
      log: createLogger(`segment-ingest-${STAGE}`, logLevel),
      onResponse: quiet ? undefined : (line) => console.log(`http   ${line}`),
      // Before the endpoint listens: a request right after the first healthy /health finds them.
      prepare: (admin) => provisionLocalSource(admin, key, webhookSecret),
      trigger: {
        onBatch: quiet
          ? undefined
          : ({ messages, failed, error }) =>
              console.log(`worker ${messages} message(s), ${failed} failed${error ? ` (handler error: ${(error as Error).name})` : ''}`),
      },
    });
    return { emulators, pipeline };
  } catch (error) {
    await emulators.stop();
    throw error;
  }
}

async function main(): Promise<void> {
  const ports = { http: port('PORT', 3000), dynamodb: port('DYNAMODB_PORT', 8000), sqs: port('SQS_PORT', 9324), s3: port('S3_PORT', 4569) };
  // Before anything starts: a second stack must not borrow the first one's database or queues.
  await assertPortsFree([
    { variable: 'DYNAMODB_PORT', port: ports.dynamodb },
    { variable: 'SQS_PORT', port: ports.sqs },
    { variable: 'S3_PORT', port: ports.s3 },
    { variable: 'PORT', port: ports.http },
  ]);
  const { emulators, pipeline } = await startStack(ports);
  const key = devApiKey();
  const webhookSecret = devWebhookSecret();

  const endpoint = `http://localhost:${new URL(pipeline.url).port}`;
  console.log(`
segment-ingest is running (stage "${STAGE}")
  endpoint        ${endpoint}
  source          ${SOURCE_ID}
  API key         ${key}  (scope destination: it may erase; give pages a key of scope events)
  Direct          ${endpoint}/segment          (Segment Direct destination: endpoint + API key)
  Webhooks        ${endpoint}/webhook/${SOURCE_ID}    (shared secret ${webhookSecret})
  DynamoDB Local  ${emulators.dynamodbEndpoint}   (data in .data/dynamodb)
  SQS emulator    ${emulators.sqsEndpoint}
  S3 emulator     ${emulators.s3Endpoint}   (the lake${pipeline.lake ? `, bucket ${pipeline.lake.deps.bucket}` : ': off'}; data in .data/s3)
  queue           ${pipeline.queues.queueUrl}
  tables          ${pipeline.config.tables.track}, ... (segment-ingest-${STAGE}-<type>)

Try it:
  curl -u "${key}:" -H 'content-type: application/json' \\
    -d '{"type":"track","event":"Order Completed","userId":"u1","properties":{"total":27.5}}' \\
    ${endpoint}/v1/track

Ctrl-C stops everything.
`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    await pipeline.stop();
    await emulators.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** Function settings a developer may set for the local stack, with the names Lambda uses. */
function pickFunctionEnv(): Record<string, string | undefined> {
  const names = [
    'MAX_EVENT_BYTES',
    'MAX_BATCH_BYTES',
    'MAX_BATCH_EVENTS',
    'MAX_WEBHOOK_EVENTS',
    'MAX_REQUEST_BYTES',
    'QUEUE_MESSAGE_BYTES',
    'REQUEST_BUDGET_MS',
    'ENQUEUE_BUDGET_MS',
    'LOOKUP_TIMEOUT_MS',
    'KEY_CACHE_SECONDS',
    'REJECTED_RETENTION_DAYS',
    'WRITE_CONCURRENCY',
    'SCHEMA_CACHE_MB',
    'PROFILES',
    'PROFILE_ACTIVITY',
  ];
  return Object.fromEntries(names.map((name) => [name, process.env[name]]));
}

main().catch((error: unknown) => {
  // One line: what failed and what to do; the stack only when asked for.
  const message = error instanceof Error ? error.message : String(error);
  console.error(`segment-ingest could not start: ${message.split('\n')[0] ?? message}`);
  if (process.env.SEGMENT_INGEST_DEBUG === '1' && error instanceof Error) console.error(error.stack);
  process.exit(1);
});
