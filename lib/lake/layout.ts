/**
 * The lake's layout: which table each event type lands in, its columns, and where its files are.
 * The Lambda writes by it, the Glue tables (infra/lake.ts) and the local DuckDB views are declared
 * from it, so a column cannot exist in the files and be missing in SQL.
 *
 * Objects: `<table>/source_id=<id>/dt=<YYYY-MM-DD>/part-<name>.parquet`, `dt` the UTC day the
 * service received the event. `source_id` and `dt` are partition columns: in the path, not in the
 * files, as Athena's partition projection and DuckDB's hive partitioning both read them.
 */
import { EVENT_TYPES, type EventType } from '../spec/event-types';

import lakeTables from '../../infra/lake-tables.json';

/** A column's type in the files; `json` is JSON text (a Parquet string), never one column per property. */
export type ColumnType = 'string' | 'timestamp' | 'json';

export interface Column {
  name: string;
  type: ColumnType;
  /** The event field it holds; empty for `extra`. */
  field: string;
}

const TABLES = lakeTables.tables as Record<EventType, { name: string; columns: Column[] }>;

/** Table names as Segment's warehouses name them. */
export const LAKE_TABLES = byType((type) => TABLES[type].name);

/** Every other top-level field of the event, as one JSON object under its own names (`~x` stays `~x`). */
export const EXTRA_COLUMN = 'extra';

/** The columns of each type's files, in order (infra/lake-tables.json). */
export const LAKE_COLUMNS: Record<EventType, readonly Column[]> = byType((type) => TABLES[type].columns);

function byType<T>(value: (type: EventType) => T): Record<EventType, T> {
  const entries = EVENT_TYPES.map((type) => [type, value(type)] as const);
  return Object.fromEntries(entries) as Record<EventType, T>;
}

/** The partition columns, in path order. */
export const PARTITION_COLUMNS = ['source_id', 'dt'] as const;

/** Where Athena writes query results in the bucket (kept one day: they are copies of lake rows). */
export const ATHENA_RESULTS_PREFIX = 'athena-results/';

/**
 * The schedule of the compaction job (infra/lake.ts); an erasure reaches the files within
 * `ERASURE_SETTLE_MS` (compact.ts) plus this.
 */
export const COMPACTION_SCHEDULE = 'rate(1 hour)';

export interface Partition {
  type: EventType;
  sourceId: string;
  /** UTC day, YYYY-MM-DD. */
  day: string;
}

/** Source ids are free text: the path holds them percent-encoded, as Hive and Athena read partition values. */
export function partitionPrefix(partition: Partition): string {
  return `${LAKE_TABLES[partition.type]}/source_id=${encodeURIComponent(partition.sourceId)}/dt=${partition.day}/`;
}

const TYPE_OF_TABLE = new Map<string, EventType>(EVENT_TYPES.map((type) => [LAKE_TABLES[type], type]));
const OBJECT_KEY = /^([a-z]+)\/source_id=([^/]*)\/dt=(\d{4}-\d{2}-\d{2})\/[^/]+\.parquet$/;

/** The partition of a lake object's key; undefined for any other object in the bucket. */
export function parseObjectKey(key: string): Partition | undefined {
  const match = OBJECT_KEY.exec(key);
  const type = match ? TYPE_OF_TABLE.get(match[1] ?? '') : undefined;
  if (!match || !type) return undefined;
  return { type, sourceId: decodeURIComponent(match[2] ?? ''), day: match[3] ?? '' };
}
