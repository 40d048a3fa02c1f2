/**
 * A source's tracking plan as the CLI manages it (`segment-ingest plan set|show|remove`): checked
 * and compiled before it is stored, so a plan that does not compile is refused here and never
 * reaches the ingest function; stored as attributes of the source's record (lib/tables/sources.ts),
 * which the ingest function reads and caches anyway.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SourceRecord } from '../tables/sources';
import { compilePlan, PlanCompileError } from '../spec/plan-compiler';
import { MAX_PLAN_BYTES, readPlanDocument, type PlanDocument } from '../spec/tracking-plan';
import { SourceAdminError } from './sources';

export interface TrackingPlanDeps {
  documents: DynamoDBDocumentClient;
  tables: { sources: string };
  now?: () => Date;
}

/** A plan that cannot be stored: every problem, each naming where it is. */
export class TrackingPlanError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'TrackingPlanError';
  }
}

export interface PreparedPlan {
  plan: PlanDocument;
  /** The text stored (compact JSON) and its version (a hash of it). */
  text: string;
  version: string;
  /** What Ajv's strict mode noticed (unknown keywords, ...): stored anyway, shown to the operator. */
  warnings: string[];
}

/** Checks a plan file's text and compiles every schema in it; throws `TrackingPlanError` listing what is wrong. */
export function preparePlan(source: string): PreparedPlan {
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    throw new TrackingPlanError([`the plan is not JSON: ${(error as Error).message}`]);
  }
  const read = readPlanDocument(value);
  if ('problems' in read) throw new TrackingPlanError(read.problems);
  const warnings: string[] = [];
  try {
    compilePlan(read.plan, { strict: 'log', eager: true, warn: (message) => warnings.push(message) });
  } catch (error) {
    if (error instanceof PlanCompileError) throw new TrackingPlanError(error.problems);
    throw error;
  }
  const text = JSON.stringify(read.plan);
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_PLAN_BYTES) throw new TrackingPlanError([`the plan is ${bytes} bytes as compact JSON; at most ${MAX_PLAN_BYTES}`]);
  return { plan: read.plan, text, version: createHash('sha256').update(text).digest('hex').slice(0, 16), warnings: [...new Set(warnings)] };
}

export interface StoredPlan {
  plan: PlanDocument;
  version: string;
  setAt: string | undefined;
}

/** Stores `prepared` as the plan of an existing source; it takes effect within `KEY_CACHE_SECONDS`. */
export async function setTrackingPlan(deps: TrackingPlanDeps, sourceId: string, prepared: PreparedPlan): Promise<StoredPlan> {
  const setAt = (deps.now ? deps.now() : new Date()).toISOString();
  try {
    await deps.documents.send(
      new UpdateCommand({
        TableName: deps.tables.sources,
        Key: { sourceId },
        UpdateExpression: 'SET trackingPlan = :text, trackingPlanVersion = :version, trackingPlanSetAt = :setAt',
        ConditionExpression: 'attribute_exists(sourceId)',
        ExpressionAttributeValues: { ':text': prepared.text, ':version': prepared.version, ':setAt': setAt },
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) throw new SourceAdminError(`source "${sourceId}" does not exist`);
    throw error;
  }
  return { plan: prepared.plan, version: prepared.version, setAt };
}

/** The plan of an existing source; `undefined` when it has none. */
export async function getTrackingPlan(deps: TrackingPlanDeps, sourceId: string): Promise<StoredPlan | undefined> {
  const { Item } = await deps.documents.send(new GetCommand({ TableName: deps.tables.sources, Key: { sourceId }, ConsistentRead: true }));
  if (!Item) throw new SourceAdminError(`source "${sourceId}" does not exist`);
  const source = Item as SourceRecord;
  if (source.trackingPlan === undefined) return undefined;
  return {
    plan: JSON.parse(source.trackingPlan) as PlanDocument,
    version: source.trackingPlanVersion ?? '',
    setAt: source.trackingPlanSetAt,
  };
}

/** Removes the plan of an existing source; false when it had none. */
export async function removeTrackingPlan(deps: TrackingPlanDeps, sourceId: string): Promise<boolean> {
  try {
    const { Attributes } = await deps.documents.send(
      new UpdateCommand({
        TableName: deps.tables.sources,
        Key: { sourceId },
        UpdateExpression: 'REMOVE trackingPlan, trackingPlanVersion, trackingPlanSetAt',
        ConditionExpression: 'attribute_exists(sourceId)',
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    return Attributes?.trackingPlan !== undefined;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) throw new SourceAdminError(`source "${sourceId}" does not exist`);
    throw error;
  }
}
