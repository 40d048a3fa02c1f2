/**
 * `serverless package --stage test`, offline and without AWS credentials, and what the generated
 * CloudFormation promises: the routes of SPEC.md section 1, the worker's trigger, the queues, the
 * tables of infra/resources.json, least-privileged roles, alarms, dashboard and outputs.
 */
import resourcesJson from '../../infra/resources.json';
import { resourceName, type QueueDefinition, type TableDefinition } from '../../infra';
import { loadConfig } from '../../lib/shared/config';
import { FUNCTIONS } from '../../scripts/build';
import { packageStack, type Resource, type Template } from './package-stack';

const STAGE = 'test';
const TABLES = resourcesJson.tables as Record<string, TableDefinition>;
const QUEUES = resourcesJson.queues as Record<string, QueueDefinition>;

let template: Template;
let artifacts: string[];
let sizes: Record<string, number>;

beforeAll(async () => {
  ({ template, artifacts, sizes } = await packageStack(STAGE));
}, 120_000);

const pascal = (name: string): string =>
  name
    .split('-')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');

function resource(logicalId: string): Resource {
  const found = template.Resources[logicalId];
  if (!found) throw new Error(`no resource ${logicalId} in the template`);
  return found;
}

function ofType(type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, candidate]) => candidate.Type === type);
}

