/**
 * What the `erasures` table records about one user of one source (lib/worker/erasure.ts): the
 * tombstone (the erasure's cut-off) and one audit record per delete request, with the items each
 * erased per table and whether its sweep finished. Read by key: a GetItem for the tombstone and a
 * Query of the source's audit partition filtered by the user's hash; no table is scanned.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EVENT_TYPES, type EventType } from '../../lib/spec/event-types';
import { AUDIT_PROFILE_COUNTS, auditTableCount, legacyUserHash, userHash } from '../../lib/worker/erasure';
import type { ProfileErasure } from '../../lib/tables/profiles';
import { queryAll } from '../core/query';

export interface ErasureRequest {
  /** When the service received the delete. */
  receivedAt: string;
  /** The delete's own `timestamp`. */
  requestedAt: string;
  cutoff: string;
  messageId: string;
  requestId: string;
  /** Worker runs of this delete (more than one when a sweep had to be continued). */
  runs: number;
  lastRunAt: string | undefined;
  /** Set by the run that finished the sweep; absent while the worker still has items to delete. */
  completedAt: string | undefined;
  erasedItems: number;
  erasedPerTable: Record<EventType, number>;
  /** What the delete removed from the profiles table (lib/worker/profiles/erase.ts; the type in lib/tables/profiles.ts); not in `erasedItems`. */
  erasedProfiles: ProfileErasure;
}

export interface ErasureStatus {
  sourceId: string;
  userId: string;
  userHash: string;
  erased: boolean;
  tombstone: { cutoff: string; updatedAt: string | undefined } | undefined;
  /** Oldest first. */
  requests: ErasureRequest[];
  totals: { erasedItems: number; perTable: Record<EventType, number>; profiles: ProfileErasure };
  /** True when every delete request of the user has a finished sweep. */
  sweepComplete: boolean;
}

type Item = Record<string, unknown>;

/**
 * The names the erasures table may know a user by: the worker's keyed `userHash` (with the stage's
 * secret), and the unkeyed hash of records written before it. The one place the CLI hashes users,
 * so a change of the hash in lib/worker/erasure.ts changes what is looked up here.
 */
export function erasureUserHashes(userId: string, hashKey: string): [keyed: string, legacy: string] {
  return [userHash(userId, hashKey), legacyUserHash(userId)];
}

/** Reads the user's tombstone and audit records, under either name. */
export async function lookupErasure(
  documents: DynamoDBDocumentClient,
  table: string,
  sourceId: string,
  userId: string,
  hashKey: string,
): Promise<ErasureStatus> {
  const hashes = erasureUserHashes(userId, hashKey);
  // Key layouts of lib/worker/erasure.ts (`tombstoneKey`, `recordAudit`); tests/integration/cli-erasures.test.ts reads what the worker wrote.
  const tombstones = await Promise.all(
    hashes.map(async (hash) => {
      const key = { pk: `user#${sourceId}#${hash}`, sk: 'tombstone' };
      return (await documents.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
    }),
  );
  const audits = await queryAll(documents, {
    TableName: table,
    KeyConditionExpression: 'pk = :pk',
    FilterExpression: 'userHash IN (:h, :legacy)',
    ExpressionAttributeValues: { ':pk': `audit#${sourceId}`, ':h': hashes[0], ':legacy': hashes[1] },
    ConsistentRead: true,
  });
  const requests = audits.map((item) => auditEntry(item));
  const tombstone = tombstones.find((item) => item !== undefined);
  return summarize(sourceId, userId, hashes[0], tombstone, requests);
}

function summarize(sourceId: string, userId: string, hash: string, tombstone: Item | undefined, requests: ErasureRequest[]): ErasureStatus {
  const perTable = Object.fromEntries(EVENT_TYPES.map((type) => [type, 0])) as Record<EventType, number>;
  const profiles: ProfileErasure = { profiles: 0, links: 0, memberships: 0 };
  for (const request of requests) {
    for (const type of EVENT_TYPES) perTable[type] += request.erasedPerTable[type];
    for (const name of Object.keys(profiles) as Array<keyof ProfileErasure>) profiles[name] += request.erasedProfiles[name];
  }
  return {
    sourceId,
    userId,
    userHash: hash,
    erased: tombstone !== undefined || requests.length > 0,
    tombstone: tombstone ? { cutoff: String(tombstone.cutoff), updatedAt: optionalText(tombstone.updatedAt) } : undefined,
    requests,
    totals: { erasedItems: requests.reduce((sum, request) => sum + request.erasedItems, 0), perTable, profiles },
    sweepComplete: requests.length > 0 && requests.every((request) => request.completedAt !== undefined),
  };
}

function auditEntry(item: Item): ErasureRequest {
  return {
    receivedAt: String(item.receivedAt ?? ''),
    requestedAt: String(item.requestedAt ?? ''),
    cutoff: String(item.cutoff ?? ''),
    messageId: String(item.messageId ?? ''),
    requestId: String(item.requestId ?? ''),
    runs: Number(item.runs ?? 0),
    lastRunAt: optionalText(item.lastRunAt),
    completedAt: optionalText(item.completedAt),
    erasedItems: Number(item.erasedItems ?? 0),
    erasedPerTable: Object.fromEntries(EVENT_TYPES.map((type) => [type, Number(item[auditTableCount(type)] ?? 0)])) as Record<
      EventType,
      number
    >,
    erasedProfiles: {
      profiles: Number(item[AUDIT_PROFILE_COUNTS.profiles] ?? 0),
      links: Number(item[AUDIT_PROFILE_COUNTS.links] ?? 0),
      memberships: Number(item[AUDIT_PROFILE_COUNTS.memberships] ?? 0),
    },
  };
}

function optionalText(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
