/**
 * infra/template.ts on its own: that a table added to resources.json (issue 3's `erasures`)
 * is deployed, granted and output with no other change, and that bad settings stop the package.
 */
import { generateTemplate } from '../../infra/template';
import { templateDefinitions as definitions, templateSettings as settings } from '../support/template';

interface Statement {
  Sid: string;
  Action: string[];
  Resource: unknown[];
}

function workerStatements(resources: Record<string, unknown>): Statement[] {
  const role = resources.WorkerRole as { Properties: { Policies: { PolicyDocument: { Statement: Statement[] } }[] } };
  return role.Properties.Policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

describe('generateTemplate', () => {
  it('deploys, grants and outputs a table added to resources.json', () => {
    // Prepare
    const withErasures = definitions();
    delete withErasures.tables.erasures;
    withErasures.tables.erasures = { kind: 'audit', partitionKey: 'pk', sortKey: 'sk' };

    // Act
    const { Resources, Outputs } = generateTemplate(withErasures, settings());

    // Assess
    expect(Resources.ErasuresTable).toMatchObject({
      Type: 'AWS::DynamoDB::Table',
      Properties: { TableName: 'segment-ingest-unit-erasures', BillingMode: 'PAY_PER_REQUEST' },
    });
    expect(workerStatements(Resources)).toContainEqual({
      Effect: 'Allow',
      Sid: 'AuditErasures',
      Action: ['dynamodb:UpdateItem', 'dynamodb:BatchGetItem'],
      Resource: [{ 'Fn::GetAtt': ['ErasuresTable', 'Arn'] }],
    });
    expect(Outputs.ErasuresTableName).toEqual({ Description: 'Name of the erasures table', Value: { Ref: 'ErasuresTable' } });
  });

  it('grants nothing on an erasures table when resources.json has none', () => {
    const withoutErasures = definitions();
    delete withoutErasures.tables.erasures;
    const { Resources } = generateTemplate(withoutErasures, settings());
    expect(workerStatements(Resources).map((statement) => statement.Sid)).not.toContain('AuditErasures');
  });

  it('subscribes alarmEmail to the alarm topic', () => {
    const { Resources } = generateTemplate(definitions(), settings({ alarmEmail: 'ops@example.com' }));
    expect(Resources.AlarmEmailSubscription).toMatchObject({ Properties: { Protocol: 'email', Endpoint: 'ops@example.com' } });
  });

  it('lets a stage delete its tables with the stack when tableDeletionPolicy is Delete', () => {
    const { Resources } = generateTemplate(definitions(), settings({ tableDeletionPolicy: 'Delete' }));
    expect(Resources.TrackTable).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });

  it('refuses a worker timeout the events queue visibility timeout cannot cover six times', () => {
    expect(() => generateTemplate(definitions(), settings({ workerTimeout: 30, workerBatchWindow: 1 }))).toThrow(
      /visibilityTimeoutSeconds \(180\).*6 x the worker timeout \(30\) \+ its batching window \(1\) = 181/,
    );
  });

  it('keeps event tables without TTL unless eventRetentionDays is over 0', () => {
    // Act
    const forever = generateTemplate(definitions(), settings({ eventRetentionDays: 0 })).Resources;
    const kept = generateTemplate(definitions(), settings({ eventRetentionDays: 400 })).Resources;

    // Assess
    expect((forever.TrackTable as { Properties: Record<string, unknown> }).Properties.TimeToLiveSpecification).toBeUndefined();
    expect(kept.TrackTable).toMatchObject({ Properties: { TimeToLiveSpecification: { AttributeName: '_x', Enabled: true } } });
    expect(kept.SourcesTable).not.toHaveProperty('Properties.TimeToLiveSpecification');
    expect(kept.RejectedTable).toMatchObject({ Properties: { TimeToLiveSpecification: { AttributeName: 'expiresAt' } } });
  });

  it('refuses a retention, a table override or an alarm threshold that cannot work', () => {
    // Act
    const act = () =>
      generateTemplate(
        definitions(),
        settings({ eventRetentionDays: -3, tableOverrides: 'tracks=a-b-c,page=x', quarantineAlarmThreshold: 1.5, ingestLatencyAlarmMs: 5 }),
      );

    // Assess
    expect(act).toThrow(
      /eventRetentionDays must be a whole number from 0 to 36500[\s\S]*quarantineAlarmThreshold[\s\S]*ingestLatencyAlarmMs[\s\S]*unknown table "tracks"[\s\S]*entry "page=x" must be <table>=<DynamoDB table name>/,
    );
  });

  it('lists every invalid parameter at once', () => {
    // Act
    const act = () => generateTemplate(definitions(), settings({ maxReceiveCount: 0, tableDeletionPolicy: 'Snapshot', alarmEmail: 'ops' }));

    // Assess
    expect(act).toThrow(/maxReceiveCount[\s\S]*tableDeletionPolicy[\s\S]*alarmEmail/);
  });
});