const getAtt = (logicalId: string, attribute = 'Arn') => ({ 'Fn::GetAtt': [logicalId, attribute] });

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every statement of every inline policy of a role. */
function statementsOf(role: Resource): Statement[] {
  const policies = (role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

const actionsOf = (statement: Statement): string[] => [statement.Action].flat();
const resourcesOf = (statement: Statement): unknown[] => [statement.Resource].flat();

/** The resources a role may use `action` on, across all its statements. */
function resourcesFor(role: Resource, action: string): unknown[] {
  return statementsOf(role)
    .filter((statement) => actionsOf(statement).includes(action))
    .flatMap(resourcesOf);
}

function roleOf(functionName: string): Resource {
  const fn = resource(`${pascal(functionName)}LambdaFunction`);
  const role = fn.Properties.Role as { 'Fn::GetAtt': [string, string] };
  return resource(role['Fn::GetAtt'][0]);
}

const eventTables = Object.keys(TABLES).filter((name) => TABLES[name]?.kind === 'event');

describe('serverless package --stage test', () => {
  it('writes a zip per function, without network or credentials', () => {
    // Assess
    expect(artifacts).toEqual(expect.arrayContaining(['cloudformation-template-update-stack.json', 'ingest.zip', 'worker.zip']));
    // The real esbuild bundles (with the AWS SDK inside), not placeholders: well over 100 KB zipped.
    expect(sizes['ingest.zip']).toBeGreaterThan(100 * 1024);
    expect(sizes['worker.zip']).toBeGreaterThan(100 * 1024);
  });

  describe('HTTP API', () => {
    it('has every route of SPEC.md section 1 plus $default, and nothing else', () => {
      // Prepare
      const expected = [
        'POST /segment',
        'POST /webhook/{sourceId}',
        'PUT /webhook/{sourceId}',
        'PATCH /webhook/{sourceId}',
        'POST /v1/{type}',
        'POST /v1/batch',
        'POST /v1/import',
        'GET /health',
        'OPTIONS /segment',
        'OPTIONS /webhook/{sourceId}',
        'OPTIONS /v1/{type}',
        'OPTIONS /v1/batch',
        'OPTIONS /v1/import',
        '$default',
      ];

      // Act
      const routeKeys = ofType('AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties.RouteKey);

      // Assess
      expect([...routeKeys].sort()).toEqual([...expected].sort());
    });

    it('sends every route to the ingest function with payload format 2.0', () => {
      for (const [, route] of ofType('AWS::ApiGatewayV2::Route')) {
        // Prepare
        const target = route.Properties.Target as { 'Fn::Join': [string, [string, { Ref: string }]] };
        const integration = resource(target['Fn::Join'][1][1].Ref);

        // Assess
        expect(integration.Properties).toMatchObject({
          IntegrationType: 'AWS_PROXY',
          PayloadFormatVersion: '2.0',
          IntegrationUri: getAtt('IngestLambdaFunction'),
        });
      }
    });

    it("leaves API Gateway's own CORS off, so the function answers preflights with its headers", () => {
      const api = ofType('AWS::ApiGatewayV2::Api');

      expect(api).toHaveLength(1);
      expect(api[0]?.[1].Properties.CorsConfiguration).toBeUndefined();
    });

    it('writes an access log with a retention', () => {
      const stage = ofType('AWS::ApiGatewayV2::Stage')[0]?.[1];
      expect(stage?.Properties.AccessLogSettings).toBeDefined();
      expect(resource('HttpApiLogGroup').Properties.RetentionInDays).toBe(14);
    });
  });

  describe('functions', () => {
    it.each(Object.keys(FUNCTIONS))('%s runs its esbuild bundle on a current Node.js runtime on arm64', (name) => {
      // Act
      const fn = resource(`${pascal(name)}LambdaFunction`);

      // Assess
      expect(fn.Properties).toMatchObject({
        FunctionName: `segment-ingest-${STAGE}-${name}`,
        Handler: `dist/${name}/index.handler`,
        Architectures: ['arm64'],
      });
      expect(fn.Properties.Runtime).toMatch(/^nodejs(2[2-9]|[3-9]\d)\.x$/);
      expect(resource(`${pascal(name)}LogGroup`).Properties.RetentionInDays).toBe(14);
    });

    it('gives both functions the environment lib/shared/config.ts reads, naming the deployed tables', () => {
      for (const name of Object.keys(FUNCTIONS)) {
        // Prepare
        const { Variables } = resource(`${pascal(name)}LambdaFunction`).Properties.Environment as {
          Variables: Record<string, unknown>;
        };

        // Act
        const config = loadConfig({ ...Variables, QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/q' } as Record<string, string>);

        // Assess
        expect(Variables).toMatchObject({
          STAGE,
          QUEUE_URL: { Ref: 'EventsQueue' },
          LOG_LEVEL: 'INFO',
          REJECTED_RETENTION_DAYS: '30',
          POWERTOOLS_SERVICE_NAME: `segment-ingest-${STAGE}`,
          POWERTOOLS_METRICS_NAMESPACE: 'SegmentIngest',
          NODE_OPTIONS: '--enable-source-maps',
        });
        for (const [table, physical] of Object.entries(config.tables)) {
          expect(resource(`${pascal(table)}Table`).Properties.TableName).toBe(physical);
        }
      }
    });
  });

  describe('queues and the worker trigger', () => {
    it('triggers the worker from the events queue with partial batch responses and bounded concurrency', () => {
      // Act
      const mappings = ofType('AWS::Lambda::EventSourceMapping');

      // Assess
      expect(mappings).toHaveLength(1);
      expect(mappings[0]?.[1].Properties).toMatchObject({
        EventSourceArn: getAtt('EventsQueue'),
        FunctionName: getAtt('WorkerLambdaFunction'),
        BatchSize: 100,
        MaximumBatchingWindowInSeconds: 1,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 5 },
      });
    });

    it('redrives to the dead-letter queue and hides a batch for at least 6 x the worker timeout', () => {
      // Prepare
      const events = resource('EventsQueue').Properties;
      const workerTimeout = resource('WorkerLambdaFunction').Properties.Timeout as number;

      // Assess
      expect(events.RedrivePolicy).toEqual({
        deadLetterTargetArn: getAtt('DeadLetterQueue'),
        maxReceiveCount: QUEUES.events?.maxReceiveCount,
      });
      expect(events.VisibilityTimeout).toBeGreaterThanOrEqual(6 * workerTimeout);
      expect(resource('DeadLetterQueue').Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    });

    it('creates every queue of infra/resources.json with its settings', () => {
      for (const [name, queue] of Object.entries(QUEUES)) {
        expect(resource(`${pascal(name)}Queue`).Properties).toMatchObject({
          QueueName: resourceName(STAGE, name as 'events'),
          VisibilityTimeout: queue.visibilityTimeoutSeconds,
          MessageRetentionPeriod: queue.messageRetentionSeconds,
          ReceiveMessageWaitTimeSeconds: queue.receiveWaitTimeSeconds,
          MaximumMessageSize: queue.maximumMessageSizeBytes,
          SqsManagedSseEnabled: true,
        });
      }
      expect(ofType('AWS::SQS::Queue')).toHaveLength(Object.keys(QUEUES).length);
    });
  });

  describe('tables', () => {
    it('creates exactly the tables of infra/resources.json', () => {
      const names = ofType('AWS::DynamoDB::Table').map(([, table]) => table.Properties.TableName);
      expect([...names].sort()).toEqual(
        Object.keys(TABLES)
          .map((name) => `segment-ingest-${STAGE}-${name}`)
          .sort(),
      );
    });

    it.each(Object.entries(TABLES))('%s has its keys, TTL, on-demand billing, PITR, SSE and is retained', (name, definition) => {
      // Prepare
      const keys = [
        { AttributeName: definition.partitionKey, KeyType: 'HASH' },
        ...(definition.sortKey ? [{ AttributeName: definition.sortKey, KeyType: 'RANGE' }] : []),
      ];

      // Act
      const table = resource(`${pascal(name)}Table`);

      // Assess
      expect(table.Properties).toMatchObject({
        TableName: `segment-ingest-${STAGE}-${name}`,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: keys,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      });
      expect(table.Properties.TimeToLiveSpecification).toEqual(
        definition.ttlAttribute ? { AttributeName: definition.ttlAttribute, Enabled: true } : undefined,
      );
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
    });
  });

  describe('IAM', () => {
    it('never allows a dynamodb: or sqs: action on resource "*" (or any wildcard)', () => {
      // Prepare
      const policies = [
        ...ofType('AWS::IAM::Role').flatMap(([, role]) => statementsOf(role)),
        ...ofType('AWS::IAM::Policy').flatMap(([, policy]) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement),
      ];

      // Act
      const offending = policies.filter(
        (statement) =>
          statement.Effect === 'Allow' &&
          actionsOf(statement).some((action) => /^(dynamodb|sqs):/.test(action)) &&
          (resourcesOf(statement).some((target) => typeof target === 'string' && target.includes('*')) ||
            actionsOf(statement).some((action) => action.includes('*'))),
      );

      // Assess
      expect(policies.length).toBeGreaterThan(0);
      expect(offending).toEqual([]);
    });

    it('gives each function a role of its own and no shared serverless role', () => {
      expect(template.Resources.IamRoleLambdaExecution).toBeUndefined();
      expect(roleOf('ingest')).not.toBe(roleOf('worker'));
    });

    it('lets ingest only enqueue, read keys and sources, and write its own log', () => {
      // Act
      const role = roleOf('ingest');
      const actions = statementsOf(role).flatMap(actionsOf);

      // Assess
      expect([...new Set(actions)].sort()).toEqual(['dynamodb:GetItem', 'logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:SendMessage']);
      expect(resourcesFor(role, 'sqs:SendMessage')).toEqual([getAtt('EventsQueue')]);
      expect(resourcesFor(role, 'dynamodb:GetItem')).toEqual([getAtt('KeysTable'), getAtt('SourcesTable')]);
      expect(resourcesFor(role, 'logs:PutLogEvents')).toEqual([getAtt('IngestLogGroup')]);
    });

    it('lets the worker consume the events queue, store and erase events, and write its own log', () => {
      // Prepare
      const role = roleOf('worker');
      const eventArns = eventTables.map((name) => getAtt(`${pascal(name)}Table`));

      // Act
      const actions = [...new Set(statementsOf(role).flatMap(actionsOf))];

      // Assess
      for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility']) {
        expect(resourcesFor(role, action)).toEqual([getAtt('EventsQueue')]);
      }
      expect(resourcesFor(role, 'dynamodb:PutItem')).toEqual(expect.arrayContaining([...eventArns, getAtt('RejectedTable')]));
      expect(resourcesFor(role, 'dynamodb:Query')).toEqual(eventArns);
      expect(resourcesFor(role, 'dynamodb:BatchWriteItem')).toEqual(expect.arrayContaining([...eventArns, getAtt('RejectedTable')]));
      expect(resourcesFor(role, 'dynamodb:UpdateItem')).toEqual([getAtt('ErasuresTable')]);
      expect(resourcesFor(role, 'dynamodb:BatchGetItem')).toEqual([getAtt('ErasuresTable'), getAtt('ProfilesTable')]);
      // Profiles (lib/worker/profiles/): conditional writes as PartiQL statements, on the profiles table only.
      for (const action of ['dynamodb:PartiQLInsert', 'dynamodb:PartiQLUpdate', 'dynamodb:PartiQLDelete']) {
        expect(resourcesFor(role, action)).toEqual([getAtt('ProfilesTable')]);
      }
      expect(actions).not.toContain('dynamodb:DeleteItem');
      expect(actions).not.toContain('dynamodb:Scan');
      expect(resourcesFor(role, 'logs:PutLogEvents')).toEqual([getAtt('WorkerLogGroup')]);
      expect(resourcesFor(role, 'dynamodb:PutItem')).not.toContainEqual(getAtt('KeysTable'));
      expect(actions).not.toContain('cloudwatch:PutMetricData');
      // Only to continue an erasure that ran out of time (lib/worker/requeue.ts), and only there.
      expect(resourcesFor(role, 'sqs:SendMessage')).toEqual([getAtt('EventsQueue')]);
    });
  });

  describe('time budgets and secrets', () => {
    it('tells the ingest function its own timeout, so a budget that does not fit fails at cold start', () => {
      const fn = resource('IngestLambdaFunction').Properties;
      const { Variables } = fn.Environment as { Variables: Record<string, unknown> };

      expect(Number(Variables.FUNCTION_TIMEOUT_SECONDS)).toBe(fn.Timeout);
      expect(() => loadConfig({ FUNCTION_TIMEOUT_SECONDS: String(Variables.FUNCTION_TIMEOUT_SECONDS) })).not.toThrow();
    });

    it('generates the erasure hash key in Secrets Manager, keeps it, and hands it to the worker only', () => {
      const secret = resource('ErasureHashKeySecret');
      const worker = resource('WorkerLambdaFunction').Properties.Environment as { Variables: Record<string, unknown> };
      const ingest = resource('IngestLambdaFunction').Properties.Environment as { Variables: Record<string, unknown> };

      expect(secret).toMatchObject({ Type: 'AWS::SecretsManager::Secret', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      expect(secret.Properties.GenerateSecretString).toEqual({ PasswordLength: 64, ExcludePunctuation: true });
      expect(worker.Variables.ERASURE_HASH_KEY).toEqual({ 'Fn::Sub': '{{resolve:secretsmanager:${ErasureHashKeySecret}}}' });
      expect(ingest.Variables.ERASURE_HASH_KEY).toBeUndefined();
      expect(template.Outputs.ErasureHashKeySecretArn?.Value).toEqual({ Ref: 'ErasureHashKeySecret' });
    });

    it('hands the profileActivity stage parameter to the worker', () => {
      const worker = resource('WorkerLambdaFunction').Properties.Environment as { Variables: Record<string, unknown> };
      expect(worker.Variables.PROFILE_ACTIVITY).toBe('true');
      expect(loadConfig({ PROFILE_ACTIVITY: String(worker.Variables.PROFILE_ACTIVITY) }).profileActivity).toBe(true);
    });
  });

  describe('observability', () => {
    it('publishes every alarm to the SNS topic, with no email subscription unless alarmEmail is set', () => {
      // Act
      const alarms = ofType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);

      // Assess
      expect(resource('AlarmTopic').Type).toBe('AWS::SNS::Topic');
      expect(ofType('AWS::SNS::Subscription')).toEqual([]);
      for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
      const watched = alarms.map((alarm) => [alarm.Namespace, alarm.MetricName, alarm.Dimensions]);
      expect(watched).toEqual(
        expect.arrayContaining([
          ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', [{ Name: 'QueueName', Value: getAtt('DeadLetterQueue', 'QueueName') }]],
          ['AWS/SQS', 'ApproximateAgeOfOldestMessage', [{ Name: 'QueueName', Value: getAtt('EventsQueue', 'QueueName') }]],
          ['AWS/ApiGateway', '5xx', [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }]],
          ['AWS/Lambda', 'Errors', [{ Name: 'FunctionName', Value: { Ref: 'IngestLambdaFunction' } }]],
          ['AWS/Lambda', 'Errors', [{ Name: 'FunctionName', Value: { Ref: 'WorkerLambdaFunction' } }]],
          ['AWS/Lambda', 'Throttles', [{ Name: 'FunctionName', Value: { Ref: 'WorkerLambdaFunction' } }]],
        ]),
      );
    });

    it('draws a dashboard of the pipeline whose every ${...} names a resource of the stack', () => {
      // Prepare
      const body = (resource('Dashboard').Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub'];

      // Act
      const references = [...body.matchAll(/\$\{([^}]+)\}/g)].map((match) => String(match[1]).split('.')[0] ?? '');

      // Assess
      expect(() => JSON.parse(body) as unknown).not.toThrow();
      for (const name of references) {
        if (!name.startsWith('AWS::')) expect(template.Resources[name]).toBeDefined();
      }
      expect(new Set(references)).toEqual(
        new Set(['HttpApi', 'AWS::Region', 'IngestLambdaFunction', 'WorkerLambdaFunction', 'EventsQueue', 'DeadLetterQueue']),
      );
      const metrics = ['EventsAccepted', 'EventsRejected', 'EnqueueRetries', 'EnqueueFailures', 'EventsStored', 'WriteRetries', 'Erasures'];
      for (const metric of metrics) expect(body).toContain(`MetricName=\\"${metric}\\"`);
      expect(body).toContain('Namespace=\\"SegmentIngest\\"');
    });

    it('outputs the endpoint, queues, every table and the dashboard link', () => {
      // Prepare
      const expected = [
        'HttpApiUrl',
        'SegmentEndpointUrl',
        'EventsQueueUrl',
        'EventsQueueName',
        'DeadLetterQueueUrl',
        'DeadLetterQueueName',
        'DashboardUrl',
        'AlarmTopicArn',
        ...Object.keys(TABLES).map((name) => `${pascal(name)}TableName`),
      ];

      // Assess
      expect(Object.keys(template.Outputs)).toEqual(expect.arrayContaining(expected));
      for (const name of Object.keys(TABLES)) {
        expect(template.Outputs[`${pascal(name)}TableName`]?.Value).toEqual({ Ref: `${pascal(name)}Table` });
      }
    });
  });
});
