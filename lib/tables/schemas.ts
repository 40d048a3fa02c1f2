/**
 * The `schemas` table as the worker writes it (lib/worker/schemas/) and the CLI reads it
 * (`segment-ingest schemas`, `lake`): the observed shape of every event key of a source, and
 * nothing of its values. Its layout is described in docs/data-model.md#observed-schemas-schemas;
 * paths and event keys are bounded by the Spec (lib/spec/property-paths.ts, event-keys.ts).
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EVENT_KEY_CHARS } from '../spec/event-keys';
import { JSON_TYPES, PATH_LIMITS, type JsonType } from '../spec/property-paths';
import { queryAll } from './query';

/**
 * The bounds of what is learned. A sender that puts ids in property names or event names reaches
 * a cap instead of growing the table; what a cap refuses is counted and reported, never dropped
 * silently. The bounds of one path and one event key are the Spec's (lib/spec/property-paths.ts
 * `PATH_LIMITS`, lib/spec/event-keys.ts `EVENT_KEY_CHARS`).
 */
export const SCHEMA_LIMITS = {
  /** Event keys recorded per source. */
  eventKeysPerSource: 1000,
  /** Paths recorded per event key. */
  pathsPerEventKey: 300,
  ...PATH_LIMITS,
  /** UTF-16 units of an event key; a longer one is shortened with a hash. */
  eventKeyChars: EVENT_KEY_CHARS,
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

/*
 * The CLI's reads (`segment-ingest schemas`, `lake`): Queries, never a scan; outside the functions' door (lib/shared/aws-call.ts), like lib/admin/.
 */

export interface ObservedEvent {
  type: string;
  event: string;
  firstSeen: string;
  lastSeen: string;
  /** Approximate (docs/schemas-and-plans.md). */
  count: number;
  paths: number;
  /** Paths not recorded because of the cap (approximate), and whether the cap was reached. */
  cappedPaths: number;
  capped: boolean;
}

export interface ObservedPath {
  path: string;
  types: Array<{ type: JsonType; firstSeen: string }>;
  firstSeen: string;
  lastSeen: string;
}

export interface ObservedSource {
  events: ObservedEvent[];
  /** Event keys not recorded because the source reached its cap (approximate). */
  cappedEventKeys: number;
  eventKeysLimit: number;
}

/** Every event key of `sourceId` with its summary, sorted by event key and type. */
export async function readObservedSource(documents: DynamoDBDocumentClient, table: string, sourceId: string): Promise<ObservedSource> {
  const [summaries, source] = await Promise.all([
    queryAll(documents, {
      TableName: table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :event)',
      ExpressionAttributeValues: { ':pk': sourceId, ':event': 'event#' },
    }),
    documents.send(new GetCommand({ TableName: table, Key: { pk: sourceId, sk: SOURCE_SORT_KEY } })),
  ]);
  const events = (summaries as unknown as EventSummaryItem[]).map(
    (s): ObservedEvent => ({
      type: s.eventType,
      event: s.eventKey,
      firstSeen: s.firstSeen,
      lastSeen: s.lastSeen,
      count: Number(s.count ?? 0),
      paths: Number(s.pathCount ?? 0),
      cappedPaths: Number(s.cappedPaths ?? 0),
      capped: Number(s.cappedPaths ?? 0) > 0 || Number(s.pathCount ?? 0) >= SCHEMA_LIMITS.pathsPerEventKey,
    }),
  );
  events.sort((a, b) => (a.event === b.event ? a.type.localeCompare(b.type) : a.event < b.event ? -1 : 1));
  const counters = source.Item as SourceSchemaItem | undefined;
  return { events, cappedEventKeys: Number(counters?.cappedEventKeys ?? 0), eventKeysLimit: SCHEMA_LIMITS.eventKeysPerSource };
}

/** The paths recorded for one event key, sorted by path. */
export async function readObservedPaths(
  documents: DynamoDBDocumentClient,
  table: string,
  sourceId: string,
  event: Pick<ObservedEvent, 'type' | 'event'>,
): Promise<ObservedPath[]> {
  const items = await queryAll(documents, {
    TableName: table,
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': pathsPartition(sourceId, event.type, event.event) },
  });
  return items
    .map((item) => ({
      path: String(item.path),
      types: pathTypes(item),
      firstSeen: String(item.firstSeen),
      lastSeen: String(item.lastSeen),
    }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
