/** `rejected list|replay`: the quarantine, and sending fixed or still-valid events back through the pipeline. */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import path from 'node:path';
import { hashKey, type KeyRecord } from '../../lib/tables/sources';
import { booleanOption, listOption, numberOption, stringOption, type Values } from '../core/args';
import type { Command } from '../core/command';
import { CliError, EXIT, UsageError } from '../core/errors';
import { formatNumber, formatTable } from '../core/format';
import { write } from '../core/io';
import { createProgress } from '../core/progress';
import { BatchBuilder, batchBody, DEFAULT_LIMITS, type Batch } from '../replay/batches';
import { inspectFile, readLines, type InputFile } from '../replay/lines';
import { runPool } from '../replay/pool';
import { checkEndpoint, createBatchSender, type SendBatch } from '../replay/sender';
import { listRejected, markReplayed } from '../../lib/tables/rejected';
import { entryFromLine, entryFromTable, expandEntry, exportLine, type ReplayEntry } from './replay-entries';
import { requireSource, withStage, type Stage } from '../core/stage';
import { TARGET_OPTIONS } from '../core/target';
import { parseTimeOption } from '../core/time';
import { resolveKey, SENDING_OPTIONS, sendingSettings, type SendingSettings } from '../replay/command';

const SELECTION_OPTIONS = {
  source: {
    type: 'string',
    multiple: true,
    value: 'ID',
    description: 'only these sources (repeat or comma-separate); default: all (a scan of the table)',
  },
  since: { type: 'string', value: 'TIME', description: 'received at or after TIME (ISO-8601, epoch seconds, or an age like 24h, 7d)' },
  until: { type: 'string', value: 'TIME', description: 'received before TIME' },
} as const;

function selection(values: Values) {
  const now = Date.now();
  const since = stringOption(values, 'since');
  const until = stringOption(values, 'until');
  const sources = listOption(values, 'source');
  return {
    sourceIds: sources.length > 0 ? sources : undefined,
    since: since === undefined ? undefined : parseTimeOption('since', since, now),
    until: until === undefined ? undefined : parseTimeOption('until', until, now),
  };
}

