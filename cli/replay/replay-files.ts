/**
 * Replaying newline-delimited JSON files of Segment events through the public endpoint (docs/spec.md
 * section 7): lines become `/v1/batch` requests within the limits, sent with bounded concurrency and
 * an optional rate, retried per `sender.ts`; progress is shown and checkpointed as the prefix of
 * acknowledged lines, so an interrupted replay resumes where it stopped.
 */
import { UsageError } from '../core/errors';
import { formatBar, formatDuration, formatNumber } from '../core/format';
import type { Progress } from '../core/progress';
import { BatchBuilder, batchBody, classifyLine, type Batch, type BatchLimits, type LineVerdict } from './batches';
import { PrefixTracker, type Checkpoint, type FileProgress } from './checkpoint';
import { readLines, type InputFile } from './lines';
import { runPool } from './pool';
import type { RateLimiter } from './rate';
import type { BatchAnswer, SendBatch } from './sender';

/** Room around an event for the spaces `classifyLine` trims: a longer line is only counted (lines.ts). */
const LINE_SPACE_BYTES = 4096;

export interface ReplayOptions {
  files: readonly InputFile[];
  send: SendBatch;
  limits: BatchLimits;
  concurrency: number;
  rate?: RateLimiter;
  checkpoint: Checkpoint;
  progress: Progress;
  signal?: AbortSignal;
  /** Service rejections listed line by line before the rest are only counted. */
  showRejections: number;
  now?: () => number;
}

export interface ReplaySummary {
  files: number;
  /** Files the checkpoint says were replayed completely already. */
  filesSkipped: number;
  /** Lines passed over because the checkpoint had them acknowledged. */
  linesSkipped: number;
  requests: number;
  /** Requests sent again (after 429, 503, 5xx, timeouts, connection errors). */
  retries: number;
  eventsSent: number;
  accepted: number;
  /** Rejected by the service: quarantined there, listed in `rejected list`. */
  rejected: number;
  /** Lines not sent (not JSON, not an object, too large), each reported with its line number. */
  invalid: number;
  durationMs: number;
  interrupted: boolean;
  /** Set when the replay stopped on an error; what was acknowledged before is checkpointed. */
  failure?: unknown;
}

interface FileState {
  file: InputFile;
  tracker: PrefixTracker;
  finalRegistered: boolean;
}

interface Chunk {
  state: FileState;
  /** Undefined for the tail of a file that holds no event (blank or invalid lines only). */
  batch: Batch<number> | undefined;
  ticket: number;
  /** Bytes of the file (compressed, for gzip) its lines came from, for progress. */
  fileBytes: number;
}

/** One replay as it goes: what it counts, and the bytes its progress line counts. */
interface Run {
  options: ReplayOptions;
  now: () => number;
  started: number;
  summary: ReplaySummary;
  /** The limits, with at most the rate's burst of events in one batch. */
  batchLimits: BatchLimits;
  totalBytes: number;
  /** Of the files finished reading. */
  bytesBefore: number;
  bytesRead: number;
  /** Acknowledged, which progress counts: reading runs ahead of the requests, acknowledgements do not. */
  bytesDone: number;
  /** Passed over on resume, not part of this run's speed. */
  bytesResumed: number;
  rejectionsShown: number;
  /** The progress line of this run, for `progress.update`. */
  render: () => string;
}

/** Replays the files; a failure stops the replay and comes back in `failure`, once what was acknowledged is checkpointed. */
export async function replayFiles(options: ReplayOptions): Promise<ReplaySummary> {
  const run = startRun(options);
  const { summary } = run;
  try {
    const result = await runPool(
      chunks(run),
      {
        concurrency: options.concurrency,
        signal: options.signal,
        beforeStart: (chunk, signal) => options.rate?.take(chunk.batch?.texts.length ?? 0, signal) ?? Promise.resolve(),
      },
      (chunk) => sendChunk(run, chunk),
    );
    summary.interrupted = result.interrupted;
  } catch (error) {
    summary.failure = error;
  }
  options.progress.done();
  try {
    await options.checkpoint.flush();
  } catch (error) {
    summary.failure ??= error;
  }
  summary.durationMs = run.now() - run.started;
  return summary;
}

