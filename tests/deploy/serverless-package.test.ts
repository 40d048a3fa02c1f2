/**
 * `serverless package --stage test`, offline and without AWS credentials, and what the generated
 * CloudFormation promises: the routes of the ingest function's route table, the worker's trigger, the queues, the
 * tables of infra/resources.json, least-privileged roles, alarms, dashboard, saved queries and
 * outputs; and, packaged again with `eventRetentionDays` and `tableOverrides`, what those change.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import resourcesJson from '../../infra/resources.json';
import { resourceName, type QueueDefinition, type TableDefinition } from '../../infra';
import { gatewayRouteKeys } from '../../infra/routes';
import { ROUTE_TABLE } from '../../lib/ingest/routes';
import { WEBHOOK_METHODS, WEBHOOK_ROUTE } from '../../lib/ingest/webhook';
import { loadConfig } from '../../lib/shared/config';
import { COUNT_METRICS, LATENCY_METRIC } from '../../lib/shared/metrics';
import { PROFILE_WORKER_ACTIONS } from '../../lib/tables/profiles';
import { FUNCTIONS } from '../../scripts/build';
import { packageStack, type Resource, type Template } from './package-stack';

const STAGE = 'test';
const TABLES = resourcesJson.tables as Record<string, TableDefinition>;
const QUEUES = resourcesJson.queues as Record<string, QueueDefinition>;
const RESTORED_TRACK = 'segment-ingest-test-track-restored-20261201';

let template: Template;
let artifacts: string[];
let sizes: Record<string, number>;
/** The same stage packaged with a retention and a table override. */
let tuned: Template;
let zipEntries: Record<string, string[]>;

beforeAll(async () => {
  const [plain, withParams] = await Promise.all([
    packageStack(STAGE),
    packageStack(STAGE, ['--param=eventRetentionDays=90', `--param=tableOverrides=track=${RESTORED_TRACK}`]),
  ]);
  ({ template, artifacts, sizes, zipEntries } = plain);
  tuned = withParams.template;
}, 180_000);

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

