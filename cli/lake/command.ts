/** `sql` and `lake status|compact`: the warehouse of docs/lake.md, queried and maintained. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { compactLake } from '../../lib/lake/compact';
import { listLake, type LakeObject } from '../../lib/lake/objects';
import { pendingErasures } from '../../lib/lake/compact';
import { silentLog } from '../../lib/shared/log';
import { booleanOption, requiredSource, SOURCE_OPTION, stringOption, type Values } from '../core/args';
import type { Command, CommandDeps } from '../core/command';
import { EXIT, UsageError } from '../core/errors';
import { formatNumber, formatTable } from '../core/format';
import { write, type Io } from '../core/io';
import { requireSource, withStage, type Stage } from '../core/stage';
import { TARGET_OPTIONS } from '../core/target';
import { readErasureHashKey } from '../erasures/hash-key';
import { readObservedPaths, readObservedSource } from '../../lib/tables/schemas';
import { eventView, type LakeView } from './views';
import { queryAthena } from './athena';
import { queryLocalLake, syncLakeCache, type QueryResult } from './duckdb';
import { openLake, S3_OPTION, type LakeTarget } from './target';

const JSON_OPTION = { json: { type: 'boolean', description: 'one JSON object per line instead of a table' } } as const;

/** The local cache of a stage's lake files that DuckDB reads (`.data/lake-cache/<stage>`, DATA_DIR moves `.data`). */
export function lakeCacheFolder(io: Io, stage: string): string {
  return path.resolve(io.cwd, io.env.DATA_DIR ?? '.data', 'lake-cache', stage);
}

/** Views `lake views --apply` saved for the local DuckDB, one file per source (Athena keeps its own). */
export function lakeViewsFolder(io: Io, stage: string): string {
  return path.resolve(io.cwd, io.env.DATA_DIR ?? '.data', 'lake-views', stage);
}

async function runSql(stage: Stage, lake: LakeTarget, io: Io, sql: string): Promise<QueryResult> {
  if (lake.athena) return queryAthena(stage.target.region, lake.athena, sql);
  const folder = lakeCacheFolder(io, stage.target.stage);
  await syncLakeCache(lake.s3, lake.bucket, folder);
  return queryLocalLake(folder, sql, lakeViewsFolder(io, stage.target.stage));
}

async function printResult(io: Io, result: QueryResult, json: boolean): Promise<void> {
  if (json) {
    for (const row of result.rows) await write(io.stdout, `${JSON.stringify(row)}\n`);
    return;
  }
  const text = (value: unknown) => (value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value));
  await write(
    io.stdout,
    formatTable(
      result.columns.map((header) => ({ header, max: 60 })),
      result.rows.map((row) => result.columns.map((name) => text(row[name]))),
    ),
  );
  await write(io.stderr, `${formatNumber(result.rows.length)} row(s)\n`);
}

/** Opens the stage and its lake, runs `action`, closes them; with `sourceId`, first refuses a source that does not exist (exit 2). */
function withLake<T>(
  values: Values,
  io: Io,
  deps: CommandDeps,
  action: (stage: Stage, lake: LakeTarget) => Promise<T>,
  sourceId?: string,
): Promise<T> {
  return withStage(values, io, deps, async (stage) => {
    if (sourceId !== undefined) await requireSource(stage, sourceId);
    const lake = await openLake(stage, values, io, deps);
    try {
      return await action(stage, lake);
    } finally {
      lake.s3.destroy();
    }
  });
}