export const rejectedList: Command = {
  spec: {
    name: 'rejected list',
    summary: 'Lists quarantined events (newest first) with the reasons they were rejected.',
    options: {
      ...SELECTION_OPTIONS,
      all: { type: 'boolean', description: 'include entries already replayed' },
      limit: { type: 'string', value: 'N', description: 'at most N entries (default 50 in the table, all with --jsonl)' },
      jsonl: {
        type: 'boolean',
        description: 'one JSON line per entry with the event parsed into "event": the file to edit for `rejected replay FILE`',
      },
      ...TARGET_OPTIONS,
    },
    examples: ['segment-ingest rejected list --source shop-web --since 24h', 'segment-ingest rejected list --jsonl > fixes.jsonl'],
  },
  async run({ values }, io, deps) {
    const jsonl = booleanOption(values, 'jsonl');
    const limit = numberOption(values, 'limit', jsonl ? Infinity : 50, { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
    const includeReplayed = booleanOption(values, 'all');
    const filter = selection(values);
    const entries = await withStage(values, io, deps, async (stage) => {
      for (const sourceId of filter.sourceIds ?? []) await requireSource(stage, sourceId);
      return listRejected(stage.clients.documents, stage.target.tables.rejected, {
        ...filter,
        includeReplayed,
        limit: Number.isFinite(limit) ? limit : undefined,
      });
    });
    if (jsonl) {
      for (const entry of entries) await write(io.stdout, `${JSON.stringify(exportLine(entry))}\n`);
      return EXIT.ok;
    }
    if (entries.length === 0) {
      await write(io.stdout, `No rejected events${includeReplayed ? '' : ' waiting (--all includes replayed ones)'}.\n`);
      return EXIT.ok;
    }
    const columns = [
      { header: 'RECEIVED' },
      { header: 'SOURCE' },
      { header: 'ROUTE' },
      { header: '#', align: 'right' as const },
      { header: 'MESSAGE ID', max: 24 },
      { header: 'REASONS', max: 100 },
    ];
    if (includeReplayed) columns.push({ header: 'REPLAYED' });
    const rows = entries.map((e) => [
      e.receivedAt,
      e.sourceId,
      e.route,
      e.index === undefined ? '-' : String(e.index),
      e.messageId ?? '-',
      e.reasons.join('; '),
      ...(includeReplayed ? [e.replayedAt ?? ''] : []),
    ]);
    await write(io.stdout, formatTable(columns, rows));
    await write(
      io.stdout,
      `${formatNumber(entries.length)} shown${entries.length === limit ? ` (the first ${formatNumber(limit)}; --limit for more)` : ''}. To fix and replay: segment-ingest rejected list --jsonl > fixes.jsonl, edit "event", segment-ingest rejected replay fixes.jsonl\n`,
    );
    return EXIT.ok;
  },
};

interface Tally {
  replayed: number;
  events: number;
  stillInvalid: number;
  rejectedAgain: number;
  otherSource: number;
  gone: number;
}

export const rejectedReplay: Command = {
  spec: {
    name: 'rejected replay',
    summary:
      'Sends quarantined events back through the public endpoint. Without FILE, the stored ones that are valid now; with FILE, the fixed events of an edited `rejected list --jsonl` file.',
    args: '[FILE]',
    maxPositionals: 1,
    options: {
      ...SELECTION_OPTIONS,
      ...SENDING_OPTIONS,
      'dry-run': { type: 'boolean', description: 'check and report, send nothing' },
      ...TARGET_OPTIONS,
    },
    details: `Every entry is checked with the service's validation first: one that is still invalid is reported and left as it is.
Events go to /v1/batch with a key of the entry's source (--key; entries of other sources are skipped and counted). An entry whose events were all accepted is marked "replayedAt" in the rejected table: it stays there for audit until it expires (REJECTED_RETENTION_DAYS), and "rejected list" and "status" stop showing it.
Without FILE, selects entries not replayed yet (--source/--since/--until); with FILE, replays the entries of the file, whatever their state.
Exit status: 0 every entry replayed, 3 some left (listed), 1 on an error.`,
    examples: [
      'segment-ingest rejected replay --source shop-web --since 7d --key "$KEY"',
      'segment-ingest rejected list --source shop-web --jsonl > fixes.jsonl   # then edit the "event" fields',
      'segment-ingest rejected replay fixes.jsonl --key "$KEY"',
    ],
  },
  async run({ values, positionals }, io, deps) {
    const settings = sendingSettings(values);
    const dryRun = booleanOption(values, 'dry-run');
    const file = positionals[0] === undefined ? undefined : await inspectFile(positionals[0], io.cwd);
    const filter = selection(values);
    const progress = createProgress(io.stderr, { tty: false, intervalMs: Infinity });
    const report = (line: string) => progress.log(line);
    const tally: Tally = { replayed: 0, events: 0, stillInvalid: 0, rejectedAgain: 0, otherSource: 0, gone: 0 };

    await withStage(values, io, deps, async (stage) => {
      for (const sourceId of filter.sourceIds ?? []) await requireSource(stage, sourceId);
      const local = stage.target.kind === 'local';
      const key = resolveKey(values, io, local);
      await replayEntries(stage, { key, local, file, filter, settings, dryRun, signal: io.signal, tally, report });
    });

    await write(io.stdout, formatReplayTally(tally, dryRun, file));
    if (io.signal?.aborted) return EXIT.interrupted;
    if (dryRun) return EXIT.ok;
    return tally.stillInvalid + tally.rejectedAgain + tally.otherSource > 0 ? EXIT.incomplete : EXIT.ok;
  },
};

/** What one `rejected replay` needs besides the stage; the phases below count into `tally` and `report` what they leave out. */
interface ReplayRun {
  key: string;
  local: boolean;
  file: InputFile | undefined;
  filter: Selection;
  settings: SendingSettings;
  dryRun: boolean;
  signal: AbortSignal | undefined;
  tally: Tally;
  report: (line: string) => void;
}

type Selection = ReturnType<typeof selection>;

/** An entry that is valid now, with the events it holds. */
interface Expanded {
  entry: ReplayEntry;
  events: Record<string, unknown>[];
}

/** The service's answers, by index of the entry in the expanded list. */
interface Answers {
  /** The first problem the service named for one of the entry's events. */
  failedEntries: Map<number, string>;
  /** How many of the entry's events it accepted. */
  acceptedEvents: Map<number, number>;
}

/** The replay on an open stage: checks the key, collects and checks the entries, sends them, marks the ones accepted. */
async function replayEntries(stage: Stage, run: ReplayRun): Promise<void> {
  const keyRecord = await checkKey(stage, run.key, run.filter);
  const entries = run.file ? await entriesOfFile(run.file, run) : await storedEntries(stage, run.filter, keyRecord.sourceId);
  const expanded = expandEntries(entriesOfSource(entries, keyRecord.sourceId, run), run);
  if (run.dryRun) {
    countDryRun(expanded, run);
    return;
  }
  if (expanded.length === 0) return;
  const send = await openSender(stage, run);
  const answers = await sendBatches(buildBatches(expanded, run.settings), send, run);
  await markEntries(stage, expanded, answers, run);
}

/** The record of the key; throws when it is not a key of the stage, was revoked, or belongs to a source other than --source. */
async function checkKey(stage: Stage, key: string, filter: Selection): Promise<KeyRecord> {
  const keyRecord = (
    await stage.clients.documents.send(new GetCommand({ TableName: stage.target.tables.keys, Key: { keyHash: hashKey(key) } }))
  ).Item as KeyRecord | undefined;
  if (!keyRecord) throw new CliError(`the key ${key.slice(0, 7)}… is not a key of stage "${stage.target.stage}"`, EXIT.failed);
  if (keyRecord.revokedAt) throw new CliError(`the key ${keyRecord.keyPrefix}… was revoked at ${keyRecord.revokedAt}`, EXIT.failed);
  if (filter.sourceIds && !filter.sourceIds.includes(keyRecord.sourceId)) {
    throw new UsageError(`the key belongs to source "${keyRecord.sourceId}", not ${filter.sourceIds.map((s) => `"${s}"`).join(', ')}`);
  }
  return keyRecord;
}

/** The entries of an edited `rejected list --jsonl` file; a line that is not one is counted still invalid and reported. */
async function entriesOfFile(file: InputFile, { tally, report }: ReplayRun): Promise<ReplayEntry[]> {
  const entries: ReplayEntry[] = [];
  for await (const line of readLines(file)) {
    if (line.text.trim() === '') continue;
    const entry = entryFromLine(line.text, `${file.name}:${line.lineNo}`);
    if ('problem' in entry) {
      tally.stillInvalid++;
      report(`${file.name}:${line.lineNo}: ${entry.problem}`);
    } else {
      entries.push(entry);
    }
  }
  return entries;
}

/** The stored entries not replayed yet that --source/--since/--until select (by default, those of the key's source). */
async function storedEntries(stage: Stage, filter: Selection, sourceId: string): Promise<ReplayEntry[]> {
  const stored = await listRejected(stage.clients.documents, stage.target.tables.rejected, {
    ...filter,
    sourceIds: filter.sourceIds ?? [sourceId],
    includeReplayed: false,
  });
  return stored.map(entryFromTable);
}

/** The entries of the key's source; the others are counted and reported in one line. */
function entriesOfSource(entries: ReplayEntry[], sourceId: string, { tally, report }: ReplayRun): ReplayEntry[] {
  const mine = entries.filter((entry) => {
    if (entry.sourceId === sourceId) return true;
    tally.otherSource++;
    return false;
  });
  if (tally.otherSource > 0)
    report(`${formatNumber(tally.otherSource)} entries belong to other sources: not sent; replay them with a key of their source`);
  return mine;
}

/** The entries valid now with the service's validation, with their events; one still invalid is counted and reported. */
function expandEntries(entries: ReplayEntry[], { tally, report }: ReplayRun): Expanded[] {
  const now = Date.now();
  const expanded: Expanded[] = [];
  for (const entry of entries) {
    const result = expandEntry(entry, { maxEventBytes: DEFAULT_LIMITS.eventBytes, now });
    if (result.ok) expanded.push({ entry, events: result.events });
    else {
      tally.stillInvalid++;
      report(`${entry.label}: ${result.problem}`);
    }
  }
  return expanded;
}

/** --dry-run: reports and counts what would be sent. */
function countDryRun(expanded: Expanded[], { tally, report }: ReplayRun): void {
  for (const { entry, events } of expanded) report(`${entry.label}: valid now, would send ${events.length} event(s)`);
  tally.replayed = expanded.length;
  tally.events = expanded.reduce((sum, { events }) => sum + events.length, 0);
}

/** A sender to the stage's endpoint with the key, once the endpoint answers; it reports its retries. */
async function openSender(stage: Stage, { key, local, settings, report }: ReplayRun): Promise<SendBatch> {
  const endpoint = stage.target.endpoint;
  if (!endpoint) throw new UsageError(`the stack of stage "${stage.target.stage}" has no HttpApiUrl output; pass --endpoint URL`);
  await checkEndpoint(endpoint, fetch, local ? ' Is the local stack running (npm start)?' : '');
  return createBatchSender({
    endpoint,
    key,
    maxRetries: settings.maxRetries,
    timeoutMs: settings.timeoutMs,
    onRetry: ({ delayMs, problem }) => report(`retrying in ${(delayMs / 1000).toFixed(1)}s: ${problem}`),
  });
}

/** The events in batches (at most the rate's burst each); each event carries the index of its entry, so the answer maps back to entries. */
function buildBatches(expanded: Expanded[], settings: SendingSettings): Array<Batch<number>> {
  const batches: Array<Batch<number>> = [];
  const builder = new BatchBuilder<number>({
    batchBytes: DEFAULT_LIMITS.batchBytes,
    batchEvents: Math.min(DEFAULT_LIMITS.batchEvents, settings.rate?.burst ?? Infinity),
  });
  expanded.forEach(({ events }, entryIndex) => {
    for (const event of events) {
      const text = JSON.stringify(event);
      const full = builder.add(text, Buffer.byteLength(text), entryIndex);
      if (full) batches.push(full);
    }
  });
  const last = builder.flush();
  if (last) batches.push(last);
  return batches;
}

/** Sends the batches with the concurrency and rate of the settings; returns what the service answered for each entry. */
async function sendBatches(batches: Array<Batch<number>>, send: SendBatch, run: ReplayRun): Promise<Answers> {
  const failedEntries = new Map<number, string>();
  const acceptedEvents = new Map<number, number>();
  await runPool(
    batches,
    {
      concurrency: run.settings.concurrency,
      signal: run.signal,
      beforeStart: (batch, signal) => run.settings.rate?.take(batch.texts.length, signal) ?? Promise.resolve(),
    },
    async (batch) => {
      const answer = await send(batchBody(batch), batch.texts.length, run.signal);
      const refused = new Set(answer.errors.map((e) => e.index));
      for (const e of answer.errors) {
        const entryIndex = batch.metas[e.index];
        if (entryIndex !== undefined && !failedEntries.has(entryIndex)) failedEntries.set(entryIndex, e.message);
      }
      batch.metas.forEach((entryIndex, i) => {
        if (!refused.has(i)) acceptedEvents.set(entryIndex, (acceptedEvents.get(entryIndex) ?? 0) + 1);
      });
    },
  );
  return { failedEntries, acceptedEvents };
}

/** Marks "replayedAt" each entry whose events were all accepted; one the service rejected again is counted and reported. */
async function markEntries(stage: Stage, expanded: Expanded[], answers: Answers, { tally, report }: ReplayRun): Promise<void> {
  const replayedAt = new Date().toISOString();
  for (const [entryIndex, { entry, events }] of expanded.entries()) {
    const problem = answers.failedEntries.get(entryIndex);
    if (problem !== undefined) {
      tally.rejectedAgain++;
      report(`${entry.label}: rejected again by the service: ${problem}`);
      continue;
    }
    if ((answers.acceptedEvents.get(entryIndex) ?? 0) !== events.length) continue; // Not sent: interrupted.
    tally.events += events.length;
    if (await markReplayed(stage.clients.documents, stage.target.tables.rejected, entry.ref, replayedAt)) tally.replayed++;
    else tally.gone++;
  }
}

/** The summary `rejected replay` prints at the end. */
function formatReplayTally(tally: Tally, dryRun: boolean, file: InputFile | undefined): string {
  const n = formatNumber;
  const lines = [
    `rejected replay${dryRun ? ' (dry run)' : ''}${file ? ` of ${path.basename(file.name)}` : ''}:`,
    dryRun
      ? `  valid now        ${n(tally.replayed)} entries (${n(tally.events)} events would be sent)`
      : `  replayed         ${n(tally.replayed)} entries (${n(tally.events)} events accepted; marked replayedAt)`,
    `  still invalid    ${n(tally.stillInvalid)}${tally.stillInvalid > 0 ? ' (not sent; listed above)' : ''}`,
    `  rejected again   ${n(tally.rejectedAgain)}${tally.rejectedAgain > 0 ? ' (by the service, which recorded a new rejection)' : ''}`,
    `  other sources    ${n(tally.otherSource)}`,
  ];
  if (tally.gone > 0) lines.push(`  accepted, but their rejected item had expired meanwhile: ${n(tally.gone)}`);
  return `${lines.join('\n')}\n`;
}
