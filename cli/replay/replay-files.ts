/**
 * Replaying newline-delimited JSON files of Segment events through the public endpoint (SPEC.md
 * section 7): lines become `/v1/batch` requests within the limits, sent with bounded concurrency and
 * an optional rate, retried per `sender.ts`; progress is shown and checkpointed as the prefix of
 * acknowledged lines, so an interrupted replay resumes where it stopped.
 */
import { formatBar, formatDuration, formatNumber } from '../core/format';
import type { Progress } from '../core/progress';
import { BatchBuilder, batchBody, classifyLine, type Batch, type BatchLimits } from './batches';
import { PrefixTracker, type Checkpoint, type FileProgress } from './checkpoint';
import { readLines, type InputFile } from './lines';
import { runPool } from './pool';
import type { RateLimiter } from './rate';
import type { SendBatch } from './sender';

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

export async function replayFiles(options: ReplayOptions): Promise<ReplaySummary> {
  const now = options.now ?? Date.now;
  const started = now();
  const { limits, progress, checkpoint } = options;
  const summary: ReplaySummary = {
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
  };
  const totalBytes = options.files.reduce((sum, f) => sum + f.size, 0);
  let bytesBefore = 0; // of the files finished reading
  let bytesRead = 0;
  // Progress counts acknowledged bytes: reading runs ahead of the requests, acknowledgements do not.
  let bytesDone = 0;
  let bytesResumed = 0; // passed over on resume, not part of this run's speed
  let rejectionsShown = 0;
  const batchLimits = { ...limits, batchEvents: Math.min(limits.batchEvents, options.rate?.burst ?? Infinity) };

  const render = () => {
    const elapsed = Math.max(1, now() - started);
    const fraction = totalBytes > 0 ? bytesDone / totalBytes : 1;
    const doneThisRun = bytesDone - bytesResumed;
    const eta = doneThisRun > 0 ? ((totalBytes - bytesDone) / doneThisRun) * elapsed : NaN;
    const perSecond = Math.round((summary.accepted + summary.rejected) / (elapsed / 1000));
    return `${formatNumber(summary.accepted + summary.rejected)} events ${formatBar(fraction, 20)} ${Math.floor(fraction * 100)}%  ${formatNumber(perSecond)} events/s  ETA ${formatDuration(eta)}  (rejected ${formatNumber(summary.rejected)}, retried ${formatNumber(summary.retries)}, not sent ${formatNumber(summary.invalid)})`;
  };

  const saveProgress = (state: FileState) => {
    const { file, tracker } = state;
    const record: FileProgress = { size: file.size, linesDone: tracker.committed, complete: state.finalRegistered && tracker.settled };
    checkpoint.update(file.path, record);
  };

  async function* chunks(): AsyncGenerator<Chunk> {
    for (const file of options.files) {
      const known = checkpoint.progress(file.path, file.size, file.name);
      if (known.complete) {
        summary.filesSkipped++;
        progress.log(`${file.name}: replayed completely before (checkpoint); skipped`);
        bytesBefore += file.size;
        bytesRead = bytesBefore;
        bytesDone += file.size;
        bytesResumed += file.size;
        continue;
      }
      if (known.linesDone > 0) progress.log(`${file.name}: resuming after line ${formatNumber(known.linesDone)} (checkpoint)`);
      const state: FileState = { file, tracker: new PrefixTracker(known.linesDone), finalRegistered: false };
      const builder = new BatchBuilder<number>(batchLimits);
      let lastLine = known.linesDone;
      let chunkStart = bytesBefore;
      const span = (end: number) => {
        const bytes = end - chunkStart;
        chunkStart = end;
        return bytes;
      };
      for await (const line of readLines(file, (bytes) => (bytesRead = bytesBefore + bytes))) {
        if (line.lineNo <= known.linesDone) {
          summary.linesSkipped++;
          const skipped = span(bytesRead);
          bytesDone += skipped;
          bytesResumed += skipped;
          continue;
        }
        const verdict = classifyLine(line.text, limits);
        if (verdict.kind === 'invalid') {
          summary.invalid++;
          progress.log(`${file.name}:${line.lineNo}: ${verdict.problem}`);
        } else if (verdict.kind === 'event') {
          const full = builder.add(verdict.text, verdict.bytes, line.lineNo);
          if (full) yield { state, batch: full, ticket: state.tracker.register(line.lineNo - 1), fileBytes: span(bytesRead) };
        }
        lastLine = line.lineNo;
        progress.update(render);
      }
      const batch = builder.flush();
      state.finalRegistered = true;
      yield { state, batch, ticket: state.tracker.register(lastLine), fileBytes: span(bytesBefore + file.size) };
      bytesBefore += file.size;
    }
  }

  const work = async (chunk: Chunk): Promise<void> => {
    const { batch, state } = chunk;
    if (batch) {
      summary.requests++;
      const answer = await options.send(batchBody(batch), batch.texts.length, options.signal);
      summary.eventsSent += batch.texts.length;
      summary.retries += answer.retries;
      summary.accepted += answer.accepted;
      summary.rejected += answer.errors.length;
      for (const error of answer.errors) {
        if (rejectionsShown < options.showRejections) {
          progress.log(`${state.file.name}:${batch.metas[error.index] ?? '?'}: rejected by the service: ${error.message}`);
        } else if (rejectionsShown === options.showRejections) {
          progress.log('(further rejections are only counted; the service quarantined them all: segment-ingest rejected list)');
        }
        rejectionsShown++;
      }
    }
    if (state.tracker.complete(chunk.ticket)) saveProgress(state);
    bytesDone += chunk.fileBytes;
    progress.update(render);
  };

  try {
    const result = await runPool(
      chunks(),
      {
        concurrency: options.concurrency,
        signal: options.signal,
        beforeStart: (chunk, signal) => options.rate?.take(chunk.batch?.texts.length ?? 0, signal) ?? Promise.resolve(),
      },
      work,
    );
    summary.interrupted = result.interrupted;
  } catch (error) {
    summary.failure = error;
  }
  progress.done();
  try {
    await checkpoint.flush();
  } catch (error) {
    summary.failure ??= error;
  }
  summary.durationMs = now() - started;
  return summary;
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
