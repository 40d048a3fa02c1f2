/**
 * Events as lake rows and rows as Parquet files. A row holds the columns of `layout.ts`: ids and
 * names as text, times as timestamps (milliseconds, UTC), objects as JSON text.
 */
import { parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { EventType } from '../spec/event-types';
import { setOwn } from '../shared/own-keys';
import { EXTRA_COLUMN, LAKE_COLUMNS, type Column } from './layout';

export type LakeValue = string | Date | null;
export type LakeRow = Record<string, LakeValue>;

const PARQUET_TYPES = { string: 'STRING', json: 'STRING', timestamp: 'TIMESTAMP' } as const;

/** The row for an event of `type` (as `readEventItem` gives it back) received at `receivedAt`. */
export function eventRow(type: EventType, event: Record<string, unknown>, receivedAt: string | undefined): LakeRow {
  const columns = LAKE_COLUMNS[type];
  const fields: Record<string, unknown> = { ...event, receivedAt };
  const row: LakeRow = {};
  const used = new Set<string>(['type']);
  for (const column of columns) {
    if (column.name === EXTRA_COLUMN) continue;
    used.add(column.field);
    row[column.name] = cell(column, fields[column.field]);
  }
  const extra: Record<string, unknown> = {};
  let any = false;
  for (const name of Object.keys(event)) {
    if (used.has(name)) continue;
    setOwn(extra, name, event[name]);
    any = true;
  }
  row[EXTRA_COLUMN] = any ? JSON.stringify(extra) : null;
  return row;
}

function cell(column: Column, value: unknown): LakeValue {
  if (value === undefined || value === null) return null;
  if (column.type === 'json') return JSON.stringify(value);
  if (column.type === 'timestamp') {
    const time = typeof value === 'string' ? Date.parse(value) : Number.NaN;
    return Number.isNaN(time) ? null : new Date(time);
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** One Parquet file (Snappy) of `rows`, all of `type`. */
export function writeParquet(type: EventType, rows: readonly LakeRow[]): Uint8Array {
  const buffer = parquetWriteBuffer({
    columnData: LAKE_COLUMNS[type].map((column) => ({
      name: column.name,
      data: rows.map((row) => row[column.name] ?? null),
      type: PARQUET_TYPES[column.type],
    })),
    createdBy: 'segment-ingest lake',
  });
  return new Uint8Array(buffer);
}

/** The rows of a file `writeParquet` wrote (compaction reads them back to rewrite them). */
export async function readParquet(bytes: Uint8Array): Promise<LakeRow[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return (await parquetReadObjects({ file })) as LakeRow[];
}