/** A run of `options` starting now, with nothing counted yet. */
function startRun(options: ReplayOptions): Run {
  const now = options.now ?? Date.now;
  const { limits } = options;
  const run: Run = {
    options,
    now,
    started: now(),
    summary: {
      files: options.files.length,
      filesSkipped: 0,
      linesSkipped: 0,
      requests: 0,
      retries: 0,
      eventsSent: 0,
      accepted: 0,
      rejected: 0,
      invalid: 0,
      durationMs: 0,
      interrupted: false,
    },
    batchLimits: { ...limits, batchEvents: Math.min(limits.batchEvents, options.rate?.burst ?? Infinity) },
    totalBytes: options.files.reduce((sum, f) => sum + f.size, 0),
    bytesBefore: 0,
    bytesRead: 0,
    bytesDone: 0,
    bytesResumed: 0,
    rejectionsShown: 0,
    render: () => renderProgress(run),
  };
  return run;
}

/** The progress line: events, share of the bytes acknowledged, speed, time left and what went wrong so far. */
function renderProgress(run: Run): string {
  const { summary, totalBytes, bytesDone } = run;
  const elapsed = Math.max(1, run.now() - run.started);
  const fraction = totalBytes > 0 ? bytesDone / totalBytes : 1;
  const doneThisRun = bytesDone - run.bytesResumed;
  const eta = doneThisRun > 0 ? ((totalBytes - bytesDone) / doneThisRun) * elapsed : NaN;
  const perSecond = Math.round((summary.accepted + summary.rejected) / (elapsed / 1000));
  return `${formatNumber(summary.accepted + summary.rejected)} events ${formatBar(fraction, 20)} ${Math.floor(fraction * 100)}%  ${formatNumber(perSecond)} events/s  ETA ${formatDuration(eta)}  (rejected ${formatNumber(summary.rejected)}, retried ${formatNumber(summary.retries)}, not sent ${formatNumber(summary.invalid)})`;
}

/** Records in the checkpoint the lines of the file acknowledged with no gap, and whether that is all of it. */
function saveProgress(checkpoint: Checkpoint, state: FileState): void {
  const { file, tracker } = state;
  const record: FileProgress = {
    size: file.size,
    fingerprint: file.fingerprint,
    linesDone: tracker.committed,
    complete: state.finalRegistered && tracker.settled,
  };
  checkpoint.update(file.path, record);
}

/** The chunks of every file in turn: a file the checkpoint has complete is skipped, one it has begun resumes after its last line. */
async function* chunks(run: Run): AsyncGenerator<Chunk> {
  const { checkpoint, progress } = run.options;
  for (const file of run.options.files) {
    const known = checkpoint.progress(file.path, file.size, file.name, file.fingerprint);
    if (known.complete) {
      skipFile(run, file);
      continue;
    }
    if (known.linesDone > 0) progress.log(`${file.name}: resuming after line ${formatNumber(known.linesDone)} (checkpoint)`);
    yield* fileChunks(run, file, known.linesDone);
  }
}

/** Counts a file the checkpoint has replayed completely as done, without reading it. */
function skipFile(run: Run, file: InputFile): void {
  run.summary.filesSkipped++;
  run.options.progress.log(`${file.name}: replayed completely before (checkpoint); skipped`);
  run.bytesBefore += file.size;
  run.bytesRead = run.bytesBefore;
  run.bytesDone += file.size;
  run.bytesResumed += file.size;
}

/**
 * The batches of one file after line `linesDone`, each with its ticket in the file's prefix tracker
 * and the bytes of the file it covers; the last chunk holds the tail (possibly no event). Invalid
 * lines are counted and reported.
 */
async function* fileChunks(run: Run, file: InputFile, linesDone: number): AsyncGenerator<Chunk> {
  const { summary, options } = run;
  const state: FileState = { file, tracker: new PrefixTracker(linesDone), finalRegistered: false };
  const builder = new BatchBuilder<number>(run.batchLimits);
  let lastLine = linesDone;
  let chunkStart = run.bytesBefore;
  const span = (end: number) => {
    const bytes = end - chunkStart;
    chunkStart = end;
    return bytes;
  };
  let lines = 0;
  const maxLineBytes = options.limits.eventBytes + LINE_SPACE_BYTES;
  for await (const line of readLines(file, (bytes) => (run.bytesRead = run.bytesBefore + bytes), maxLineBytes)) {
    lines = line.lineNo;
    if (line.lineNo <= linesDone) {
      summary.linesSkipped++;
      const skipped = span(run.bytesRead);
      run.bytesDone += skipped;
      run.bytesResumed += skipped;
      continue;
    }
    const verdict: LineVerdict =
      line.overLimit === undefined
        ? classifyLine(line.text, options.limits)
        : {
            kind: 'invalid',
            problem: `line is ${line.overLimit} bytes, over the ${options.limits.eventBytes}-byte event limit; not read, not sent`,
          };
    if (verdict.kind === 'invalid') {
      summary.invalid++;
      options.progress.log(`${file.name}:${line.lineNo}: ${verdict.problem}`);
    } else if (verdict.kind === 'event') {
      const full = builder.add(verdict.text, verdict.bytes, line.lineNo);
      if (full) yield { state, batch: full, ticket: state.tracker.register(line.lineNo - 1), fileBytes: span(run.bytesRead) };
    }
    lastLine = line.lineNo;
    options.progress.update(run.render);
  }
  if (lines < linesDone) throw notTheCheckpointedFile(run, file, linesDone, lines);
  const batch = builder.flush();
  state.finalRegistered = true;
  yield { state, batch, ticket: state.tracker.register(lastLine), fileBytes: span(run.bytesBefore + file.size) };
  run.bytesBefore += file.size;
}