export const sql: Command = {
  spec: {
    name: 'sql',
    args: '"<SQL>"',
    minPositionals: 1,
    maxPositionals: 1,
    summary: 'Runs a SQL query over the lake and prints the rows: Athena on a deployed stage, DuckDB over the local lake.',
    options: { ...JSON_OPTION, ...S3_OPTION, ...TARGET_OPTIONS },
    details:
      'Tables: tracks, identifies, pages, screens, groups, aliases (docs/lake.md lists their columns). Locally the lake files are copied to .data/lake-cache/<stage> first; Athena functions DuckDB lacks are shimmed (docs/lake.md).',
    examples: [
      'segment-ingest sql "SELECT count(*) FROM tracks"',
      `segment-ingest sql --json "SELECT dt, count(*) AS n FROM tracks GROUP BY dt ORDER BY dt"`,
      'segment-ingest sql --stage prod "SELECT event, count(*) FROM tracks WHERE dt >= \'2026-12-01\' GROUP BY 1"',
    ],
  },
  async run({ values, positionals }, io, deps) {
    const query = positionals[0]?.trim() ?? '';
    if (query === '') throw new UsageError('the query is empty: segment-ingest sql "SELECT count(*) FROM tracks"');
    const result = await withLake(values, io, deps, (stage, lake) => runSql(stage, lake, io, query));
    await printResult(io, result, booleanOption(values, 'json'));
    return EXIT.ok;
  },
};

/**
 * Files, bytes and days per table, and the lag: the age of the newest file. The trigger writes a
 * file within its batching window (60 s) of events arriving, so while events arrive an age well
 * past a minute means the lake is behind the tables; with no traffic the age only says when the last
 * events came. Listing the bucket is the whole cost: no table scan, no stream read.
 */
export function summariseLake(objects: LakeObject[], now: number) {
  const tables: Record<string, { files: number; bytes: number; days: number }> = {};
  const days = new Map<string, Set<string>>();
  for (const object of objects) {
    const table = object.key.split('/')[0] ?? '';
    const entry = (tables[table] ??= { files: 0, bytes: 0, days: 0 });
    entry.files++;
    entry.bytes += object.size;
    days.set(table, (days.get(table) ?? new Set()).add(object.partition.day));
    entry.days = days.get(table)?.size ?? 0;
  }
  const newest = objects.reduce<Date | undefined>(
    (latest, o) => (o.lastModified && (!latest || o.lastModified > latest) ? o.lastModified : latest),
    undefined,
  );
  return {
    tables,
    newestFileAt: newest?.toISOString() ?? null,
    newestFileAgeSeconds: newest ? Math.max(0, Math.round((now - newest.getTime()) / 1000)) : null,
  };
}

const lagText = (seconds: number | null) =>
  seconds === null ? '' : ` (${formatNumber(seconds)} s ago; while events arrive, a file comes within about a minute)`;

export const lakeStatus: Command = {
  spec: {
    name: 'lake status',
    summary:
      'Shows the lake: files and bytes per table, the newest file and its age (the lag behind the tables), and erasures not yet swept from it.',
    options: { ...JSON_OPTION, ...S3_OPTION, ...TARGET_OPTIONS },
    examples: ['segment-ingest lake status', 'segment-ingest lake status --stage prod --json'],
  },
  async run({ values }, io, deps) {
    const report = await withLake(values, io, deps, async (stage, lake) => {
      const [objects, pending] = await Promise.all([
        listLake(lake.s3, lake.bucket),
        pendingErasures({ documents: stage.clients.documents, tables: stage.target.tables }),
      ]);
      return { bucket: lake.bucket, ...summariseLake(objects, Date.now()), pendingErasures: pending.length };
    });
    if (booleanOption(values, 'json')) {
      await write(io.stdout, `${JSON.stringify(report)}\n`);
      return EXIT.ok;
    }
    const rows = Object.entries(report.tables).map(([table, t]) => [
      table,
      formatNumber(t.files),
      formatNumber(t.bytes),
      formatNumber(t.days),
    ]);
    await write(
      io.stdout,
      `bucket ${report.bucket}\n` +
        formatTable(
          [
            { header: 'TABLE' },
            { header: 'FILES', align: 'right' },
            { header: 'BYTES', align: 'right' },
            { header: 'DAYS', align: 'right' },
          ],
          rows,
        ) +
        `newest file ${report.newestFileAt ?? '-'}${lagText(report.newestFileAgeSeconds)}\nerasures pending ${report.pendingErasures}\n`,
    );
    return EXIT.ok;
  },
};

