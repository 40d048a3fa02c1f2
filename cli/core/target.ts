/**
 * Which stage a command works on, and where its endpoint, queues and tables are. Without `--stage`
 * it is the local stack of `npm start` (stage `local`, the emulators on their default ports);
 * `--stage NAME` is a deployed stage, found through its CloudFormation outputs; `--local --stage
 * NAME` is another stage on the emulators (what the tests use). Nothing here is specific to the
 * local stack except its defaults.
 */
import { tableNames, type TableName } from '../../infra';
import { stringOption, booleanOption, type OptionSpec, type Values } from './args';
import { UsageError } from './errors';
import { readStackOutputs, resourcesFromOutputs, stackName, type ReadStackOutputs } from './stack-outputs';

export interface Target {
  kind: 'local' | 'aws';
  stage: string;
  region: string;
  /** Base URL of the public endpoint, no trailing slash; undefined when the stack does not say. */
  endpoint: string | undefined;
  /** Emulator endpoints; undefined in AWS. */
  dynamodbEndpoint: string | undefined;
  sqsEndpoint: string | undefined;
  /** Known from stack outputs; otherwise looked up by name (GetQueueUrl) when needed. */
  queueUrl: string | undefined;
  deadLetterQueueUrl: string | undefined;
  tables: Record<TableName, string>;
  /** A deployed stage's secret for naming users in erasure records; undefined locally. */
  erasureHashKeySecretArn?: string;
  /** A deployed stage's secret for privacy policies' hashes; undefined locally. */
  privacyHashKeySecretArn?: string;
}

/** The options every command that talks to a stage accepts. */
export const TARGET_OPTIONS: Record<string, OptionSpec> = {
  stage: {
    type: 'string',
    value: 'NAME',
    description: 'a deployed stage, found through CloudFormation stack segment-ingest-NAME (env SEGMENT_INGEST_STAGE)',
  },
  region: { type: 'string', value: 'REGION', description: 'AWS region of the stage (env AWS_REGION; default us-east-1)' },
  local: {
    type: 'boolean',
    description: 'the local emulators (the default without --stage); with --stage, a stage on them (env SEGMENT_INGEST_LOCAL=1)',
  },
  endpoint: {
    type: 'string',
    value: 'URL',
    description: 'base URL of the public endpoint (env SEGMENT_INGEST_ENDPOINT; local default http://127.0.0.1:$PORT, PORT=3000)',
  },
  'dynamodb-endpoint': {
    type: 'string',
    value: 'URL',
    description: 'local only: DynamoDB Local (env SEGMENT_INGEST_DYNAMODB_ENDPOINT; default http://127.0.0.1:$DYNAMODB_PORT, 8000)',
  },
  'sqs-endpoint': {
    type: 'string',
    value: 'URL',
    description: 'local only: the SQS emulator (env SEGMENT_INGEST_SQS_ENDPOINT; default http://127.0.0.1:$SQS_PORT, 9324)',
  },
};

export interface TargetRequest {
  stage: string | undefined;
  region: string;
  local: boolean;
  endpoint: string | undefined;
  dynamodbEndpoint: string | undefined;
  sqsEndpoint: string | undefined;
}

/** Reads the target options, each falling back to its environment variable. */
export function targetRequest(values: Values, env: Record<string, string | undefined>): TargetRequest {
  const pick = (option: string, variable: string) => stringOption(values, option) ?? nonEmpty(env[variable]);
  return {
    stage: pick('stage', 'SEGMENT_INGEST_STAGE'),
    region: pick('region', 'AWS_REGION') ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? 'us-east-1',
    local: booleanOption(values, 'local') || env.SEGMENT_INGEST_LOCAL === '1' || env.SEGMENT_INGEST_LOCAL === 'true',
    endpoint: checkUrl('--endpoint', pick('endpoint', 'SEGMENT_INGEST_ENDPOINT')),
    dynamodbEndpoint: checkUrl('--dynamodb-endpoint', pick('dynamodb-endpoint', 'SEGMENT_INGEST_DYNAMODB_ENDPOINT')),
    sqsEndpoint: checkUrl('--sqs-endpoint', pick('sqs-endpoint', 'SEGMENT_INGEST_SQS_ENDPOINT')),
  };
}

/** True when the request names the local emulators (no deployed stage). */
export function isLocal(request: TargetRequest): boolean {
  return request.local || request.stage === undefined;
}

/** The local stage, with the ports `npm start` uses unless overridden; no network call. */
export function localTarget(request: TargetRequest, env: Record<string, string | undefined>): Target {
  const stage = checkStage(request.stage ?? 'local');
  const port = (name: string, fallback: number) => {
    const raw = nonEmpty(env[name]);
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(value) || value <= 0 || value > 65535) throw new UsageError(`${name} must be a port number, got "${raw}"`);
    return value;
  };
  return {
    kind: 'local',
    stage,
    region: request.region,
    endpoint: trimSlash(request.endpoint ?? `http://127.0.0.1:${port('PORT', 3000)}`),
    dynamodbEndpoint: request.dynamodbEndpoint ?? `http://127.0.0.1:${port('DYNAMODB_PORT', 8000)}`,
    sqsEndpoint: request.sqsEndpoint ?? `http://127.0.0.1:${port('SQS_PORT', 9324)}`,
    queueUrl: undefined,
    deadLetterQueueUrl: undefined,
    tables: tableNames(stage),
  };
}

/** Resolves the target: the local emulators, or a deployed stage through its stack outputs. */
export async function resolveTarget(
  request: TargetRequest,
  env: Record<string, string | undefined>,
  readOutputs: ReadStackOutputs = readStackOutputs,
): Promise<Target> {
  if (isLocal(request)) return localTarget(request, env);
  const stage = checkStage(request.stage ?? '');
  if (request.dynamodbEndpoint || request.sqsEndpoint) {
    throw new UsageError(
      '--dynamodb-endpoint and --sqs-endpoint are for the local emulators; add --local, or drop them for a deployed stage',
    );
  }
  const resources = resourcesFromOutputs(stage, await readOutputs(stackName(stage), request.region));
  return {
    kind: 'aws',
    stage,
    region: request.region,
    endpoint: trimSlash(request.endpoint ?? resources.endpoint),
    dynamodbEndpoint: undefined,
    sqsEndpoint: undefined,
    queueUrl: resources.queueUrl,
    deadLetterQueueUrl: resources.deadLetterQueueUrl,
    tables: resources.tables,
    erasureHashKeySecretArn: resources.erasureHashKeySecretArn,
    privacyHashKeySecretArn: resources.privacyHashKeySecretArn,
  };
}

export function describeTarget(target: Target): string {
  return target.kind === 'local'
    ? `stage "${target.stage}" on the local emulators (DynamoDB ${target.dynamodbEndpoint ?? '?'}, SQS ${target.sqsEndpoint ?? '?'})`
    : `stage "${target.stage}" in ${target.region} (stack ${stackName(target.stage)})`;
}

function checkStage(stage: string): string {
  if (!/^[a-zA-Z0-9-]{1,40}$/.test(stage)) throw new UsageError(`stage must be 1-40 letters, digits and dashes, got "${stage}"`);
  return stage;
}

function checkUrl(option: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
    return value;
  } catch {
    throw new UsageError(`${option} must be an http(s) URL, got "${value}"`);
  }
}

function trimSlash(url: string | undefined): string | undefined {
  return url?.replace(/\/+$/, '');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
