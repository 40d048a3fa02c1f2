/**
 * The lake's part of the stack (docs/lake.md), laid out by lib/lake/layout.ts (tables, columns,
 * partitions, the results prefix and the compaction schedule), so the Glue tables declare what the
 * lake function writes.
 *
 * Always: the event tables' streams (infra/resources.json says which) and the role of the two lake
 * functions serverless.yml declares. With the stage parameter `lake` on (the default): the bucket,
 * the Glue database and one table per event type with partition projection (no crawler), the Athena
 * workgroup with its bytes-scanned limit, the stream triggers (INSERTs only) and the compaction schedule.
 */
import {
  ATHENA_RESULTS_PREFIX,
  COMPACTION_SCHEDULE,
  LAKE_COLUMNS,
  LAKE_TABLES,
  PARTITION_COLUMNS,
  type ColumnType,
} from '../lib/lake/layout';
import { EVENT_TYPES } from '../lib/spec/event-types';
import { lambdaRole } from './iam';
import { lakeBucketName } from './index';
import { functionId, tableId, type Stack, type Template } from './settings';

const GLUE_TYPES: Record<ColumnType, string> = { string: 'string', timestamp: 'timestamp', json: 'string' };

/** `segment_ingest_<stage>`: Glue names take no dashes. */
const databaseName = (stack: Stack): string => stack.prefix.replace(/-/g, '_');
/** lakeBucketName (infra/index.ts), with the account id CloudFormation substitutes. */
const bucketName = (stack: Stack): string => lakeBucketName(stack.settings.stage, '${AWS::AccountId}');
const bucketArn = (stack: Stack, suffix = '') => ({ 'Fn::Sub': `arn:\${AWS::Partition}:s3:::${bucketName(stack)}${suffix}` });

/** Adds the lake to `template` (the generated Resources and Outputs). */
export function withLake(stack: Stack, template: { Resources: Template; Outputs: Template }): { Resources: Template; Outputs: Template } {
  const eventTables = Object.keys(stack.definitions.tables).filter((name) => stack.definitions.tables[name]?.stream);
  for (const name of eventTables) {
    const table = template.Resources[tableId(name)];
    if (table) table.Properties.StreamSpecification = { StreamViewType: stack.definitions.tables[name]?.stream };
  }
  const resources = { ...template.Resources, ...lakeRole(stack, eventTables) };
  if (stack.settings.lake === false) return { Resources: resources, Outputs: template.Outputs };
  return {
    Resources: { ...resources, ...storage(stack), ...catalog(stack), ...triggers(eventTables) },
    Outputs: {
      ...template.Outputs,
      LakeBucketName: { Value: { Ref: 'LakeBucket' } },
      LakeDatabaseName: { Value: databaseName(stack) },
      LakeWorkgroupName: { Value: { Ref: 'LakeWorkgroup' } },
    },
  };
}

function storage(stack: Stack): Template {
  return {
    LakeBucket: {
      Type: 'AWS::S3::Bucket',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        BucketName: { 'Fn::Sub': bucketName(stack) },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        // Query results are copies of lake rows: they must not outlive an erasure by long.
        LifecycleConfiguration: {
          Rules: [{ Id: 'athena-results', Status: 'Enabled', Prefix: ATHENA_RESULTS_PREFIX, ExpirationInDays: 1 }],
        },
      },
    },
    LakeWorkgroup: {
      Type: 'AWS::Athena::WorkGroup',
      Properties: {
        Name: stack.prefix,
        RecursiveDeleteOption: true,
        WorkGroupConfiguration: {
          EnforceWorkGroupConfiguration: true,
          BytesScannedCutoffPerQuery: Math.round((stack.settings.lakeBytesScannedLimitGb ?? 10) * 1024 ** 3),
          EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
          ResultConfiguration: { OutputLocation: { 'Fn::Sub': `s3://\${LakeBucket}/${ATHENA_RESULTS_PREFIX}` } },
        },
      },
    },
  };
}

/**
 * The Glue database and tables. Partition projection computes partitions from the path, so no
 * crawler runs and no partition is ever added: `dt` is a date range up to today; `source_id` an
 * enum of `lakeSources` when the stage lists them, else injected (each query names its sources).
 */
