// @ts-check
/**
 * The lake's part of the stack (docs/lake.md), merged in by infra/cloudformation.js through two
 * hooks: `readLakeSettings` (stage parameters) and `withLake` (resources and outputs). Kept apart so
 * the lake can change without touching the rest of the template.
 *
 * Always: the event tables' streams (infra/resources.json says which) and the role of the two lake
 * functions serverless.yml declares. With the stage parameter `lake` on (the default): the bucket,
 * the Glue database and one table per event type with partition projection (no crawler), the Athena
 * workgroup with its bytes-scanned limit, the stream triggers (INSERTs only) and the compaction schedule.
 */
const lakeTables = require('./lake-tables.json');

/** How often the compaction job runs (lib/lake/compact.ts states the erasure bound from it). */
const COMPACTION_SCHEDULE = 'rate(1 hour)';
const GLUE_TYPES = { string: 'string', timestamp: 'timestamp', json: 'string' };
const ATHENA_RESULTS = 'athena-results/';

/**
 * @typedef {{ lake: boolean, lakeSources: string[], lakeBytesScannedLimitGb: number }} LakeSettings
 * @typedef {{ definitions: { service: string, tables: Record<string, { kind: string, stream?: string }> },
 *   settings: { stage: string } & Partial<LakeSettings>, prefix: string }} Stack
 * @typedef {{ tableId: (name: string) => string, functionId: (name: string) => string,
 *   lambdaRole: (logicalId: string, logGroupId: string, statements: Array<{ Sid: string, Action: string[], Resource: unknown[] }>) => Template }} Ids
 * @typedef {Record<string, any>} Template
 */

/** @param {(name: string) => Promise<unknown>} param */
async function readLakeSettings(param) {
  const text = (/** @type {unknown} */ value) => String(value ?? '').trim();
  return {
    lake: !['false', '0'].includes(text(await param('lake')).toLowerCase()),
    lakeSources: text(await param('lakeSources'))
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    lakeBytesScannedLimitGb: Number(text(await param('lakeBytesScannedLimitGb')) || 10),
  };
}

/** `segment_ingest_<stage>`: Glue names take no dashes. */
const databaseName = (/** @type {Stack} */ stack) => stack.prefix.replace(/-/g, '_');
const bucketName = (/** @type {Stack} */ stack) => ({ 'Fn::Sub': `${stack.prefix}-lake-\${AWS::AccountId}` });
const bucketArn = (/** @type {Stack} */ stack, suffix = '') => ({
  'Fn::Sub': `arn:\${AWS::Partition}:s3:::${stack.prefix}-lake-\${AWS::AccountId}${suffix}`,
});

/**
 * Adds the lake to `template` (the generated Resources and Outputs).
 * @param {Stack} stack
 * @param {{ Resources: Template, Outputs: Template }} template
 * @param {Ids} ids
 */
function withLake(stack, template, ids) {
  const eventTables = Object.keys(stack.definitions.tables).filter((name) => stack.definitions.tables[name]?.stream);
  for (const name of eventTables) {
    const table = template.Resources[ids.tableId(name)];
    if (table) table.Properties.StreamSpecification = { StreamViewType: stack.definitions.tables[name]?.stream };
  }
  const resources = { ...template.Resources, ...lakeRole(stack, eventTables, ids) };
  if (stack.settings.lake === false) return { Resources: resources, Outputs: template.Outputs };
  return {
    Resources: { ...resources, ...storage(stack), ...catalog(stack), ...triggers(stack, eventTables, ids) },
    Outputs: {
      ...template.Outputs,
      LakeBucketName: { Value: { Ref: 'LakeBucket' } },
      LakeDatabaseName: { Value: databaseName(stack) },
      LakeWorkgroupName: { Value: { Ref: 'LakeWorkgroup' } },
    },
  };
}

/** @param {Stack} stack */
function storage(stack) {
  return {
    LakeBucket: {
      Type: 'AWS::S3::Bucket',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        BucketName: bucketName(stack),
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        // Query results are copies of lake rows: they must not outlive an erasure by long.
        LifecycleConfiguration: { Rules: [{ Id: 'athena-results', Status: 'Enabled', Prefix: ATHENA_RESULTS, ExpirationInDays: 1 }] },
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
          ResultConfiguration: { OutputLocation: { 'Fn::Sub': `s3://\${LakeBucket}/${ATHENA_RESULTS}` } },
        },
      },
    },
  };
}

