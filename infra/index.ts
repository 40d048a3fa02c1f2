/**
 * The one description of the resources this service owns. `serverless.yml` (through
 * `infra/template.ts`), the local stack and the integration tests all read `resources.json`,
 * so a table or queue cannot exist in one place and be missing in another.
 */
import { EVENT_TYPES } from '../lib/spec/event-types';
// Named imports: esbuild keeps only the parts a bundle uses (the functions need no queue settings).
import { eventTtlAttribute, queues, service, tables } from './resources.json';

/**
 * `erasures` holds a tombstone per erased user (the cut-off below which that user's events are
 * never stored again) and an audit record per delete request; see lib/tables/erasures.ts. `schemas`
 * holds the observed shape of each event key, never a value; see lib/tables/schemas.ts.
 * `profiles` holds user, anonymous and group profiles and group memberships; see
 * lib/tables/profiles.ts.
 */
export const TABLE_NAMES = [...EVENT_TYPES, 'rejected', 'sources', 'keys', 'erasures', 'schemas', 'profiles'] as const;
export type TableName = (typeof TABLE_NAMES)[number];

export const QUEUE_NAMES = ['events', 'dead-letter'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export interface TableDefinition {
  kind: 'event' | 'quarantine' | 'control' | 'profile';
  partitionKey: string;
  sortKey?: string;
  ttlAttribute?: string;
  /** The table's DynamoDB stream (the event tables feed the lake, docs/lake.md). */
  stream?: 'NEW_IMAGE';
}

export interface QueueDefinition {
  description: string;
  visibilityTimeoutSeconds: number;
  messageRetentionSeconds: number;
  receiveWaitTimeSeconds: number;
  maximumMessageSizeBytes: number;
  deadLetter?: QueueName;
  maxReceiveCount?: number;
}

export const SERVICE_NAME: string = service;
/**
 * The attribute holding an event item's expiry (epoch seconds) when the stage keeps events for
 * `eventRetentionDays`; DynamoDB TTL on the event tables deletes items past it.
 */
export const EVENT_TTL_ATTRIBUTE: string = eventTtlAttribute;
export const TABLES: Record<TableName, TableDefinition> = tables as Record<TableName, TableDefinition>;
/** The queues, each checked present; marked pure so that a bundle that never reads them carries neither them nor the check. */
export const QUEUES: Record<QueueName, QueueDefinition> = /* @__PURE__ */ checkedQueues(queues as Record<QueueName, QueueDefinition>);

function checkedQueues(definitions: Record<QueueName, QueueDefinition>): Record<QueueName, QueueDefinition> {
  for (const name of QUEUE_NAMES) {
    if (!definitions[name]) throw new Error(`infra/resources.json has no queue "${name}"`);
  }
  return definitions;
}

for (const name of TABLE_NAMES) {
  if (!TABLES[name]) throw new Error(`infra/resources.json has no table "${name}"`);
}

/** `segment-ingest-<stage>`: the stack's name, and the start of every name in it (tables, queues, API, alarms, dashboard). */
export function stagePrefix(stage: string): string {
  return `${SERVICE_NAME}-${stage}`;
}

/** Physical name of a table or queue in a stage: `segment-ingest-<stage>-<name>`. */
export function resourceName(stage: string, name: TableName | QueueName): string {
  return `${stagePrefix(stage)}-${name}`;
}

/** Physical names of every table in a stage, keyed by logical name. */
export function tableNames(stage: string): Record<TableName, string> {
  return Object.fromEntries(TABLE_NAMES.map((name) => [name, resourceName(stage, name)])) as Record<TableName, string>;
}

/**
 * The lake's bucket in a stage: `segment-ingest-<stage>-lake`, and in AWS `-<account id>` after it,
 * since bucket names are global (infra/lake.ts builds it with `${AWS::AccountId}`).
 */
export function lakeBucketName(stage: string, accountId?: string): string {
  return `${stagePrefix(stage)}-lake${accountId ? `-${accountId}` : ''}`;
}