function catalog(stack: Stack): Template {
  const sources = stack.settings.lakeSources ?? [];
  const source =
    sources.length > 0
      ? { 'projection.source_id.type': 'enum', 'projection.source_id.values': sources.join(',') }
      : { 'projection.source_id.type': 'injected' };
  const resources: Template = {
    LakeDatabase: {
      Type: 'AWS::Glue::Database',
      Properties: { CatalogId: { Ref: 'AWS::AccountId' }, DatabaseInput: { Name: databaseName(stack) } },
    },
  };
  for (const type of EVENT_TYPES) {
    const name = LAKE_TABLES[type];
    resources[`Lake${type[0]?.toUpperCase()}${type.slice(1)}GlueTable`] = {
      Type: 'AWS::Glue::Table',
      Properties: {
        CatalogId: { Ref: 'AWS::AccountId' },
        DatabaseName: { Ref: 'LakeDatabase' },
        TableInput: {
          Name: name,
          TableType: 'EXTERNAL_TABLE',
          PartitionKeys: PARTITION_COLUMNS.map((column) => ({ Name: column, Type: 'string' })),
          Parameters: {
            classification: 'parquet',
            'projection.enabled': 'true',
            ...source,
            'projection.dt.type': 'date',
            'projection.dt.format': 'yyyy-MM-dd',
            'projection.dt.range': '2020-01-01,NOW',
            'projection.dt.interval': '1',
            'projection.dt.interval.unit': 'DAYS',
            'storage.location.template': { 'Fn::Sub': `s3://\${LakeBucket}/${name}/source_id=\${!source_id}/dt=\${!dt}/` },
          },
          StorageDescriptor: {
            Location: { 'Fn::Sub': `s3://\${LakeBucket}/${name}/` },
            Columns: LAKE_COLUMNS[type].map((column) => ({ Name: column.name, Type: GLUE_TYPES[column.type] })),
            InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          },
        },
      },
    };
  }
  return resources;
}

/**
 * One stream trigger per event table, filtered to INSERTs (a MODIFY or REMOVE never invokes the
 * function, nor costs an invocation), batches of up to 1,000 records or 60 s; and the schedule of
 * the compaction job. No bisecting: a retried batch must be the same batch (lib/lake/write.ts).
 */
function triggers(eventTables: string[]): Template {
  const resources: Template = {};
  for (const name of eventTables) {
    resources[`Lake${tableId(name)}Trigger`] = {
      Type: 'AWS::Lambda::EventSourceMapping',
      // Lambda checks the function's permission to read the stream when the mapping is created.
      DependsOn: ['LakeRole'],
      Properties: {
        EventSourceArn: { 'Fn::GetAtt': [tableId(name), 'StreamArn'] },
        FunctionName: { Ref: functionId('lake') },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 1000,
        MaximumBatchingWindowInSeconds: 60,
        BisectBatchOnFunctionError: false,
        FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ eventName: ['INSERT'] }) }] },
      },
    };
  }
  resources.LakeCompactSchedule = {
    Type: 'AWS::Events::Rule',
    Properties: {
      ScheduleExpression: COMPACTION_SCHEDULE,
      Targets: [{ Id: 'compact', Arn: { 'Fn::GetAtt': [functionId('lakeCompact'), 'Arn'] } }],
    },
  };
  resources.LakeCompactSchedulePermission = {
    Type: 'AWS::Lambda::Permission',
    Properties: {
      Action: 'lambda:InvokeFunction',
      FunctionName: { Ref: functionId('lakeCompact') },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': ['LakeCompactSchedule', 'Arn'] },
    },
  };
  return resources;
}

/**
 * The role of both lake functions: read the event tables' streams, read and write the lake's
 * objects, read erasure audit records and mark them swept, write their own logs.
 */
function lakeRole(stack: Stack, eventTables: string[]): Template {
  const tableArn = (name: string) => ({ 'Fn::GetAtt': [tableId(name), 'Arn'] });
  const streams = eventTables.map((name) => ({ 'Fn::Sub': [`\${arn}/stream/*`, { arn: tableArn(name) }] }));
  // lambdaRole grants the `lake` function's own log group; the compaction function's is added here.
  return lambdaRole('LakeRole', 'LakeLogGroup', [
    {
      Sid: 'WriteCompactLogs',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: [{ 'Fn::GetAtt': ['LakeCompactLogGroup', 'Arn'] }],
    },
    {
      Sid: 'ReadEventStreams',
      Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
      Resource: streams,
    },
    { Sid: 'ListLake', Action: ['s3:ListBucket'], Resource: [bucketArn(stack)] },
    { Sid: 'ReadWriteLake', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: [bucketArn(stack, '/*')] },
    { Sid: 'SweepErasures', Action: ['dynamodb:Scan', 'dynamodb:UpdateItem'], Resource: [tableArn('erasures')] },
  ]);
}
