/**
 * Compaction and erasure of the lake, copy-on-write: a partition's files are read, the rows of
 * erased users left out, the rest written as one new file, and only then the old files deleted.
 * Readers may see both for the moment between; never neither.
 *
 * - Compaction: every finished day (before today, UTC) whose partition holds more than one file
 *   becomes one file; `day` compacts that day alone, finished or not.
 * - Erasure: a delete's audit record (lib/tables/erasures.ts) is pending for the lake until a sweep
 *   ran `ERASURE_SETTLE_MS` after the erasure completed, so a file the stream wrote late (an event
 *   stored just before the sweep removed it) is swept too. Each sweep rewrites every file of the
 *   source holding the user's rows up to the cut-off, and the audit record keeps the rewritten keys
 *   (`lakeRewrittenFiles`) and the time of the last sweep (`lakeSweptAt`).
 */
import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TableName } from '../../infra';
import type { Log } from '../shared/log';
import { legacyUserHash, userHash } from '../tables/erasures';
import { lakeCall, type LakeCalls } from './calls';
import { partitionPrefix, type Partition } from './layout';
import { listLake, type LakeObject } from './objects';
import { readParquet, writeParquet, type LakeRow } from './rows';

export interface CompactDeps {
  s3: S3Client;
  bucket: string;
  documents: DynamoDBDocumentClient;
  tables: Record<TableName, string>;
  hashKey: string;
  log: Log;
  now(): number;
}

export interface CompactResult {
  partitions: number;
  filesRead: number;
  filesWritten: number;
  rowsErased: number;
  erasuresSwept: number;
  /** Keys of the files replaced, compacted or erased. */
  rewritten: string[];
}

/**
 * Longer than the stream's lag behind the tables in normal operation (seconds), with a wide margin.
 * An erasure reaches the files within this plus `COMPACTION_SCHEDULE` (layout.ts).
 */
export const ERASURE_SETTLE_MS = 15 * 60 * 1000;

/** One compaction run: its dependencies and its calls' deadline and count. */
interface Run {
  deps: CompactDeps;
  calls: LakeCalls | undefined;
}

export interface PendingErasure {
  pk: string;
  sk: string;
  sourceId: string;
  hashes: ReadonlySet<string>;
  cutoff: string;
  completedAt: string;
}

/**
 * Compacts and erases now; see the module comment. `day` is YYYY-MM-DD; `calls`, the invocation's
 * deadline and request count (calls.ts).
 */
export async function compactLake(deps: CompactDeps, options: { day?: string; calls?: LakeCalls } = {}): Promise<CompactResult> {
  const started = new Date(deps.now()).toISOString();
  const today = started.slice(0, 10);
  const { calls } = options;
  const [objects, erasures] = await Promise.all([listLake(deps.s3, deps.bucket, undefined, calls), pendingErasures(deps, calls)]);
  const result: CompactResult = {
    partitions: 0,
    filesRead: 0,
    filesWritten: 0,
    rowsErased: 0,
    erasuresSwept: erasures.length,
    rewritten: [],
  };
  const byErasure = new Map<PendingErasure, string[]>(erasures.map((erasure) => [erasure, []]));
  for (const files of groupByPartition(objects).values()) {
    const partition = files[0]?.partition;
    if (!partition) continue;
    const merge = (options.day === undefined ? partition.day < today : partition.day === options.day) && files.length > 1;
    const erasing = erasures.filter((erasure) => erasure.sourceId === partition.sourceId);
    if (!merge && erasing.length === 0) continue;
    const rewrite = await rewritePartition({ deps, calls }, partition, files, erasing, merge);
    result.filesRead += files.length;
    if (!rewrite) continue;
    result.partitions++;
    result.filesWritten += rewrite.written ? 1 : 0;
    result.rowsErased += rewrite.erased.size === 0 ? 0 : [...rewrite.erased.values()].reduce((sum, n) => sum + n, 0);
    result.rewritten.push(...files.map((file) => file.key));
    for (const erasure of rewrite.erased.keys()) byErasure.get(erasure)?.push(...files.map((file) => file.key));
  }
  for (const [erasure, keys] of byErasure) await recordSweep({ deps, calls }, erasure, keys, started);
  return result;
}

