/** Reading the observed schemas of a source (the layout is lib/tables/schemas.ts): Queries, never a scan. */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  pathsPartition,
  pathTypes,
  SCHEMA_LIMITS,
  SOURCE_SORT_KEY,
  type EventSummaryItem,
  type JsonType,
  type SourceSchemaItem,
} from '../../lib/tables/schemas';
import { queryAll } from '../core/query';

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
