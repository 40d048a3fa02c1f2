/**
 * What the template is generated from: the resource definitions (infra/resources.json, or a test's
 * own), the stage parameters serverless resolves for it, their checks, and the logical ids every
 * part of the template refers to the others by.
 *
 * Logical ids: `<Name>Table`, `<Name>Queue` (PascalCase of the resources.json key), `IngestRole`,
 * `WorkerRole`, `LakeRole`, `AlarmTopic`, `Dashboard`, `<Name>Query` (saved Logs Insights queries);
 * `HttpApi`, `<Function>LambdaFunction` and `<Function>LogGroup` are serverless's own.
 */
import { parseTableOverrides } from '../lib/shared/config';
import { stagePrefix } from './index';

/** A table as resources.json describes it; `kind` is open so a test can add a table of its own. */
export interface TableSpec {
  kind: string;
  partitionKey: string;
  sortKey?: string;
  ttlAttribute?: string;
  stream?: string;
}

export interface QueueSpec {
  description?: string;
  visibilityTimeoutSeconds: number;
  messageRetentionSeconds: number;
  receiveWaitTimeSeconds: number;
  maximumMessageSizeBytes: number;
  deadLetter?: string;
  maxReceiveCount?: number;
}

/** The shape of infra/resources.json. */
export interface Definitions {
  service: string;
  eventTtlAttribute?: string;
  tables: Record<string, TableSpec>;
  queues: Record<string, QueueSpec>;
}

/** The stage parameters and function settings the template needs (serverless.yml `params`). */
export interface Settings {
  stage: string;
  maxReceiveCount: number;
  queueAgeAlarmSeconds: number;
  alarmEmail: string;
  tableDeletionPolicy: string;
  workerTimeout: number;
  workerBatchWindow: number;
  eventRetentionDays?: number;
  tableOverrides?: string;
  quarantineAlarmThreshold?: number;
  ingestLatencyAlarmMs?: number;
  lake?: boolean;
  lakeSources?: string[];
  lakeBytesScannedLimitGb?: number;
}

/** What every part of the template is built from; `prefix` is `segment-ingest-<stage>`. */
export interface Stack {
  definitions: Definitions;
  settings: Settings;
  prefix: string;
}

/** CloudFormation fragments: untyped JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Template = Record<string, any>;

/** What serverless hands a `${file(...)}` function: its variable resolver. */
export interface Resolver {
  resolveVariable: (variable: string) => Promise<unknown>;
  resolveConfigurationProperty: (path: string[]) => Promise<unknown>;
}

/** The queue the ingest function fills and the worker drains. */
export const EVENTS_QUEUE = 'events';

const pascal = (name: string): string =>
  name
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
export const tableId = (name: string): string => `${pascal(name)}Table`;
export const queueId = (name: string): string => `${pascal(name)}Queue`;
export const functionId = (name: string): string => `${pascal(name)}LambdaFunction`;
export const queryId = (name: string): string => `${pascal(name)}Query`;
export const arn = (logicalId: string): Template => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
export const ref = (logicalId: string): Template => ({ Ref: logicalId });

export function stackOf(definitions: Definitions, settings: Settings): Stack {
  return { definitions, settings, prefix: stagePrefix(settings.stage) };
}

/** Physical name, as `resourceName` in infra/index.ts: `segment-ingest-<stage>-<name>`. */
export const physicalName = (stack: Stack, name: string): string => `${stack.prefix}-${name}`;

/** `tableOverrides` (`name=physical,...`), read as lib/shared/config.ts reads TABLE_OVERRIDES. */
export function tableOverridesOf(stack: Pick<Stack, 'definitions' | 'settings'>): {
  overrides: Record<string, string>;
  problems: string[];
} {
  return parseTableOverrides(stack.settings.tableOverrides ?? '', Object.keys(stack.definitions.tables), 'param tableOverrides');
}

/** The maximum batching window of a function's SQS trigger, 0 when it has none. */
async function sqsBatchingWindow(
  resolveConfigurationProperty: Resolver['resolveConfigurationProperty'],
  functionName: string,
): Promise<number> {
  const events = await resolveConfigurationProperty(['functions', functionName, 'events']);
  const trigger = Array.isArray(events)
    ? (events as unknown[]).find((event): event is { sqs?: { maximumBatchingWindow?: unknown } } =>
        Boolean(event && typeof event === 'object' && 'sqs' in event),
      )
    : undefined;
  return Number(trigger?.sqs?.maximumBatchingWindow ?? 0);
}