/** A file with fewer lines than the checkpoint says were sent of it: another file at that path, of the same size. */
function notTheCheckpointedFile(run: Run, file: InputFile, linesDone: number, lines: number): UsageError {
  return new UsageError(
    `${file.name} has ${lines} lines, but the checkpoint ${run.options.checkpoint.file} says ${linesDone} of it were sent: it is not the file the checkpoint was written for; pass --restart to send it from the start`,
  );
}

/** Sends the chunk's batch, if any; checkpoints the file once every chunk up to this one is acknowledged. */
async function sendChunk(run: Run, chunk: Chunk): Promise<void> {
  const { batch, state } = chunk;
  const { summary, options } = run;
  if (batch) {
    summary.requests++;
    const answer = await options.send(batchBody(batch), batch.texts.length, options.signal);
    summary.eventsSent += batch.texts.length;
    summary.retries += answer.retries;
    summary.accepted += answer.accepted;
    summary.rejected += answer.errors.length;
    reportRejections(run, state.file, batch, answer.errors);
  }
  if (state.tracker.complete(chunk.ticket)) saveProgress(options.checkpoint, state);
  run.bytesDone += chunk.fileBytes;
  options.progress.update(run.render);
}

/** Lists the first `showRejections` events the service rejected with their lines, then says that the rest are only counted. */
function reportRejections(run: Run, file: InputFile, batch: Batch<number>, errors: BatchAnswer['errors']): void {
  const { progress, showRejections } = run.options;
  for (const error of errors) {
    if (run.rejectionsShown < showRejections) {
      progress.log(`${file.name}:${batch.metas[error.index] ?? '?'}: rejected by the service: ${error.message}`);
    } else if (run.rejectionsShown === showRejections) {
      progress.log('(further rejections are only counted; the service quarantined them all: segment-ingest rejected list)');
    }
    run.rejectionsShown++;
  }
}

/** The summary as the operator reads it at the end. */
export function formatReplaySummary(summary: ReplaySummary, checkpointFile: string): string {
  const n = formatNumber;
  const perSecond = summary.durationMs > 0 ? Math.round(((summary.accepted + summary.rejected) / summary.durationMs) * 1000) : 0;
  const state = summary.failure ? 'stopped on an error' : summary.interrupted ? 'interrupted' : 'finished';
  const lines = [
    `replay ${state} after ${formatDuration(summary.durationMs)}: ${n(summary.eventsSent)} events sent in ${n(summary.requests)} request${summary.requests === 1 ? '' : 's'} (${n(perSecond)} events/s)`,
    `  accepted   ${n(summary.accepted)}`,
    `  rejected   ${n(summary.rejected)}${summary.rejected > 0 ? '  (quarantined by the service: segment-ingest rejected list)' : ''}`,
    `  retried    ${n(summary.retries)} requests${summary.retries > 0 ? ' (429/503 honouring Retry-After, 5xx, timeouts, connection errors)' : ''}`,
    `  not sent   ${n(summary.invalid)} lines${summary.invalid > 0 ? ' (not JSON, not an object, or too large; listed above with their line numbers)' : ''}`,
  ];
  if (summary.linesSkipped > 0 || summary.filesSkipped > 0) {
    lines.push(
      `  skipped    ${n(summary.linesSkipped)} lines${summary.filesSkipped > 0 ? ` and ${n(summary.filesSkipped)} whole files` : ''} acknowledged in an earlier run`,
    );
  }
  lines.push(`  checkpoint ${checkpointFile}`);
  if (summary.interrupted || summary.failure) lines.push('Run the same command again to resume after the last acknowledged line.');
  return `${lines.join('\n')}\n`;
}