export const lakeCompact: Command = {
  spec: {
    name: 'lake compact',
    summary: 'Compacts the lake now (each finished day into one file per partition) and sweeps pending erasures from it.',
    options: {
      day: { type: 'string', value: 'YYYY-MM-DD', description: 'compact this day only, finished or not' },
      ...JSON_OPTION,
      ...S3_OPTION,
      ...TARGET_OPTIONS,
    },
    details: "The scheduled job does the same every hour (docs/lake.md). Erased users' rows are left out of every rewritten file.",
    examples: ['segment-ingest lake compact', 'segment-ingest lake compact --day 2026-12-06'],
  },
  async run({ values }, io, deps) {
    const day = stringOption(values, 'day');
    if (day !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new UsageError(`--day must be YYYY-MM-DD, got "${day}"`);
    const result = await withLake(values, io, deps, async (stage, lake) => {
      const hashKey = await readErasureHashKey(stage.target, io.env, io.cwd, deps);
      const compactDeps = {
        s3: lake.s3,
        bucket: lake.bucket,
        documents: stage.clients.documents,
        tables: stage.target.tables,
        hashKey,
        log: silentLog,
        now: Date.now,
      };
      return compactLake(compactDeps, { day });
    });
    if (booleanOption(values, 'json')) await write(io.stdout, `${JSON.stringify(result)}\n`);
    else
      await write(
        io.stdout,
        `${result.partitions} partition(s) rewritten from ${result.rewritten.length} file(s) into ${result.filesWritten}; ${result.rowsErased} erased row(s) left out; ${result.erasuresSwept} erasure(s) swept\n`,
      );
    return EXIT.ok;
  },
};

export const lakeViews: Command = {
  spec: {
    name: 'lake views',
    summary: "Prints a typed view per event of a source, from its observed schemas; --apply creates them (Athena, or the local DuckDB's).",
    options: {
      ...SOURCE_OPTION,
      apply: { type: 'boolean', description: 'create the views (CREATE OR REPLACE) instead of only printing them' },
      ...S3_OPTION,
      ...TARGET_OPTIONS,
    },
    details:
      'A view is named <source>_<event> in snake case (identify and group: <source>_identifies, <source>_groups) and has a column per scalar property or trait path, try_cast to DOUBLE, BOOLEAN or VARCHAR from the types observed. Arrays and names a plain JSON path cannot spell are left out, and listed.',
    examples: [
      'segment-ingest lake views --source shop-web',
      'segment-ingest sql "SELECT dt, sum(total) FROM shop_web_order_completed GROUP BY dt"',
    ],
  },
  async run({ values }, io, deps) {
    const sourceId = requiredSource(values);
    const apply = booleanOption(values, 'apply');
    const views = await withLake(
      values,
      io,
      deps,
      async (stage, lake) => {
        const table = stage.target.tables.schemas;
        const source = await readObservedSource(stage.clients.documents, table, sourceId);
        const built: LakeView[] = [];
        for (const event of source.events) {
          const view = eventView(sourceId, event, await readObservedPaths(stage.clients.documents, table, sourceId, event));
          if (view) built.push(view);
        }
        if (apply && lake.athena) for (const view of built) await queryAthena(stage.target.region, lake.athena, view.sql);
        if (apply && !lake.athena) {
          const folder = lakeViewsFolder(io, stage.target.stage);
          mkdirSync(folder, { recursive: true });
          writeFileSync(path.join(folder, `${encodeURIComponent(sourceId)}.sql`), built.map((view) => `${view.sql};\n`).join(''));
        }
        return built;
      },
      sourceId,
    );
    if (views.length === 0) await write(io.stderr, `No events with properties or traits seen in source "${sourceId}" yet.\n`);
    for (const view of views) {
      await write(io.stdout, `${view.sql};\n`);
      if (view.skipped.length > 0) await write(io.stderr, `${view.name}: left out ${view.skipped.join(', ')}\n`);
    }
    if (apply) await write(io.stderr, `${views.length} view(s) created\n`);
    return EXIT.ok;
  },
};