/** The dashboard's body as the template holds it (the text `Fn::Sub` resolves). */
function dashboardBody(stack: Template): string {
  const dashboard = stack.Resources.Dashboard;
  if (!dashboard) throw new Error('no Dashboard in the template');
  return (dashboard.Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub'];
}

/**
 * Every SegmentIngest metric a dashboard draws, with the function whose series it is (`*` for a
 * search across both): metric arrays name it after `function`, expressions in `function="..."`.
 */
function drawnMetrics(body: string): Array<{ metric: string; fn: string }> {
  const widgets = (JSON.parse(body) as { widgets: Array<{ properties: { metrics?: unknown[][] } }> }).widgets;
  const found: Array<{ metric: string; fn: string }> = [];
  for (const entry of widgets.flatMap((widget) => widget.properties.metrics ?? [])) {
    if (entry[0] === 'SegmentIngest') {
      found.push({ metric: String(entry[1]), fn: String(entry[entry.indexOf('function') + 1]) });
      continue;
    }
    const expression = (entry[0] as { expression?: string } | undefined)?.expression ?? '';
    for (const match of expression.matchAll(/Namespace="SegmentIngest" MetricName="(\w+)"([^']*)'/g)) {
      found.push({ metric: String(match[1]), fn: /function="(\w+)"/.exec(String(match[2]))?.[1] ?? '*' });
    }
  }
  return found;
}

/** The dimensions lib/shared/metrics.ts writes for a function of the test stage, as an alarm names them. */
function dimensions(fn: string, extra: Record<string, string> = {}): Array<{ Name: string; Value: string }> {
  return [
    { Name: 'service', Value: `segment-ingest-${STAGE}` },
    { Name: 'function', Value: fn },
    ...Object.entries(extra).map(([Name, Value]) => ({ Name, Value })),
  ];
}

/**
 * A function's variables as Lambda sees them: the secrets' dynamic references
 * (`{{resolve:secretsmanager:...}}`) become text only at deploy, so a stand-in of the right form is read here.
 */
function resolvedAtDeploy(variables: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [name, typeof value === 'string' ? value : 'a-secret-resolved-at-deploy-0123456789']),
  );
}
describe('serverless package --stage test', () => {
  it('writes a zip per function, without network or credentials', () => {
    // Assess
    expect(artifacts).toEqual(
      expect.arrayContaining(['cloudformation-template-update-stack.json', 'ingest.zip', 'webhooks.zip', 'worker.zip']),
    );
    // The real esbuild bundles (with the AWS SDK inside), not placeholders: well over 100 KB zipped.
    expect(sizes['ingest.zip']).toBeGreaterThan(100 * 1024);
    expect(sizes['worker.zip']).toBeGreaterThan(100 * 1024);
  });

  it('packages the tracking-plan compiler and the privacy policy code beside the ingest bundle, which imports them when a source has a plan or a policy', () => {
    expect(zipEntries['ingest.zip']).toEqual(
      expect.arrayContaining(['dist/ingest/index.js', 'dist/ingest/plan-compiler.js', 'dist/ingest/privacy-engine.js']),
    );
    expect(zipEntries['worker.zip']).not.toContain('dist/worker/plan-compiler.js');
    // The webhooks function runs the same bundle.
    expect([...(zipEntries['webhooks.zip'] ?? [])].sort()).toEqual([...(zipEntries['ingest.zip'] ?? [])].sort());
  });

  describe('HTTP API', () => {
    it('has every route of the route table (lib/ingest/routes.ts) plus $default, and nothing else', () => {
      // Prepare: the route keys infra/routes.ts derives from the function's own table.
      const expected = [...gatewayRouteKeys(ROUTE_TABLE), '$default'];

      // Act
      const routeKeys = ofType('AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties.RouteKey);

      // Assess
      expect(expected).toEqual(expect.arrayContaining(['POST /segment', 'POST /v1/{type}', 'OPTIONS /webhook/{sourceId}', 'GET /health']));
      expect([...routeKeys].sort()).toEqual([...expected].sort());
    });

    it('sends every method of the Webhooks route and its preflight to the webhooks function, every other route to ingest, with payload format 2.0', () => {
      // Prepare
      const webhookKeys = [...WEBHOOK_METHODS, 'OPTIONS'].map((method) => `${method} ${WEBHOOK_ROUTE}/{sourceId}`);
      const byFunction: Record<string, string[]> = {};

      // Act
      for (const [, route] of ofType('AWS::ApiGatewayV2::Route')) {
        const target = route.Properties.Target as { 'Fn::Join': [string, [string, { Ref: string }]] };
        const integration = resource(target['Fn::Join'][1][1].Ref);
        expect(integration.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
        const fn = (integration.Properties.IntegrationUri as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
        (byFunction[fn] ??= []).push(String(route.Properties.RouteKey));
      }

      // Assess
      expect(Object.keys(byFunction).sort()).toEqual(['IngestLambdaFunction', 'WebhooksLambdaFunction']);
      expect([...(byFunction.WebhooksLambdaFunction ?? [])].sort()).toEqual([...webhookKeys].sort());
      expect(byFunction.IngestLambdaFunction).toEqual(
        expect.arrayContaining(['$default', 'POST /segment', 'POST /v1/batch', 'POST /v1/{type}']),
      );
      expect(byFunction.IngestLambdaFunction?.filter((key) => key.includes(WEBHOOK_ROUTE))).toEqual([]);
    });

    it("leaves API Gateway's own CORS off, so the function answers preflights with its headers", () => {
      const api = ofType('AWS::ApiGatewayV2::Api');

      expect(api).toHaveLength(1);
      expect(api[0]?.[1].Properties.CorsConfiguration).toBeUndefined();
    });

    it('is named segment-ingest-<stage>, like its stack, dashboard and access log group (docs/deploy.md)', () => {
      expect(resource('HttpApi').Properties.Name).toBe(`segment-ingest-${STAGE}`);
      expect(resource('HttpApiLogGroup').Properties.LogGroupName).toBe(`/aws/http-api/segment-ingest-${STAGE}`);
      expect(readFileSync(path.join(__dirname, '../../docs/deploy.md'), 'utf8')).toContain(
        '| HTTP API (payload 2.0) | `segment-ingest-<stage>` |',
      );
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

    it('runs the webhooks function on the ingest bundle with the same role, timeout and environment, at 512 MB; ingest at 256 MB', () => {
      // Act
      const ingest = resource('IngestLambdaFunction').Properties;
      const webhooks = resource('WebhooksLambdaFunction').Properties;

      // Assess
      expect(ingest.MemorySize).toBe(256);
      expect(webhooks.MemorySize).toBe(512);
      expect(webhooks).toMatchObject({
        FunctionName: `segment-ingest-${STAGE}-webhooks`,
        Handler: 'dist/ingest/index.handler',
        Architectures: ['arm64'],
        Runtime: ingest.Runtime,
        Role: getAtt('IngestRole'),
        Timeout: ingest.Timeout,
        Environment: ingest.Environment,
      });
      expect(ingest.Role).toEqual(getAtt('IngestRole'));
      expect(resource('WorkerLambdaFunction').Properties.MemorySize).toBe(512);
      expect(resource('WebhooksLogGroup').Properties.RetentionInDays).toBe(14);
    });

    it("triggers the lake function from the six event tables' streams and its compaction from a schedule", () => {
      const lake = ofType('AWS::Lambda::EventSourceMapping').filter(([id]) => id.startsWith('Lake'));
      expect(lake.map(([, m]) => (m.Properties.EventSourceArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]).sort()).toEqual([
        'AliasTable',
        'GroupTable',
        'IdentifyTable',
        'PageTable',
        'ScreenTable',
        'TrackTable',
      ]);
      expect(lake.every(([, m]) => (m.Properties.FunctionName as { Ref: string }).Ref === 'LakeLambdaFunction')).toBe(true);
      expect(resource('LakeCompactLambdaFunction').Properties).toMatchObject({ Handler: 'dist/lake/index.compact', Timeout: 900 });
      expect(resource('LakeCompactSchedule').Properties.Targets).toEqual([{ Id: 'compact', Arn: getAtt('LakeCompactLambdaFunction') }]);
      expect(resource('LakeLambdaFunction').Properties.Role).toEqual(getAtt('LakeRole'));
    });

    it('gives both functions the environment lib/shared/config.ts reads, naming the deployed tables', () => {
      for (const name of Object.keys(FUNCTIONS)) {
        // Prepare
        const { Variables } = resource(`${pascal(name)}LambdaFunction`).Properties.Environment as {
          Variables: Record<string, unknown>;
        };

        // Act
        const config = loadConfig({ ...resolvedAtDeploy(Variables), QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/q' });

        // Assess
        expect(Variables).toMatchObject({
          STAGE,
          QUEUE_URL: { Ref: 'EventsQueue' },
          LOG_LEVEL: 'INFO',
          REJECTED_RETENTION_DAYS: '30',
          EVENT_RETENTION_DAYS: '0',
          TABLE_OVERRIDES: '',
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
      // Act: the lake's stream triggers (infra/lake.ts, tests/deploy/lake-template.test.ts) aside
      const mappings = ofType('AWS::Lambda::EventSourceMapping').filter(([id]) => !id.startsWith('Lake'));

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

    it('lets ingest (and webhooks, which shares its role) only enqueue, check the queue, read keys and sources, and write their own logs', () => {
      // Act
      const role = roleOf('ingest');
      const actions = statementsOf(role).flatMap(actionsOf);

      // Assess
      expect([...new Set(actions)].sort()).toEqual([
        'dynamodb:GetItem',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'sqs:GetQueueAttributes',
        'sqs:SendMessage',
      ]);
      expect(resourcesFor(role, 'sqs:SendMessage')).toEqual([getAtt('EventsQueue')]);
      // The deep health check asks the queue for an attribute; nothing else.
      expect(resourcesFor(role, 'sqs:GetQueueAttributes')).toEqual([getAtt('EventsQueue')]);
      expect(resourcesFor(role, 'dynamodb:GetItem')).toEqual([getAtt('KeysTable'), getAtt('SourcesTable')]);
      expect(resourcesFor(role, 'logs:PutLogEvents')).toEqual([getAtt('IngestLogGroup'), getAtt('WebhooksLogGroup')]);
      expect(roleOf('webhooks')).toBe(role);
    });

    it('lets the worker consume the events queue, store and erase events, and write its own log', () => {
      // Prepare
      const role = roleOf('worker');
      const eventArns = eventTables.map((name) => getAtt(`${pascal(name)}Table`));

      // Act
      const actions = [...new Set(statementsOf(role).flatMap(actionsOf))];

      // Assess
      // What the SQS event source mapping needs (AWSLambdaSQSQueueExecutionRole), and no more.
      for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) {
        expect(resourcesFor(role, action)).toEqual([getAtt('EventsQueue')]);
      }
      // And SendMessage, to continue an erasure that ran out of time (lib/worker/requeue.ts).
      expect(actions.filter((action) => action.startsWith('sqs:')).sort()).toEqual([
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ReceiveMessage',
        'sqs:SendMessage',
      ]);
      // Every table whose batch writes can be refused item by item: lib/worker/write.ts resends such an item
      // alone with PutItem, the profiles' link items included (issue 22: that fallback was denied in AWS).
      expect(resourcesFor(role, 'dynamodb:PutItem')).toEqual(
        expect.arrayContaining([...eventArns, getAtt('RejectedTable'), getAtt('ProfilesTable')]),
      );
      // Observed schemas (lib/worker/schemas/): read an event key's paths, upsert signatures; profiles:
      // an erased user's partition (lib/worker/profiles/erase.ts).
      expect(resourcesFor(role, 'dynamodb:Query')).toEqual([...eventArns, getAtt('SchemasTable'), getAtt('ProfilesTable')]);
      expect(resourcesFor(role, 'dynamodb:GetItem')).toEqual([getAtt('SchemasTable')]);
      expect(resourcesFor(role, 'dynamodb:BatchWriteItem')).toEqual(expect.arrayContaining([...eventArns, getAtt('RejectedTable')]));
      // Not the profiles table: activity is derived at read time since issue 22, nothing updates a profile in place.
      expect(resourcesFor(role, 'dynamodb:UpdateItem')).toEqual([getAtt('ErasuresTable'), getAtt('SchemasTable')]);
      expect(resourcesFor(role, 'dynamodb:BatchGetItem')).toEqual([getAtt('ErasuresTable'), getAtt('ProfilesTable')]);
      // Profiles (lib/worker/profiles/): conditional fact writes as PartiQL statements, on the profiles table only;
      // no PartiQL DELETE (erasure deletes with BatchWriteItem).
      for (const action of ['dynamodb:PartiQLInsert', 'dynamodb:PartiQLUpdate']) {
        expect(resourcesFor(role, action)).toEqual([getAtt('ProfilesTable')]);
      }
      expect(actions).not.toContain('dynamodb:PartiQLDelete');
      // Exactly the calls the profile code makes (lib/tables/profiles.ts PROFILE_WORKER_ACTIONS), no more, no fewer.
      const onProfiles = actions.filter((action) =>
        resourcesFor(role, action).some((arn) => JSON.stringify(arn) === JSON.stringify(getAtt('ProfilesTable'))),
      );
      expect(onProfiles.sort()).toEqual([...PROFILE_WORKER_ACTIONS].sort());
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

    it('generates the privacy hash key in Secrets Manager, keeps it, and hands it to the ingest function only', () => {
      const secret = resource('PrivacyHashKeySecret');
      const worker = resource('WorkerLambdaFunction').Properties.Environment as { Variables: Record<string, unknown> };
      const ingest = resource('IngestLambdaFunction').Properties.Environment as { Variables: Record<string, unknown> };

      expect(secret).toMatchObject({ Type: 'AWS::SecretsManager::Secret', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      expect(ingest.Variables.PRIVACY_HASH_KEY).toEqual({ 'Fn::Sub': '{{resolve:secretsmanager:${PrivacyHashKeySecret}}}' });
      expect(worker.Variables.PRIVACY_HASH_KEY).toBeUndefined();
      expect(template.Outputs.PrivacyHashKeySecretArn?.Value).toEqual({ Ref: 'PrivacyHashKeySecret' });
    });

    it('hands the profiles and profileActivity stage parameters to the worker', () => {
      const worker = resource('WorkerLambdaFunction').Properties.Environment as { Variables: Record<string, unknown> };
      expect(worker.Variables.PROFILES).toBe('true');
      expect(loadConfig({ PROFILES: String(worker.Variables.PROFILES) }).profiles).toBe(true);
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
        ]),
      );
    });

    it('alarms on errors and throttles of each function on either side of the queue', () => {
      // Act
      const lambdaAlarms = ofType('AWS::CloudWatch::Alarm')
        .map(([, alarm]) => alarm.Properties)
        .filter((alarm) => alarm.Namespace === 'AWS/Lambda')
        .map((alarm) => `${(alarm.Dimensions as Array<{ Value: { Ref: string } }>)[0]?.Value.Ref} ${String(alarm.MetricName)}`);

      // Assess
      expect(lambdaAlarms.sort()).toEqual(
        ['IngestLambdaFunction', 'WebhooksLambdaFunction', 'WorkerLambdaFunction']
          .flatMap((fn) => [`${fn} Errors`, `${fn} Throttles`])
          .sort(),
      );
    });

    it('draws a dashboard of the pipeline whose every ${...} names a resource of the stack', () => {
      // Prepare
      const body = dashboardBody(template);

      // Act
      const references = [...body.matchAll(/\$\{([^}]+)\}/g)].map((match) => String(match[1]).split('.')[0] ?? '');

      // Assess
      expect(() => JSON.parse(body) as unknown).not.toThrow();
      for (const name of references) {
        if (!name.startsWith('AWS::')) expect(template.Resources[name]).toBeDefined();
      }
      expect(new Set(references)).toEqual(
        new Set([
          'HttpApi',
          'AWS::Region',
          'IngestLambdaFunction',
          'WebhooksLambdaFunction',
          'WorkerLambdaFunction',
          'EventsQueue',
          'DeadLetterQueue',
          'IngestLogGroup',
          'WebhooksLogGroup',
        ]),
      );
      expect(body).toContain('Namespace=\\"SegmentIngest\\"');
    });

    it('draws every metric named in lib/shared/metrics.ts', () => {
      // Act
      const drawn = new Set(drawnMetrics(dashboardBody(template)).map(({ metric }) => metric));

      // Assess
      const missing = [...COUNT_METRICS, LATENCY_METRIC].filter((metric) => !drawn.has(metric));
      expect(missing).toEqual([]);
    });

    it("draws every metric the code of each function counts, on that function's series", () => {
      // Prepare: the names passed to `meter.count` in each function's code, and both latencies.
      const emitted = (folder: string) =>
        readdirSync(path.join(__dirname, '../../lib', folder))
          .filter((file) => file.endsWith('.ts'))
          .flatMap((file) => [...readFileSync(path.join(__dirname, '../../lib', folder, file), 'utf8').matchAll(/\.count\(\s*'(\w+)'/g)])
          .map((match) => String(match[1]));
      const expected = [
        ...emitted('ingest').map((metric) => `ingest ${metric}`),
        ...emitted('worker').map((metric) => `worker ${metric}`),
        ...emitted('lake').map((metric) => `lake ${metric}`),
        `ingest ${LATENCY_METRIC}`,
        `worker ${LATENCY_METRIC}`,
      ];

      // Act
      const drawn = new Set(drawnMetrics(dashboardBody(template)).map(({ fn, metric }) => `${fn} ${metric}`));

      // Assess
      expect(expected.length).toBeGreaterThan(15);
      expect(expected).toContain('lake LakeRowsErased');
      expect(expected.filter((pair) => !drawn.has(pair))).toEqual([]);
    });

    it("alarms on the service's own metrics per function, with the dimensions the functions write (webhooks meters as ingest)", () => {
      // Act
      const custom = ofType('AWS::CloudWatch::Alarm')
        .map(([id, alarm]) => [id, alarm.Properties] as const)
        .filter(([, alarm]) => alarm.Namespace === 'SegmentIngest');

      // Assess
      expect(Object.fromEntries(custom.map(([id, alarm]) => [id, [alarm.MetricName, alarm.Dimensions]]))).toEqual({
        IngestDependencyErrorsAlarm: ['DependencyErrors', dimensions('ingest', { kind: 'configuration' })],
        WorkerDependencyErrorsAlarm: ['DependencyErrors', dimensions('worker', { kind: 'configuration' })],
        IngestUnexpectedErrorsAlarm: ['UnexpectedErrors', dimensions('ingest')],
        WorkerUnexpectedErrorsAlarm: ['UnexpectedErrors', dimensions('worker')],
        ProfileWritesRefusedAlarm: ['ProfileWritesRefused', dimensions('worker')],
        QuarantineSpikeAlarm: ['QuarantinedRecords', dimensions('worker')],
        IngestLatencyAlarm: ['HandlerLatency', dimensions('ingest')],
      });
      expect(resource('QuarantineSpikeAlarm').Properties).toMatchObject({ Statistic: 'Sum', Period: 300, Threshold: 100 });
      expect(resource('IngestLatencyAlarm').Properties).toMatchObject({ ExtendedStatistic: 'p99', Threshold: 2000, EvaluationPeriods: 2 });
    });

    it('has a runbook in docs/operations.md for every alarm', () => {
      // Prepare
      const operations = readFileSync(path.join(__dirname, '../../docs/operations.md'), 'utf8');

      // Act
      const names = ofType('AWS::CloudWatch::Alarm').map(([, alarm]) =>
        String(alarm.Properties.AlarmName).replace(`segment-ingest-${STAGE}-`, ''),
      );

      // Assess
      expect(names.length).toBeGreaterThanOrEqual(13);
      expect(names.filter((name) => !operations.includes(`### \`${name}\``))).toEqual([]);
    });

    it('saves the Logs Insights queries of docs/operations.md, each on log groups of the stack', () => {
      // Prepare
      const operations = readFileSync(path.join(__dirname, '../../docs/operations.md'), 'utf8');

      // Act
      const queries = ofType('AWS::Logs::QueryDefinition').map(([, query]) => query.Properties);

      // Assess
      expect(queries.map((query) => query.Name).sort()).toEqual(
        ['api-5xx', 'errors-and-warnings', 'events-rejected-by-source', 'request-path', 'requests-refused-by-reason'].map(
          (name) => `segment-ingest-${STAGE}/${name}`,
        ),
      );
      for (const query of queries) {
        const groups = query.LogGroupNames as Array<{ Ref: string }>;
        expect(groups.length).toBeGreaterThan(0);
        for (const group of groups) expect(resource(group.Ref).Type).toBe('AWS::Logs::LogGroup');
        // The docs quote each query as deployed, so an operator can paste it anywhere.
        expect({ name: query.Name, inDocs: operations.includes(String(query.QueryString)) }).toEqual({ name: query.Name, inDocs: true });
      }
      const path_ = queries.find((query) => String(query.Name).endsWith('/request-path'));
      expect((path_?.LogGroupNames as Array<{ Ref: string }>).map((group) => group.Ref).sort()).toEqual([
        'HttpApiLogGroup',
        'IngestLogGroup',
        'WebhooksLogGroup',
        'WorkerLogGroup',
      ]);
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

  describe('packaged with eventRetentionDays=90 and tableOverrides=track=<restored table>', () => {
    const tunedResource = (logicalId: string): Resource => {
      const found = tuned.Resources[logicalId];
      if (!found) throw new Error(`no resource ${logicalId} in the tuned template`);
      return found;
    };

    it('turns TTL on for the six event tables only, on the attribute the worker writes', () => {
      for (const [name, definition] of Object.entries(TABLES)) {
        const ttl = tunedResource(`${pascal(name)}Table`).Properties.TimeToLiveSpecification;
        const expected =
          definition.kind === 'event'
            ? { AttributeName: resourcesJson.eventTtlAttribute, Enabled: true }
            : definition.ttlAttribute
              ? { AttributeName: definition.ttlAttribute, Enabled: true }
              : undefined;
        expect({ name, ttl }).toEqual({ name, ttl: expected });
      }
      expect(eventTables).toHaveLength(6);
      expect(resourcesJson.eventTtlAttribute).toBe('_x');
    });

    it('hands both functions the retention and the override, which lib/shared/config.ts reads', () => {
      for (const name of Object.keys(FUNCTIONS)) {
        // Prepare
        const { Variables } = tunedResource(`${pascal(name)}LambdaFunction`).Properties.Environment as {
          Variables: Record<string, unknown>;
        };

        // Act
        const config = loadConfig({ ...resolvedAtDeploy(Variables), QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/q' });

        // Assess
        expect(Variables).toMatchObject({ EVENT_RETENTION_DAYS: '90', TABLE_OVERRIDES: `track=${RESTORED_TRACK}` });
        expect(config.eventRetentionDays).toBe(90);
        expect(config.tables.track).toBe(RESTORED_TRACK);
        expect(config.tables.page).toBe(`segment-ingest-${STAGE}-page`);
      }
    });

    it("grants the worker the restored table instead of the stack's own, and outputs its name for the CLI", () => {
      // Prepare
      const workerRole = tuned.Resources[
        (tunedResource('WorkerLambdaFunction').Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]
      ] as Resource;
      const restoredArn = { 'Fn::Sub': `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/${RESTORED_TRACK}` };

      // Act
      const granted = statementsOf(workerRole).flatMap(resourcesOf);

      // Assess
      expect(resourcesFor(workerRole, 'dynamodb:BatchWriteItem')).toContainEqual(restoredArn);
      expect(resourcesFor(workerRole, 'dynamodb:Query')).toContainEqual(restoredArn);
      expect(granted).not.toContainEqual(getAtt('TrackTable'));
      expect(granted).toContainEqual(getAtt('PageTable'));
      // The stack's own track table stays (retained, untouched); the CLI reads the restored one.
      expect(tunedResource('TrackTable').Properties.TableName).toBe(`segment-ingest-${STAGE}-track`);
      expect(tuned.Outputs.TrackTableName?.Value).toBe(RESTORED_TRACK);
      expect(tuned.Outputs.PageTableName?.Value).toEqual({ Ref: 'PageTable' });
    });
  });
});
