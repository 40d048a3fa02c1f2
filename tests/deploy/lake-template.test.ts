/**
 * infra/lake.ts through infra/template.ts: what the lake deploys with the stage parameter
 * `lake` on (bucket, Glue tables with partition projection, Athena workgroup, stream triggers,
 * compaction schedule, role) and what stays with it off.
 */
import { generateTemplate } from '../../infra/template';
import lakeTables from '../../infra/lake-tables.json';
import { EVENT_TYPES } from '../../lib/spec/event-types';
import { LAKE_COLUMNS, LAKE_TABLES } from '../../lib/lake/layout';
import { templateDefinitions, templateSettings, type TemplateSettings } from '../support/template';

// Template fragments are untyped JSON, read here by path.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Resource = { Type: string; Properties: Record<string, any> };

const settings = (overrides: Partial<TemplateSettings> = {}): TemplateSettings =>
  templateSettings({ lake: true, lakeSources: [], lakeBytesScannedLimitGb: 10, ...overrides });

const template = (overrides: Partial<TemplateSettings> = {}) => {
  const { Resources, Outputs } = generateTemplate(templateDefinitions(), settings(overrides));
  return { Resources: Resources as Record<string, Resource>, Outputs: Outputs as Record<string, unknown> };
};
const pascal = (type: string) => `${type[0]?.toUpperCase()}${type.slice(1)}`;

describe('the lake in the template', () => {
  it('streams new images of the six event tables into the lake function, INSERTs only', () => {
    const { Resources } = template();
    for (const type of EVENT_TYPES) {
      expect(Resources[`${pascal(type)}Table`]?.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
      const trigger = Resources[`Lake${pascal(type)}TableTrigger`]?.Properties;
      expect(trigger).toMatchObject({
        EventSourceArn: { 'Fn::GetAtt': [`${pascal(type)}Table`, 'StreamArn'] },
        FunctionName: { Ref: 'LakeLambdaFunction' },
        BisectBatchOnFunctionError: false,
      });
      expect(JSON.parse(trigger?.FilterCriteria.Filters[0].Pattern)).toEqual({ eventName: ['INSERT'] });
    }
    expect(Resources.RejectedTable?.Properties.StreamSpecification).toBeUndefined();
  });

  it('declares one Glue table per type with the columns the function writes and partition projection', () => {
    const { Resources } = template();
    for (const type of EVENT_TYPES) {
      const input = Resources[`Lake${pascal(type)}GlueTable`]?.Properties.TableInput;
      expect(input.Name).toBe(LAKE_TABLES[type]);
      expect(input.StorageDescriptor.Columns.map((c: { Name: string }) => c.Name)).toEqual(LAKE_COLUMNS[type].map((c) => c.name));
      expect(input.PartitionKeys).toEqual(lakeTables.partitionColumns.map((Name) => ({ Name, Type: 'string' })));
      expect(input.Parameters).toMatchObject({
        'projection.enabled': 'true',
        'projection.dt.type': 'date',
        'projection.source_id.type': 'injected',
      });
    }
  });

  it('projects source_id from the listed sources when the stage lists them', () => {
    const input = template({ lakeSources: ['web', 'ios'] }).Resources.LakeTrackGlueTable?.Properties.TableInput;
    expect(input.Parameters).toMatchObject({ 'projection.source_id.type': 'enum', 'projection.source_id.values': 'web,ios' });
  });

  it('limits the bytes an Athena query scans and names bucket, database and workgroup in the outputs', () => {
    const { Resources, Outputs } = template({ lakeBytesScannedLimitGb: 2 });
    expect(Resources.LakeWorkgroup?.Properties.WorkGroupConfiguration).toMatchObject({
      EnforceWorkGroupConfiguration: true,
      BytesScannedCutoffPerQuery: 2 * 1024 ** 3,
    });
    expect(Object.keys(Outputs)).toEqual(expect.arrayContaining(['LakeBucketName', 'LakeDatabaseName', 'LakeWorkgroupName']));
    expect(Resources.LakeCompactSchedule?.Properties.ScheduleExpression).toBe('rate(1 hour)');
  });

  it('grants the lake role the streams, the bucket and the erasures table, nothing more', () => {
    const statements = template().Resources.LakeRole?.Properties.Policies[0].PolicyDocument.Statement as Array<{
      Sid: string;
      Action: string[];
    }>;
    expect(Object.fromEntries(statements.map((s) => [s.Sid, s.Action]))).toEqual({
      WriteOwnLogs: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      WriteCompactLogs: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      ReadEventStreams: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
      ListLake: ['s3:ListBucket'],
      ReadWriteLake: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      SweepErasures: ['dynamodb:Scan', 'dynamodb:UpdateItem'],
    });
  });

  it('deploys no bucket, catalog or trigger with lake off, and keeps the role the functions name', () => {
    const { Resources, Outputs } = template({ lake: false });
    expect(Object.keys(Resources).filter((id) => id.startsWith('Lake'))).toEqual(['LakeRole']);
    expect(Outputs).not.toHaveProperty('LakeBucketName');
  });
});