const text = (value: unknown): string => String(value ?? '').trim();

/** Reads the stage parameters and function settings the template needs from serverless. */
export async function readSettings({ resolveVariable, resolveConfigurationProperty }: Resolver): Promise<Settings> {
  const param = (name: string) => resolveVariable(`param:${name}`);
  return {
    stage: String(await resolveVariable('sls:stage')),
    maxReceiveCount: Number(await param('maxReceiveCount')),
    queueAgeAlarmSeconds: Number(await param('queueAgeAlarmSeconds')),
    alarmEmail: text(await param('alarmEmail')),
    tableDeletionPolicy: String(await param('tableDeletionPolicy')),
    workerTimeout: Number(await resolveConfigurationProperty(['functions', 'worker', 'timeout'])),
    workerBatchWindow: await sqsBatchingWindow(resolveConfigurationProperty, 'worker'),
    eventRetentionDays: Number(text(await param('eventRetentionDays')) || 0),
    tableOverrides: text(await param('tableOverrides')),
    quarantineAlarmThreshold: Number(await param('quarantineAlarmThreshold')),
    ingestLatencyAlarmMs: Number(await param('ingestLatencyAlarmMs')),
    // The lake's (docs/lake.md): `lake` off deploys none of it.
    lake: !['false', '0'].includes(text(await param('lake')).toLowerCase()),
    lakeSources: text(await param('lakeSources'))
      .split(',')
      .map((source) => source.trim())
      .filter(Boolean),
    lakeBytesScannedLimitGb: Number(text(await param('lakeBytesScannedLimitGb')) || 10),
  };
}

/** Throws one error listing every problem with `settings` against `definitions`. */
export function checkSettings(definitions: Definitions, settings: Settings): void {
  const problems: string[] = [];
  const integer = (name: keyof Settings, min: number, max: number) => {
    const value = settings[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`param ${name} must be a whole number from ${min} to ${max}, got "${String(value)}"`);
    }
  };
  integer('maxReceiveCount', 1, 1000);
  integer('queueAgeAlarmSeconds', 60, 1209600);
  // Optional so the tests' settings need not name them.
  if (settings.eventRetentionDays !== undefined) integer('eventRetentionDays', 0, 36500);
  if (settings.quarantineAlarmThreshold !== undefined) integer('quarantineAlarmThreshold', 0, 1e9);
  if (settings.ingestLatencyAlarmMs !== undefined) integer('ingestLatencyAlarmMs', 100, 30000);
  problems.push(...tableOverridesOf({ definitions, settings }).problems);
  if (!['Retain', 'Delete'].includes(settings.tableDeletionPolicy)) {
    problems.push(`param tableDeletionPolicy must be Retain or Delete, got "${settings.tableDeletionPolicy}"`);
  }
  if (settings.alarmEmail !== '' && !/^[^@\s]+@[^@\s]+$/.test(settings.alarmEmail)) {
    problems.push(`param alarmEmail must be an email address or empty, got "${settings.alarmEmail}"`);
  }
  problems.push(...queueProblems(definitions, settings));
  if (problems.length > 0) throw new Error(`segment-ingest deployment settings:\n  ${problems.join('\n  ')}`);
}

function queueProblems(definitions: Definitions, settings: Settings): string[] {
  const problems: string[] = [];
  // AWS's rule for SQS triggers: a visibility timeout under six times the function timeout (plus
  // the batching window) lets SQS hand a batch that is still being written to a second worker.
  const visibility = definitions.queues[EVENTS_QUEUE]?.visibilityTimeoutSeconds ?? 0;
  const needed = 6 * settings.workerTimeout + settings.workerBatchWindow;
  if (!Number.isFinite(needed) || visibility < needed) {
    problems.push(
      `queue "${EVENTS_QUEUE}" visibilityTimeoutSeconds (${visibility}) in infra/resources.json must be at least ` +
        `6 x the worker timeout (${settings.workerTimeout}) + its batching window (${settings.workerBatchWindow}) = ${needed}`,
    );
  }
  for (const [name, queue] of Object.entries(definitions.queues)) {
    if (queue.deadLetter && !definitions.queues[queue.deadLetter]) {
      problems.push(`queue "${name}" in infra/resources.json names an unknown deadLetter "${queue.deadLetter}"`);
    }
  }
  return problems;
}
