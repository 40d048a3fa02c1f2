/** `replay FILE...`: backfill archived Segment events through the public endpoint. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { booleanOption, numberOption, stringOption, type Values } from '../core/args';
import type { Command, CommandDeps } from '../core/command';
import { EXIT, UsageError } from '../core/errors';
import { formatNumber } from '../core/format';
import { write, type Io } from '../core/io';
import { createProgress } from '../core/progress';
import { DEFAULT_LIMITS, type BatchLimits } from './batches';
import { Checkpoint } from './checkpoint';
import { inspectFile, type InputFile } from './lines';
import { RateLimiter } from './rate';
import { formatReplaySummary, replayFiles, type ReplaySummary } from './replay-files';
import { checkEndpoint, createBatchSender } from './sender';
import { isLocal, localTarget, resolveTarget, targetRequest, TARGET_OPTIONS } from '../core/target';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Options shared by `replay` and `rejected replay`: how requests are sent. */
export const SENDING_OPTIONS = {
  key: {
    type: 'string',
    value: 'KEY',
    description: 'API key of the source to send as (env SEGMENT_INGEST_KEY; local default: DEV_API_KEY or .data/dev-api-key)',
  },
  concurrency: { type: 'string', value: 'N', description: 'requests in flight at once (default 4)' },
  rate: { type: 'string', value: 'EVENTS', description: 'at most this many events per second (default: no limit)' },
  retries: { type: 'string', value: 'N', description: 'retries of one request before giving up (default 10)' },
  timeout: { type: 'string', value: 'SECONDS', description: 'time limit of one request (default 30)' },
} as const;

/** The endpoint to send to: --endpoint, else the local stack's, else the deployed stage's HttpApiUrl output. */
export async function resolveEndpoint(values: Values, io: Io, deps: CommandDeps): Promise<{ endpoint: string; local: boolean }> {
  const request = targetRequest(values, io.env);
  const local = isLocal(request);
  if (request.endpoint) return { endpoint: request.endpoint.replace(/\/+$/, ''), local };
  const target = local ? localTarget(request, io.env) : await resolveTarget(request, io.env, deps.readOutputs);
  if (!target.endpoint) throw new UsageError(`the stack of stage "${target.stage}" has no HttpApiUrl output; pass --endpoint URL`);
  return { endpoint: target.endpoint, local };
}

/** The key to send with: --key, SEGMENT_INGEST_KEY, or (locally) the key `npm start` uses. */
export function resolveKey(values: Values, io: Io, local: boolean): string {
  const given = stringOption(values, 'key') ?? io.env.SEGMENT_INGEST_KEY;
  if (given) return given.trim();
  if (local) {
    if (io.env.DEV_API_KEY) return io.env.DEV_API_KEY.trim();
    const file = path.join(REPO_ROOT, '.data', 'dev-api-key');
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    throw new UsageError(
      'no API key: pass --key KEY (or set SEGMENT_INGEST_KEY); the local stack keeps its key in .data/dev-api-key once npm start has run',
    );
  }
  throw new UsageError('no API key: pass --key KEY (or set SEGMENT_INGEST_KEY), a key of the source to send as');
}

/** How requests are sent: --concurrency, --rate, --retries, --timeout. */
export type SendingSettings = ReturnType<typeof sendingSettings>;

export function sendingSettings(values: Values) {
  return {
    concurrency: numberOption(values, 'concurrency', 4, { min: 1, max: 64, integer: true }),
    rate:
      stringOption(values, 'rate') === undefined
        ? undefined
        : new RateLimiter(numberOption(values, 'rate', 0, { min: 0.1, max: 1_000_000 })),
    maxRetries: numberOption(values, 'retries', 10, { min: 0, max: 100, integer: true }),
    timeoutMs: numberOption(values, 'timeout', 30, { min: 1, max: 600 }) * 1000,
  };
}