/** Rewrites one partition as one file without the erased rows; undefined when nothing would change. */
async function rewritePartition(
  { deps, calls }: Run,
  partition: Partition,
  files: readonly LakeObject[],
  erasures: readonly PendingErasure[],
  merge: boolean,
): Promise<{ written: boolean; erased: Map<PendingErasure, number> } | undefined> {
  const rows: LakeRow[] = [];
  for (const file of files) rows.push(...(await readParquet(await readObject({ deps, calls }, file.key))));
  const erased = new Map<PendingErasure, number>();
  const hashes = new Map<string, [string, string]>();
  const kept = rows.filter((row) => {
    const erasure = erasures.find((candidate) => covers(candidate, row, deps.hashKey, hashes));
    if (erasure) erased.set(erasure, (erased.get(erasure) ?? 0) + 1);
    return !erasure;
  });
  if (erased.size === 0 && !merge) return undefined;
  const written = kept.length > 0;
  if (written) {
    const key = `${partitionPrefix(partition)}part-c${deps.now()}-${randomBytes(4).toString('hex')}.parquet`;
    const body = writeParquet(partition.type, kept);
    const command = new PutObjectCommand({ Bucket: deps.bucket, Key: key, Body: body, ContentType: 'application/vnd.apache.parquet' });
    await lakeCall('S3', calls, (abortSignal) => deps.s3.send(command, { abortSignal }));
  }
  // Only after the new file exists: a failure here leaves duplicates for the next run, never a loss.
  await Promise.all(
    files.map((file) => {
      const command = new DeleteObjectCommand({ Bucket: deps.bucket, Key: file.key });
      return lakeCall('S3', calls, (abortSignal) => deps.s3.send(command, { abortSignal }));
    }),
  );
  return { written, erased };
}

/** True when `erasure` covers `row`: the same user (by keyed or legacy hash) and a timestamp at or before the cut-off. */
function covers(erasure: PendingErasure, row: LakeRow, hashKey: string, cache: Map<string, [string, string]>): boolean {
  const userId = row.user_id;
  if (typeof userId !== 'string') return false;
  let pair = cache.get(userId);
  if (!pair) {
    pair = [userHash(userId, hashKey), legacyUserHash(userId)];
    cache.set(userId, pair);
  }
  if (!erasure.hashes.has(pair[0]) && !erasure.hashes.has(pair[1])) return false;
  const timestamp = row.timestamp;
  return !(timestamp instanceof Date) || timestamp.toISOString() <= erasure.cutoff;
}

function groupByPartition(objects: readonly LakeObject[]): Map<string, LakeObject[]> {
  const groups = new Map<string, LakeObject[]>();
  for (const object of objects) {
    const prefix = partitionPrefix(object.partition);
    groups.set(prefix, [...(groups.get(prefix) ?? []), object]);
  }
  return groups;
}

/** Reads an object whole, its body's transfer within the call's time limit too. */
async function readObject({ deps, calls }: Run, key: string): Promise<Uint8Array> {
  const command = new GetObjectCommand({ Bucket: deps.bucket, Key: key });
  return lakeCall('S3', calls, async (abortSignal) => {
    const { Body } = await deps.s3.send(command, { abortSignal });
    if (!Body) throw new Error(`s3://${deps.bucket}/${key} has no body`);
    return Body.transformToByteArray();
  });
}

/** Completed erasures whose last lake sweep (if any) ran before they settled. */
export async function pendingErasures(deps: Pick<CompactDeps, 'documents' | 'tables'>, calls?: LakeCalls): Promise<PendingErasure[]> {
  const pending: PendingErasure[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const command = new ScanCommand({
      TableName: deps.tables.erasures,
      FilterExpression: 'begins_with(pk, :audit) AND attribute_exists(completedAt)',
      ExpressionAttributeValues: { ':audit': 'audit#' },
      ExclusiveStartKey: start,
      ConsistentRead: true,
    });
    const page = await lakeCall('DynamoDB', calls, (abortSignal) => deps.documents.send(command, { abortSignal }));
    for (const item of page.Items ?? []) {
      const completedAt = String(item.completedAt);
      const swept = typeof item.lakeSweptAt === 'string' ? Date.parse(item.lakeSweptAt) : 0;
      if (swept >= Date.parse(completedAt) + ERASURE_SETTLE_MS) continue;
      pending.push({
        pk: String(item.pk),
        sk: String(item.sk),
        sourceId: String(item.sourceId),
        hashes: new Set([String(item.userHash)]),
        cutoff: String(item.cutoff),
        completedAt,
      });
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return pending;
}

async function recordSweep({ deps, calls }: Run, erasure: PendingErasure, keys: string[], sweptAt: string): Promise<void> {
  const add = keys.length > 0 ? ' ADD lakeRewrittenFiles :files' : '';
  const command = new UpdateCommand({
    TableName: deps.tables.erasures,
    Key: { pk: erasure.pk, sk: erasure.sk },
    UpdateExpression: `SET lakeSweptAt = :at${add}`,
    ExpressionAttributeValues: keys.length > 0 ? { ':at': sweptAt, ':files': new Set(keys) } : { ':at': sweptAt },
  });
  await lakeCall('DynamoDB', calls, (abortSignal) => deps.documents.send(command, { abortSignal }));
}
