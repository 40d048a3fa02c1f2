/** `rejected list|replay`: the quarantine, and sending fixed or still-valid events back through the pipeline. */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import path from 'node:path';
import { hashKey, type KeyRecord } from '../../lib/shared/source-records';
import { booleanOption, listOption, numberOption, stringOption, type Values } from '../core/args';
import type { Command } from '../core/command';
import { CliError, EXIT, UsageError } from '../core/errors';
import { formatNumber, formatTable } from '../core/format';
import { write } from '../core/io';
import { createProgress } from '../core/progress';
import { BatchBuilder, batchBody, DEFAULT_LIMITS, type Batch } from '../replay/batches';
import { inspectFile, readLines } from '../replay/lines';
import { runPool } from '../replay/pool';
import { checkEndpoint, createBatchSender } from '../replay/sender';
import { listRejected, markReplayed } from './table';
import { entryFromLine, entryFromTable, expandEntry, exportLine, type ReplayEntry } from './replay-entries';
import { withStage } from '../core/stage';
import { TARGET_OPTIONS } from '../core/target';
import { parseTimeOption } from '../core/time';
import { resolveKey, SENDING_OPTIONS, sendingSettings } from '../replay/command';

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
    const entries = await withStage(values, io, deps, (stage) =>
      listRejected(stage.clients.documents, stage.target.tables.rejected, {
        ...selection(values),
        includeReplayed,
        limit: Number.isFinite(limit) ? limit : undefined,
      }),
    );
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
      const local = stage.target.kind === 'local';
      const key = resolveKey(values, io, local);
      const keyRecord = (
        await stage.clients.documents.send(new GetCommand({ TableName: stage.target.tables.keys, Key: { keyHash: hashKey(key) } }))
      ).Item as KeyRecord | undefined;
      if (!keyRecord) throw new CliError(`the key ${key.slice(0, 7)}… is not a key of stage "${stage.target.stage}"`, EXIT.failed);
      if (keyRecord.revokedAt) throw new CliError(`the key ${keyRecord.keyPrefix}… was revoked at ${keyRecord.revokedAt}`, EXIT.failed);
      if (filter.sourceIds && !filter.sourceIds.includes(keyRecord.sourceId)) {
        throw new UsageError(`the key belongs to source "${keyRecord.sourceId}", not ${filter.sourceIds.map((s) => `"${s}"`).join(', ')}`);
      }

      let entries: ReplayEntry[] = [];
      if (file) {
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
      } else {
        const stored = await listRejected(stage.clients.documents, stage.target.tables.rejected, {
          ...filter,
          sourceIds: filter.sourceIds ?? [keyRecord.sourceId],
          includeReplayed: false,
        });
        entries = stored.map(entryFromTable);
      }

      const mine = entries.filter((entry) => {
        if (entry.sourceId === keyRecord.sourceId) return true;
        tally.otherSource++;
        return false;
      });
      if (tally.otherSource > 0)
        report(`${formatNumber(tally.otherSource)} entries belong to other sources: not sent; replay them with a key of their source`);

      const now = Date.now();
      const expanded: Array<{ entry: ReplayEntry; events: Record<string, unknown>[] }> = [];
      for (const entry of mine) {
        const result = expandEntry(entry, { maxEventBytes: DEFAULT_LIMITS.eventBytes, now });
        if (result.ok) expanded.push({ entry, events: result.events });
        else {
          tally.stillInvalid++;
          report(`${entry.label}: ${result.problem}`);
        }
      }
      if (dryRun) {
        for (const { entry, events } of expanded) report(`${entry.label}: valid now, would send ${events.length} event(s)`);
        tally.replayed = expanded.length;
        tally.events = expanded.reduce((sum, { events }) => sum + events.length, 0);
        return;
      }
      if (expanded.length === 0) return;

      const endpoint = stage.target.endpoint;
      if (!endpoint) throw new UsageError(`the stack of stage "${stage.target.stage}" has no HttpApiUrl output; pass --endpoint URL`);
      await checkEndpoint(endpoint, fetch, local ? ' Is the local stack running (npm start)?' : '');
      const send = createBatchSender({
        endpoint,
        key,
        maxRetries: settings.maxRetries,
        timeoutMs: settings.timeoutMs,
        onRetry: ({ delayMs, problem }) => report(`retrying in ${(delayMs / 1000).toFixed(1)}s: ${problem}`),
      });

      // Each event carries the index of its entry, so the answer maps back to entries.
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

      const failedEntries = new Map<number, string>();
      const acceptedEvents = new Map<number, number>();
      await runPool(
        batches,
        {
          concurrency: settings.concurrency,
          signal: io.signal,
          beforeStart: (batch, signal) => settings.rate?.take(batch.texts.length, signal) ?? Promise.resolve(),
        },
        async (batch) => {
          const answer = await send(batchBody(batch), batch.texts.length, io.signal);
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

      const replayedAt = new Date().toISOString();
      for (const [entryIndex, { entry, events }] of expanded.entries()) {
        const problem = failedEntries.get(entryIndex);
        if (problem !== undefined) {
          tally.rejectedAgain++;
          report(`${entry.label}: rejected again by the service: ${problem}`);
          continue;
        }
        if ((acceptedEvents.get(entryIndex) ?? 0) !== events.length) continue; // Not sent: interrupted.
        tally.events += events.length;
        if (await markReplayed(stage.clients.documents, stage.target.tables.rejected, entry.ref, replayedAt)) tally.replayed++;
        else tally.gone++;
      }
    });

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
    await write(io.stdout, `${lines.join('\n')}\n`);
    if (io.signal?.aborted) return EXIT.interrupted;
    if (dryRun) return EXIT.ok;
    return tally.stillInvalid + tally.rejectedAgain + tally.otherSource > 0 ? EXIT.incomplete : EXIT.ok;
  },
};
