/**
 * The `schemas` table as the worker writes it (lib/worker/schemas/) and the CLI reads it
 * (cli/schemas/): the observed shape of every event key of a source, and nothing of its values.
 *
 * - `pk = <sourceId>`, `sk = "source"`: the source's counters (event keys recorded, keys refused
 *   by the cap).
 * - `pk = <sourceId>`, `sk = "event#<type>#<event key>"`: one summary per event key (first and
 *   last seen, approximate count, paths recorded, paths refused by the cap).
 * - `pk = "<sourceId>#<type>#<event key>"`, `sk = "path#<path>"`: one item per property path, with
 *   the receive time each JSON type was first seen at (`t_<type>`) and when the path was last seen.
 *
 * Source ids never contain `#` (lib/admin/sources.ts), so a partition key names its event key
 * unambiguously. Event keys and paths are bounded here and in lib/spec/property-paths.ts, so no
 * key can reach DynamoDB's limits (2,048 bytes partition, 1,024 bytes sort).
 */
import { createHash } from 'node:crypto';

/** The JSON types a path can have, as JSON Schema names them (`integer`: a number without a fraction). */
export const JSON_TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'] as const;
export type JsonType = (typeof JSON_TYPES)[number];

/** One bit per type, for sets of types held as a number. */
export const TYPE_BITS: Readonly<Record<JsonType, number>> = {
  string: 1,
  number: 2,
  integer: 4,
  boolean: 8,
  object: 16,
  array: 32,
  null: 64,
};

/** The types of a set of `TYPE_BITS`, in `JSON_TYPES` order. */
export function typesOfMask(mask: number): JsonType[] {
  return JSON_TYPES.filter((type) => (mask & TYPE_BITS[type]) !== 0);
}

/**
 * The bounds of what is learned. A sender that puts ids in property names or event names reaches
 * a cap instead of growing the table; what a cap refuses is counted and reported, never dropped
 * silently.
 */
export const SCHEMA_LIMITS = {
  /** Event keys recorded per source. */
  eventKeysPerSource: 1000,
  /** Paths recorded per event key. */
  pathsPerEventKey: 300,
  /** Segments of a path (`properties.items[].sku` has 4); deeper values are not walked. */
  pathDepth: 12,
  /** UTF-16 units of a path: at most 900 bytes of UTF-8 in a sort key of 1,024. */
  pathChars: 300,
  /** UTF-16 units of one property name; a longer one is shortened with a hash (`shortenName`). */
  nameChars: 100,
  /** UTF-16 units of an event key; a longer one is shortened with a hash. */
  eventKeyChars: 200,
} as const;

/**
 * How often the worker refreshes what it has written: an event key's count and last-seen at most
 * once a minute per function instance, a path's last-seen at most once an hour.
 */
export const SUMMARY_REFRESH_MS = 60_000;
export const PATH_REFRESH_MS = 3_600_000;

export const SOURCE_SORT_KEY = 'source';

export function summaryKey(sourceId: string, type: string, eventKey: string): { pk: string; sk: string } {
  return { pk: sourceId, sk: `event#${type}#${eventKey}` };
}

export function pathsPartition(sourceId: string, type: string, eventKey: string): string {
  return `${sourceId}#${type}#${eventKey}`;
}

export function pathKey(sourceId: string, type: string, eventKey: string, path: string): { pk: string; sk: string } {
  return { pk: pathsPartition(sourceId, type, eventKey), sk: `path#${path}` };
}

/** The attribute of a path item holding when `type` was first seen there. */
export function typeAttribute(type: JsonType): string {
  return `t_${type}`;
}

export interface SourceSchemaItem {
  pk: string;
  sk: typeof SOURCE_SORT_KEY;
  sourceId: string;
  /** Event keys reserved by summaries (the cap counts these). */
  eventKeys?: number;
  /** Approximate number of distinct event keys not recorded because of the cap. */
  cappedEventKeys?: number;
}

export interface EventSummaryItem {
  pk: string;
  sk: string;
  sourceId: string;
  eventType: string;
  eventKey: string;
  /** ISO-8601 receive times. */
  firstSeen: string;
  lastSeen: string;
  /** Approximate: added up per function instance and written at most once a minute. */
  count?: number;
  /** Paths recorded (reserved against the cap). */
  pathCount?: number;
  /** Approximate number of distinct paths not recorded: over the cap, too deep or too long. */
  cappedPaths?: number;
}

export interface PathItem {
  pk: string;
  sk: string;
  path: string;
  firstSeen: string;
  lastSeen: string;
  [typeAttribute: `t_${string}`]: string | undefined;
}

/** The types of a path item with the time each was first seen, in the order they were (`JSON_TYPES` order for ties). */
export function pathTypes(item: Record<string, unknown>): Array<{ type: JsonType; firstSeen: string }> {
  const types: Array<{ type: JsonType; firstSeen: string }> = [];
  for (const type of JSON_TYPES) {
    const firstSeen = item[typeAttribute(type)];
    if (typeof firstSeen === 'string') types.push({ type, firstSeen });
  }
  // A stable sort: types first seen together keep JSON_TYPES order.
  return types.sort((a, b) => (a.firstSeen < b.firstSeen ? -1 : a.firstSeen > b.firstSeen ? 1 : 0));
}

/** Marks a name shortened by `shortenName`: `…#` and 12 hex digits of its SHA-256. */
export const SHORTENED = /…#[0-9a-f]{12}$/;

/**
 * `text` when it has at most `max` UTF-16 units; else its first part, `…#` and 12 hex digits of
 * the SHA-256 of the whole, so two long names stay apart and the result fits any key.
 */
export function shortenName(text: string, max: number): string {
  if (text.length <= max) return text;
  const hash = createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 12);
  let end = Math.max(1, max - 14);
  // Never half of a surrogate pair: DynamoDB would store a replacement character.
  if (/[\uD800-\uDBFF]/.test(text.charAt(end - 1))) end--;
  return `${text.slice(0, end)}…#${hash}`;
}
