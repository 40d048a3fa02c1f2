/**
 * The requests of schema learning (the layout is in lib/tables/schemas.ts). Every write is
 * a conditional or idempotent UpdateItem on a small item, so a retry, a redelivery or two
 * instances recording the same signature at once never count twice or lose a type. Caps are
 * reservations: a counter is raised conditionally before an item is created, and lowered again
 * when the item turns out to exist already.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { awsCall } from '../../shared/aws-call';
import { pathKey, pathsPartition, SOURCE_SORT_KEY, summaryKey, typeAttribute } from '../../tables/schemas';
import { typesOfMask, TYPE_BITS, JSON_TYPES } from '../../spec/property-paths';
import type { EventState, PathState } from './state';

export interface StoreContext {
  documents: DynamoDBDocumentClient;
  table: string;
  now: () => number;
  /** Epoch ms: no request starts after it, and none runs past it. */
  deadline: number;
  /** Requests sent, for the log line and the tests. */
  requests: number;
}

type Command = UpdateCommand | QueryCommand | GetCommand;

/** Sends `command` within the deadline; `conditional` when its condition failed. */
async function send<T>(ctx: StoreContext, command: Command): Promise<T | 'conditional'> {
  const call = { service: 'DynamoDB' as const, deadline: ctx.deadline, clock: { now: ctx.now }, counter: ctx, abortable: true };
  try {
    return (await awsCall(call, (abortSignal) => ctx.documents.send(command as never, { abortSignal }))) as T;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return 'conditional';
    throw error;
  }
}

export interface StoredEvent {
  exists: boolean;
  pathCount: number;
  lastSeen: string;
  paths: Map<string, PathState>;
}

/** Reads an event key's summary and every path recorded for it (eventually consistent: a miss only costs a conditional write). */
export async function readEvent(ctx: StoreContext, state: EventState): Promise<StoredEvent> {
  const [found, paths] = await Promise.all([
    send<{ Item?: Record<string, unknown> }>(
      ctx,
      new GetCommand({ TableName: ctx.table, Key: summaryKey(state.sourceId, state.type, state.key) }),
    ),
    readPaths(ctx, state),
  ]);
  const item = found === 'conditional' ? undefined : found.Item;
  return {
    exists: item !== undefined,
    pathCount: Number(item?.pathCount ?? paths.size),
    lastSeen: String(item?.lastSeen ?? ''),
    paths,
  };
}

async function readPaths(ctx: StoreContext, state: EventState): Promise<Map<string, PathState>> {
  const paths = new Map<string, PathState>();
  const items = await queryAll(ctx, {
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': pathsPartition(state.sourceId, state.type, state.key) },
  });
  for (const item of items) {
    let mask = 0;
    for (const type of JSON_TYPES) if (typeof item[typeAttribute(type)] === 'string') mask |= TYPE_BITS[type];
    paths.set(String(item.path), { mask, lastSeenMs: Date.parse(String(item.lastSeen)) || 0 });
  }
  return paths;
}

/** The source's event keys (`<type>#<key>`), read once it reached its cap. */
export async function readEventKeys(ctx: StoreContext, sourceId: string): Promise<Set<string>> {
  const items = await queryAll(ctx, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :event)',
    ExpressionAttributeValues: { ':pk': sourceId, ':event': 'event#' },
    ProjectionExpression: 'sk',
  });
  return new Set(items.map((item) => String(item.sk).slice('event#'.length)));
}

