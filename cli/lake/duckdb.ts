/**
 * SQL over the local lake: its objects copied from the S3 emulator into a cache folder, and DuckDB
 * (`@duckdb/node-api`, parquet and json built in, nothing downloaded) over those files, with the
 * tables Athena has (lib/lake/layout.ts) and the few Athena functions DuckDB lacks as macros.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { EVENT_TYPES } from '../../lib/spec/event-types';
import { LAKE_COLUMNS, LAKE_TABLES, type ColumnType } from '../../lib/lake/layout';
import { listLake } from '../../lib/lake/objects';

export interface QueryResult {
  columns: string[];
  rows: Array<Record<string, unknown>>;
}

/**
 * Athena (Trino) functions the docs' queries use that DuckDB names differently; docs/lake.md
 * lists them. Each is a macro over DuckDB's own function.
 */
export const ATHENA_SHIMS: Record<string, string> = {
  json_extract_scalar: 'CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)',
  from_iso8601_timestamp: 'CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)',
  approx_distinct: 'CREATE MACRO approx_distinct(x) AS approx_count_distinct(x)',
  date: 'CREATE MACRO date(x) AS CAST(x AS DATE)',
  to_unixtime: 'CREATE MACRO to_unixtime(t) AS epoch(t)',
};

/** Makes `folder` hold exactly the lake's objects: new ones downloaded, deleted ones (compacted away) removed. */
export async function syncLakeCache(s3: S3Client, bucket: string, folder: string): Promise<{ files: number; downloaded: number }> {
  const objects = await listLake(s3, bucket);
  const wanted = new Set(objects.map((object) => path.join(folder, object.key)));
  let downloaded = 0;
  const queue = objects.filter((object) => sizeOf(path.join(folder, object.key)) !== object.size);
  const download = async (): Promise<void> => {
    for (let object = queue.shift(); object; object = queue.shift()) {
      const { Body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.key }));
      const file = path.join(folder, object.key);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, (await Body?.transformToByteArray()) ?? new Uint8Array());
      downloaded++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, download));
  for (const file of listFiles(folder)) if (!wanted.has(file)) rmSync(file);
  return { files: objects.length, downloaded };
}

const sizeOf = (file: string): number | undefined => {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
};

function listFiles(folder: string): string[] {
  let entries;
  try {
    entries = readdirSync(folder, { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

const SQL_TYPES: Record<ColumnType, string> = { string: 'VARCHAR', timestamp: 'TIMESTAMP', json: 'JSON' };

/** One view per lake table over the cache folder, typed as the Glue tables are; a table without files is an empty view. */
function viewSql(folder: string, type: (typeof EVENT_TYPES)[number]): string {
  const table = LAKE_TABLES[type];
  const columns = LAKE_COLUMNS[type];
  const hasFiles = listFiles(path.join(folder, table)).some((file) => file.endsWith('.parquet'));
  const select = [
    'message_id',
    'source_id',
    ...columns.filter((c) => c.name !== 'message_id').map((c) => (c.type === 'json' ? `CAST(${c.name} AS JSON) AS ${c.name}` : c.name)),
    'dt',
  ];
  if (!hasFiles) {
    const typed = [
      'CAST(NULL AS VARCHAR) AS message_id',
      'CAST(NULL AS VARCHAR) AS source_id',
      ...columns.filter((c) => c.name !== 'message_id').map((c) => `CAST(NULL AS ${SQL_TYPES[c.type]}) AS ${c.name}`),
      'CAST(NULL AS VARCHAR) AS dt',
    ];
    return `CREATE VIEW ${table} AS SELECT ${typed.join(', ')} WHERE false`;
  }
  const glob = path.join(folder, table, '*', '*', '*.parquet').replaceAll("'", "''");
  return `CREATE VIEW ${table} AS SELECT ${select.join(', ')} FROM read_parquet('${glob}', hive_partitioning = true, hive_types = {'source_id': VARCHAR, 'dt': VARCHAR}, union_by_name = true)`;
}

/** Runs `sql` over the cache folder in a DuckDB of its own, in memory, after the saved views of `viewsFolder` (`lake views --apply`). */
export async function queryLocalLake(folder: string, sql: string, viewsFolder?: string): Promise<QueryResult> {
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const connection = await instance.connect();
  try {
    await prepare(connection, folder);
    for (const file of viewsFolder ? listFiles(viewsFolder).filter((f) => f.endsWith('.sql')) : []) {
      await connection.run(readFileSync(file, 'utf8'));
    }
    const reader = await connection.runAndReadAll(sql);
    const columns = reader.columnNames();
    const types = reader.columnTypes().map(String);
    const rows = reader.getRowObjectsJS().map((row) => Object.fromEntries(columns.map((name, i) => [name, plain(row[name], types[i])])));
    return { columns, rows };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function prepare(connection: DuckDBConnection, folder: string): Promise<void> {
  for (const shim of Object.values(ATHENA_SHIMS)) await connection.run(shim);
  for (const type of EVENT_TYPES) await connection.run(viewSql(folder, type));
}

/** A DuckDB value as JSON can print it: big integers as numbers while exact, times as ISO-8601, days as YYYY-MM-DD. */
function plain(value: unknown, type: string | undefined): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return type === 'DATE' ? value.toISOString().slice(0, 10) : value.toISOString();
  if (Array.isArray(value)) return value.map((element) => plain(element, undefined));
  return value;
}
