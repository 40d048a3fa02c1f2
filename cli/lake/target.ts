/**
 * Where a stage's lake is: on the emulators, the bucket `lakeBucketName(stage)` on the S3 emulator;
 * in AWS, the bucket, Glue database and Athena workgroup named by the stack's outputs (infra/lake.ts).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { lakeBucketName } from '../../infra';
import { createS3Client } from '../../lib/shared/clients';
import { stringOption, type OptionSpec, type Values } from '../core/args';
import type { CommandDeps } from '../core/command';
import { CliError, EXIT, UsageError } from '../core/errors';
import type { Io } from '../core/io';
import { readStackOutputs, stackName } from '../core/stack-outputs';
import type { Stage } from '../core/stage';

/** Stack output names of the lake (infra/lake.ts defines them). */
export const LAKE_OUTPUTS = { bucket: 'LakeBucketName', database: 'LakeDatabaseName', workgroup: 'LakeWorkgroupName' } as const;

export const S3_OPTION: Record<string, OptionSpec> = {
  's3-endpoint': {
    type: 'string',
    value: 'URL',
    description: 'local only: the S3 emulator (env SEGMENT_INGEST_S3_ENDPOINT; default http://127.0.0.1:$S3_PORT, 4569)',
  },
};

export interface LakeTarget {
  s3: S3Client;
  bucket: string;
  /** A deployed stage's catalog; undefined on the emulators (queries run in DuckDB). */
  athena?: { database: string; workgroup: string };
}

export async function openLake(stage: Stage, values: Values, io: Io, deps: CommandDeps): Promise<LakeTarget> {
  const { target } = stage;
  if (target.kind === 'local') {
    const raw = stringOption(values, 's3-endpoint') ?? (io.env.SEGMENT_INGEST_S3_ENDPOINT || undefined);
    const port = io.env.S3_PORT || '4569';
    const endpoint = raw ?? `http://127.0.0.1:${port}`;
    if (!URL.canParse(endpoint)) throw new UsageError(`--s3-endpoint must be a URL, got "${endpoint}"`);
    return { s3: createS3Client({ region: target.region, s3Endpoint: endpoint }), bucket: lakeBucketName(target.stage) };
  }
  const outputs = await (deps.readOutputs ?? readStackOutputs)(stackName(target.stage), target.region);
  const bucket = outputs[LAKE_OUTPUTS.bucket];
  if (!bucket) {
    throw new CliError(
      `stage "${target.stage}" has no lake (stack ${stackName(target.stage)} has no output ${LAKE_OUTPUTS.bucket}): deploy it with the stage parameter lake on`,
      EXIT.failed,
    );
  }
  return {
    s3: createS3Client({ region: target.region, s3Endpoint: undefined }),
    bucket,
    athena: { database: outputs[LAKE_OUTPUTS.database] ?? '', workgroup: outputs[LAKE_OUTPUTS.workgroup] ?? '' },
  };
}