/**
 * The Glue database and tables. Partition projection computes partitions from the path, so no
 * crawler runs and no partition is ever added: `dt` is a date range up to today; `source_id` an
 * enum of `lakeSources` when the stage lists them, else injected (each query names its sources).
 * @param {Stack} stack
 */
function catalog(stack) {
  const sources = stack.settings.lakeSources ?? [];
  const source =
    sources.length > 0
      ? { 'projection.source_id.type': 'enum', 'projection.source_id.values': sources.join(',') }
      : { 'projection.source_id.type': 'injected' };
  /** @type {Template} */
  const resources = {
    LakeDatabase: {
      Type: 'AWS::Glue::Database',
      Properties: { CatalogId: { Ref: 'AWS::AccountId' }, DatabaseInput: { Name: databaseName(stack) } },
    },
  };
  for (const [type, table] of Object.entries(lakeTables.tables)) {
    const location = { 'Fn::Sub': `s3://\${LakeBucket}/${table.name}/` };
    resources[`Lake${type[0]?.toUpperCase()}${type.slice(1)}GlueTable`] = {
      Type: 'AWS::Glue::Table',
      Properties: {
        CatalogId: { Ref: 'AWS::AccountId' },
        DatabaseName: { Ref: 'LakeDatabase' },
        TableInput: {
          Name: table.name,
          TableType: 'EXTERNAL_TABLE',
          PartitionKeys: lakeTables.partitionColumns.map((name) => ({ Name: name, Type: 'string' })),
          Parameters: {
            classification: 'parquet',
            'projection.enabled': 'true',
            ...source,
            'projection.dt.type': 'date',
            'projection.dt.format': 'yyyy-MM-dd',
            'projection.dt.range': '2020-01-01,NOW',
            'projection.dt.interval': '1',
            'projection.dt.interval.unit': 'DAYS',
            'storage.location.template': { 'Fn::Sub': `s3://\${LakeBucket}/${table.name}/source_id=\${!source_id}/dt=\${!dt}/` },
          },
          StorageDescriptor: {
            Location: location,
            Columns: table.columns.map((column) => ({ Name: column.name, Type: GLUE_TYPES[/** @type {'string'} */ (column.type)] })),
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
 * @param {Stack} stack
 * @param {string[]} eventTables
 * @param {Ids} ids
 */
function triggers(stack, eventTables, ids) {
  /** @type {Template} */
  const resources = {};
  for (const name of eventTables) {
    resources[`Lake${ids.tableId(name)}Trigger`] = {
      Type: 'AWS::Lambda::EventSourceMapping',
      // Lambda checks the function's permission to read the stream when the mapping is created.
      DependsOn: ['LakeRole'],
      Properties: {
        EventSourceArn: { 'Fn::GetAtt': [ids.tableId(name), 'StreamArn'] },
        FunctionName: { Ref: ids.functionId('lake') },
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
      Targets: [{ Id: 'compact', Arn: { 'Fn::GetAtt': [ids.functionId('lakeCompact'), 'Arn'] } }],
    },
  };
  resources.LakeCompactSchedulePermission = {
    Type: 'AWS::Lambda::Permission',
    Properties: {
      Action: 'lambda:InvokeFunction',
      FunctionName: { Ref: ids.functionId('lakeCompact') },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': ['LakeCompactSchedule', 'Arn'] },
    },
  };
  return resources;
}

/**
 * The role of both lake functions: read the event tables' streams, read and write the lake's
 * objects, read erasure audit records and mark them swept, write their own logs.
 * @param {Stack} stack
 * @param {string[]} eventTables
 * @param {Ids} ids
 */
function lakeRole(stack, eventTables, ids) {
  const tableArn = (/** @type {string} */ name) => ({ 'Fn::GetAtt': [ids.tableId(name), 'Arn'] });
  const streams = eventTables.map((name) => ({ 'Fn::Sub': [`\${arn}/stream/*`, { arn: tableArn(name) }] }));
  // lambdaRole grants the `lake` function's own log group; the compaction function's is added here.
  return ids.lambdaRole('LakeRole', 'LakeLogGroup', [
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

module.exports = { readLakeSettings, withLake, COMPACTION_SCHEDULE };