export const replay: Command = {
  spec: {
    name: 'replay',
    summary:
      'Replays newline-delimited JSON files of Segment events through the public endpoint. Files may be plain or gzip (as Segment archives them to S3); events go in /v1/batch requests.',
    args: 'FILE...',
    minPositionals: 1,
    maxPositionals: Infinity,
    options: {
      ...SENDING_OPTIONS,
      checkpoint: {
        type: 'string',
        value: 'FILE',
        description: 'where progress is saved (default .segment-ingest/replay-<hash of endpoint and files>.json)',
      },
      restart: { type: 'boolean', description: 'ignore the checkpoint and send everything again' },
      'batch-bytes': {
        type: 'string',
        value: 'BYTES',
        description: `largest request body (default ${DEFAULT_LIMITS.batchBytes}, the service's limit)`,
      },
      'batch-events': { type: 'string', value: 'N', description: `most events in one request (default ${DEFAULT_LIMITS.batchEvents})` },
      'max-event-bytes': {
        type: 'string',
        value: 'BYTES',
        description: `larger events are reported, not sent (default ${DEFAULT_LIMITS.eventBytes})`,
      },
      'progress-interval': {
        type: 'string',
        value: 'SECONDS',
        description: 'when stderr is not a terminal: seconds between progress lines (default 10)',
      },
      'show-rejections': {
        type: 'string',
        value: 'N',
        description: 'list the first N events the service rejects with their line numbers (default 20); all are counted',
      },
      ...TARGET_OPTIONS,
    },
    details: `Lines that are not JSON objects, or are over the event limit, are reported with their file and line number and not sent; blank lines are ignored.
Batches are retried on 429/503 (after Retry-After), other 5xx, timeouts and connection errors; 401/403/404/413 stop the replay.
The checkpoint holds, per file, the lines acknowledged so far (only a prefix with no gap, since requests run in parallel). Interrupt with Ctrl-C and run the same command again to resume; events sent twice are stored once (the table keys are idempotent).
Exit status: 0 all sent, 3 some lines not sent (listed), 1 stopped on an error, 2 bad arguments or files, 130 interrupted.`,
    examples: [
      'segment-ingest replay archive/2026/11/*.gz',
      'segment-ingest replay events.jsonl.gz --stage prod --key "$KEY" --rate 2000 --concurrency 8',
    ],
  },
  async run({ values, positionals }, io, deps) {
    const limits = batchLimits(values);
    const settings = sendingSettings(values);
    const progressIntervalMs = numberOption(values, 'progress-interval', 10, { min: 0.1, max: 3600 }) * 1000;
    const showRejections = numberOption(values, 'show-rejections', 20, { min: 0, max: 1_000_000, integer: true });

    const files = [];
    for (const file of positionals) files.push(await inspectFile(file, io.cwd));
    const { endpoint, local } = await resolveEndpoint(values, io, deps);
    const key = resolveKey(values, io, local);
    await checkEndpoint(
      endpoint,
      fetch,
      local ? ' Is the local stack running (npm start)? Otherwise pass --endpoint URL, or --stage NAME for a deployed stage.' : '',
    );

    const { checkpoint, shownCheckpoint } = await openCheckpoint(values, io.cwd, endpoint, files);
    const pending = files.filter((f) => !checkpoint.progress(f.path, f.size, f.name, f.fingerprint).complete);
    if (pending.length === 0) {
      await write(
        io.stdout,
        `Nothing to do: ${files.length === 1 ? 'the file was' : `all ${files.length} files were`} replayed completely to ${endpoint} (checkpoint ${shownCheckpoint}). Pass --restart to send again.\n`,
      );
      return EXIT.ok;
    }

    const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
    await write(
      io.stderr,
      `Replaying ${files.length} file(s), ${formatNumber(Math.round(totalBytes / 1024))} KB, to ${endpoint} with key ${key.slice(0, 7)}…; checkpoint ${shownCheckpoint}\n`,
    );
    const summary = await sendFiles(io, { files, limits, settings, checkpoint, progressIntervalMs, showRejections, endpoint, key });
    await write(io.stdout, formatReplaySummary(summary, shownCheckpoint));
    if (summary.failure) throw summary.failure;
    if (summary.interrupted) return EXIT.interrupted;
    return summary.invalid > 0 ? EXIT.incomplete : EXIT.ok;
  },
};

/** --batch-bytes, --batch-events and --max-event-bytes; throws when a batch could not hold the largest event. */
function batchLimits(values: Values): BatchLimits {
  const limits: BatchLimits = {
    batchBytes: numberOption(values, 'batch-bytes', DEFAULT_LIMITS.batchBytes, { min: 1024, max: 6 * 1024 * 1024, integer: true }),
    batchEvents: numberOption(values, 'batch-events', DEFAULT_LIMITS.batchEvents, { min: 1, max: 100_000, integer: true }),
    eventBytes: numberOption(values, 'max-event-bytes', DEFAULT_LIMITS.eventBytes, { min: 64, max: 1024 * 1024, integer: true }),
  };
  if (limits.eventBytes + 12 > limits.batchBytes) throw new UsageError('--batch-bytes must leave room for one event of --max-event-bytes');
  return limits;
}

/**
 * The checkpoint of this endpoint and these files (--checkpoint, else one named by their hash; --restart
 * ignores what it holds), and its path as the operator is shown it: relative when under `cwd`.
 */
async function openCheckpoint(
  values: Values,
  cwd: string,
  endpoint: string,
  files: readonly InputFile[],
): Promise<{ checkpoint: Checkpoint; shownCheckpoint: string }> {
  const fingerprint = createHash('sha256')
    .update([endpoint, ...files.map((f) => f.path)].join('\n'))
    .digest('hex')
    .slice(0, 12);
  const checkpointFile = path.resolve(
    cwd,
    stringOption(values, 'checkpoint') ?? path.join('.segment-ingest', `replay-${fingerprint}.json`),
  );
  const checkpoint = await Checkpoint.load(checkpointFile, endpoint, { restart: booleanOption(values, 'restart') });
  const relative = path.relative(cwd, checkpointFile);
  return { checkpoint, shownCheckpoint: relative && !relative.startsWith('..') ? relative : checkpointFile };
}

interface SendFilesOptions {
  files: readonly InputFile[];
  limits: BatchLimits;
  settings: SendingSettings;
  checkpoint: Checkpoint;
  progressIntervalMs: number;
  showRejections: number;
  endpoint: string;
  key: string;
}

/** Replays the files with progress on stderr; from here on Ctrl-C stops the replay cleanly instead of exiting. */
async function sendFiles(io: Io, options: SendFilesOptions): Promise<ReplaySummary> {
  const { settings } = options;
  const tty = io.stderr.isTTY === true;
  const progress = createProgress(io.stderr, { tty, intervalMs: options.progressIntervalMs });
  io.trapInterrupts?.();
  return replayFiles({
    files: options.files,
    limits: options.limits,
    concurrency: settings.concurrency,
    rate: settings.rate,
    checkpoint: options.checkpoint,
    progress,
    signal: io.signal,
    showRejections: options.showRejections,
    send: createBatchSender({
      endpoint: options.endpoint,
      key: options.key,
      maxRetries: settings.maxRetries,
      timeoutMs: settings.timeoutMs,
      onRetry: ({ delayMs, problem, attempt }) =>
        progress.log(`retrying a batch in ${(delayMs / 1000).toFixed(1)}s (attempt ${attempt + 1}): ${problem}`),
    }),
  });
}
