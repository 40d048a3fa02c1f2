/**
 * Typed views from the observed schemas (lib/worker/schemas/): one view per event key of a source,
 * with a column per scalar property path, `try_cast` of the JSON value, so
 * `SELECT revenue FROM shop_web_order_completed` needs no schema migration. The same SQL runs in
 * Athena and in the local DuckDB (json_extract_scalar is shimmed there, cli/lake/duckdb.ts).
 */
import type { ObservedEvent, ObservedPath } from '../../lib/tables/schemas';
import { isEventType } from '../../lib/spec/event-types';
import { LAKE_TABLES } from '../../lib/lake/layout';

export interface LakeView {
  name: string;
  sql: string;
  /** Paths left out: arrays, nested under arrays, or names a JSON path cannot spell plainly. */
  skipped: string[];
}

const ROOT: Record<string, string> = { track: 'properties', page: 'properties', screen: 'properties', identify: 'traits', group: 'traits' };
const NAME_FIELD: Record<string, string> = { track: 'event', page: 'name', screen: 'name' };
const PLAIN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENVELOPE = ['message_id', 'source_id', 'user_id', 'anonymous_id', 'timestamp', 'received_at', 'dt'];

/** `orderId` -> `order_id`, `Order Completed` -> `order_completed`. */
const snake = (text: string) =>
  text
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** The view of one observed event key; undefined for a type without properties or traits (alias). */
export function eventView(
  sourceId: string,
  event: Pick<ObservedEvent, 'type' | 'event'>,
  paths: readonly ObservedPath[],
): LakeView | undefined {
  const root = ROOT[event.type];
  if (!root || !isEventType(event.type)) return undefined;
  const columns: string[] = [];
  const names = new Set(ENVELOPE);
  const skipped: string[] = [];
  for (const path of paths) {
    if (!path.path.startsWith(`${root}.`)) continue;
    const steps = path.path.slice(root.length + 1).split('.');
    const types = new Set(path.types.map((t) => t.type));
    if (!steps.every((step) => PLAIN.test(step)) || types.has('array') || types.has('object')) {
      skipped.push(path.path);
      continue;
    }
    const name = snake(steps.join('_'));
    if (names.has(name)) {
      skipped.push(path.path);
      continue;
    }
    names.add(name);
    const type = [...types].every((t) => t === 'number') ? 'DOUBLE' : [...types].every((t) => t === 'boolean') ? 'BOOLEAN' : 'VARCHAR';
    columns.push(`try_cast(json_extract_scalar(${root}, ${quote(`$.${steps.join('.')}`)}) AS ${type}) AS ${name}`);
  }
  const nameField = NAME_FIELD[event.type];
  const where = [
    `source_id = ${quote(sourceId)}`,
    ...(nameField && event.event !== event.type ? [`${nameField} = ${quote(event.event)}`] : []),
  ];
  const name = snake(`${sourceId}_${event.event === event.type ? LAKE_TABLES[event.type] : event.event}`);
  const sql = `CREATE OR REPLACE VIEW ${name} AS SELECT ${[...ENVELOPE, ...columns].join(', ')} FROM ${LAKE_TABLES[event.type]} WHERE ${where.join(' AND ')}`;
  return { name, sql, skipped };
}