/** Every item a Query of the schemas table finds, page after page. */
async function queryAll(
  ctx: StoreContext,
  input: Pick<QueryCommandInput, 'KeyConditionExpression' | 'ExpressionAttributeValues' | 'ProjectionExpression'>,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await send<{ Items?: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> }>(
      ctx,
      new QueryCommand({ TableName: ctx.table, ...input, ExclusiveStartKey: start }),
    );
    if (page === 'conditional') break;
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Raises a counter by `by` if it stays at most `max` (`by` < 0 releases); false when the cap refused it. */
export async function reserve(
  ctx: StoreContext,
  key: { pk: string; sk: string },
  counter: string,
  by: number,
  max: number,
): Promise<boolean> {
  const result = await send(
    ctx,
    new UpdateCommand({
      TableName: ctx.table,
      Key: key,
      UpdateExpression: 'ADD #counter :by',
      ...(by > 0
        ? {
            ConditionExpression: 'attribute_not_exists(#counter) OR #counter <= :limit',
            ExpressionAttributeValues: { ':by': by, ':limit': max - by },
          }
        : { ExpressionAttributeValues: { ':by': by } }),
      ExpressionAttributeNames: { '#counter': counter },
    }),
  );
  return result !== 'conditional';
}

export const sourceKey = (sourceId: string) => ({ pk: sourceId, sk: SOURCE_SORT_KEY });

/** Creates the summary of a new event key with what this batch counted; false when it exists already. */
export async function createSummary(ctx: StoreContext, state: EventState, count: number, seen: string): Promise<boolean> {
  const result = await send(
    ctx,
    new UpdateCommand({
      TableName: ctx.table,
      Key: summaryKey(state.sourceId, state.type, state.key),
      UpdateExpression:
        'SET sourceId = :source, eventType = :type, eventKey = :key, firstSeen = :seen, lastSeen = :seen, #count = :count, pathCount = :zero',
      ConditionExpression: 'attribute_not_exists(pk)',
      ExpressionAttributeNames: { '#count': 'count' },
      ExpressionAttributeValues: {
        ':source': state.sourceId,
        ':type': state.type,
        ':key': state.key,
        ':seen': seen,
        ':count': count,
        ':zero': 0,
      },
    }),
  );
  return result !== 'conditional';
}

/** Adds to an event key's count and capped paths, and moves its last-seen. */
export async function updateSummary(ctx: StoreContext, state: EventState, count: number, capped: number, seen: string): Promise<void> {
  await send(
    ctx,
    new UpdateCommand({
      TableName: ctx.table,
      Key: summaryKey(state.sourceId, state.type, state.key),
      UpdateExpression: `SET lastSeen = :seen ADD #count :count${capped > 0 ? ', cappedPaths :capped' : ''}`,
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#count': 'count' },
      ExpressionAttributeValues: { ':seen': seen, ':count': count, ...(capped > 0 ? { ':capped': capped } : {}) },
    }),
  );
}

/** Counts event keys the source's cap refused. */
export async function addCappedKeys(ctx: StoreContext, sourceId: string, capped: number): Promise<void> {
  await send(
    ctx,
    new UpdateCommand({
      TableName: ctx.table,
      Key: sourceKey(sourceId),
      UpdateExpression: 'SET sourceId = :source ADD cappedEventKeys :capped',
      ExpressionAttributeValues: { ':source': sourceId, ':capped': capped },
    }),
  );
}

/**
 * Records `mask`'s types for a path, with `seen` as the first sighting of each type not recorded
 * yet and as the path's last sighting. `create`: the path is new (a slot was reserved for it), and
 * false comes back when it exists already; otherwise it must exist (false when it does not).
 */
export async function recordPath(
  ctx: StoreContext,
  state: EventState,
  path: string,
  mask: number,
  seen: string,
  create: boolean,
): Promise<boolean> {
  const names: Record<string, string> = create ? { '#path': 'path' } : {};
  const sets = ['lastSeen = :seen'];
  typesOfMask(mask).forEach((type, i) => {
    names[`#t${i}`] = typeAttribute(type);
    sets.push(create ? `#t${i} = :seen` : `#t${i} = if_not_exists(#t${i}, :seen)`);
  });
  if (create) sets.push('#path = :path', 'firstSeen = :seen');
  const result = await send(
    ctx,
    new UpdateCommand({
      TableName: ctx.table,
      Key: pathKey(state.sourceId, state.type, state.key, path),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: create ? 'attribute_not_exists(pk)' : 'attribute_exists(pk)',
      ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
      ExpressionAttributeValues: create ? { ':seen': seen, ':path': path } : { ':seen': seen },
    }),
  );
  return result !== 'conditional';
}
