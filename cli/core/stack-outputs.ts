/**
 * A deployed stage, found through the outputs of its CloudFormation stack `segment-ingest-<stage>`.
 * The output names are defined by `serverless.yml` (through `infra/template.ts` and `infra/outputs.ts`); this is the
 * one place that knows them, so a rename there is a one-line change here.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SERVICE_NAME, TABLE_NAMES, resourceName, type TableName } from '../../infra';
import { CliError } from './errors';

/** Output keys, first match wins: serverless names the HTTP API's URL `HttpApiUrl` (`ServiceEndpoint` for REST APIs). */
export const OUTPUT_KEYS = {
  endpoint: ['HttpApiUrl', 'ServiceEndpoint'],
  queueUrl: ['EventsQueueUrl'],
  deadLetterQueueUrl: ['DeadLetterQueueUrl'],
} as const;

/** Table `track` is output `TrackTableName`; without the output, the name follows `resourceName`. */
export function tableOutputKey(table: TableName): string {
  return `${pascalCase(table)}TableName`;
}

export function stackName(stage: string): string {
  return `${SERVICE_NAME}-${stage}`;
}

export interface StageResources {
  endpoint: string | undefined;
  queueUrl: string | undefined;
  deadLetterQueueUrl: string | undefined;
  tables: Record<TableName, string>;
  /** The Secrets Manager secret erasure records name users with (`erasures show` reads it). */
  erasureHashKeySecretArn: string | undefined;
  /** The secret privacy policies hash with (`--user` reads it for sources that hash ids). */
  privacyHashKeySecretArn?: string;
}

/** Maps stack outputs to what the CLI needs; anything missing falls back to the naming convention or stays undefined. */
export function resourcesFromOutputs(stage: string, outputs: Record<string, string>): StageResources {
  const first = (keys: readonly string[]) => keys.map((key) => outputs[key]).find((value) => value !== undefined && value !== '');
  return {
    endpoint: first(OUTPUT_KEYS.endpoint)?.replace(/\/+$/, ''),
    queueUrl: first(OUTPUT_KEYS.queueUrl),
    deadLetterQueueUrl: first(OUTPUT_KEYS.deadLetterQueueUrl),
    erasureHashKeySecretArn: first(['ErasureHashKeySecretArn']),
    privacyHashKeySecretArn: first(['PrivacyHashKeySecretArn']),
    tables: Object.fromEntries(TABLE_NAMES.map((name) => [name, outputs[tableOutputKey(name)] ?? resourceName(stage, name)])) as Record<
      TableName,
      string
    >,
  };
}

export type ReadStackOutputs = (stack: string, region: string) => Promise<Record<string, string>>;

/** Reads a stack's outputs with DescribeStacks; throws `CliError` naming the stack when it does not exist. */
export const readStackOutputs: ReadStackOutputs = async (stack, region) => {
  const client = new CloudFormationClient({ region, maxAttempts: 3 });
  try {
    const { Stacks = [] } = await client.send(new DescribeStacksCommand({ StackName: stack }));
    const outputs = Stacks[0]?.Outputs ?? [];
    return Object.fromEntries(
      outputs.filter((o) => o.OutputKey && o.OutputValue !== undefined).map((o) => [o.OutputKey as string, o.OutputValue as string]),
    );
  } catch (error) {
    const e = error as { name?: string; message?: string };
    if (e.name === 'ValidationError' && /does not exist/i.test(e.message ?? '')) {
      throw new CliError(
        `no CloudFormation stack "${stack}" in ${region}: is the stage deployed (npx serverless deploy --stage ...), and is the region right (--region)?`,
        undefined,
        { cause: error },
      );
    }
    throw error;
  } finally {
    client.destroy();
  }
};

function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');
}
