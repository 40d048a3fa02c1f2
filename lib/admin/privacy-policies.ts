/**
 * A source's privacy policy as the CLI manages it (`segment-ingest sources privacy <id> --set|--remove`):
 * read and compiled before it is stored, so a policy the ingest function could not apply is refused
 * here, naming the rule; stored as attributes of the source's record (lib/tables/sources.ts),
 * which the ingest function reads and caches anyway, so it takes effect within `KEY_CACHE_SECONDS`.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SourceRecord } from '../tables/sources';
import { readPrivacyPolicy, type PrivacyPolicy } from '../spec/privacy-policy';
import { compilePolicy } from '../spec/privacy-rules';
import { SourceAdminError } from './sources';

export interface PrivacyPolicyDeps {
  documents: DynamoDBDocumentClient;
  tables: { sources: string };
  now?: () => Date;
}

/** A policy that cannot be stored: every problem, each naming its rule. */
export class PrivacyPolicyError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'PrivacyPolicyError';
  }
}

export interface PreparedPolicy {
  policy: PrivacyPolicy;
  /** The text stored (compact JSON) and its version (a hash of it). */
  text: string;
  version: string;
}

export interface StoredPolicy {
  policy: PrivacyPolicy;
  version: string;
  setAt: string | undefined;
}

/** Reads and compiles a policy file's text; throws `PrivacyPolicyError` listing what is wrong. */
export function preparePolicy(source: string): PreparedPolicy {
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    throw new PrivacyPolicyError([`the policy is not JSON: ${(error as Error).message}`]);
  }
  const read = readPrivacyPolicy(value);
  if ('problems' in read) throw new PrivacyPolicyError(read.problems);
  // Compiled with a stand-in key: what is checked is that every rule compiles, not the stage's key.
  compilePolicy(read.policy, { version: 1, key: 'a stand-in key for checking' });
  const text = JSON.stringify(read.policy);
  return { policy: read.policy, text, version: createHash('sha256').update(text).digest('hex').slice(0, 16) };
}

/** Stores `prepared` as the policy of an existing source. */
export async function setPrivacyPolicy(deps: PrivacyPolicyDeps, sourceId: string, prepared: PreparedPolicy): Promise<StoredPolicy> {
  const setAt = (deps.now ? deps.now() : new Date()).toISOString();
  await updateSource(deps, sourceId, {
    UpdateExpression: 'SET privacyPolicy = :text, privacyPolicyVersion = :version, privacyPolicySetAt = :setAt',
    ExpressionAttributeValues: { ':text': prepared.text, ':version': prepared.version, ':setAt': setAt },
  });
  return { policy: prepared.policy, version: prepared.version, setAt };
}

/** Removes the policy of an existing source; false when it had none. */
export async function removePrivacyPolicy(deps: PrivacyPolicyDeps, sourceId: string): Promise<boolean> {
  const old = await updateSource(deps, sourceId, {
    UpdateExpression: 'REMOVE privacyPolicy, privacyPolicyVersion, privacyPolicySetAt',
    ReturnValues: 'UPDATED_OLD',
  });
  return old?.privacyPolicy !== undefined;
}

/** The policy of an existing source; `undefined` when it has none. */
export async function getPrivacyPolicy(deps: PrivacyPolicyDeps, sourceId: string): Promise<StoredPolicy | undefined> {
  const { Item } = await deps.documents.send(new GetCommand({ TableName: deps.tables.sources, Key: { sourceId }, ConsistentRead: true }));
  if (!Item) throw new SourceAdminError(`source "${sourceId}" does not exist`);
  return storedPolicy(Item as SourceRecord);
}

/** The policy a source record holds, read as the ingest function reads it. */
export function storedPolicy(source: SourceRecord): StoredPolicy | undefined {
  if (source.privacyPolicy === undefined) return undefined;
  return {
    policy: JSON.parse(source.privacyPolicy) as PrivacyPolicy,
    version: source.privacyPolicyVersion ?? '',
    setAt: source.privacyPolicySetAt,
  };
}

async function updateSource(
  deps: PrivacyPolicyDeps,
  sourceId: string,
  update: Pick<ConstructorParameters<typeof UpdateCommand>[0], 'UpdateExpression' | 'ExpressionAttributeValues' | 'ReturnValues'>,
): Promise<Record<string, unknown> | undefined> {
  try {
    const { Attributes } = await deps.documents.send(
      new UpdateCommand({
        TableName: deps.tables.sources,
        Key: { sourceId },
        ConditionExpression: 'attribute_exists(sourceId)',
        ...update,
      }),
    );
    return Attributes;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) throw new SourceAdminError(`source "${sourceId}" does not exist`);
    throw error;
  }
}
