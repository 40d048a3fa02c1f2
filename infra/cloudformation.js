// @ts-check
'use strict';
/**
 * CloudFormation for everything `serverless.yml` does not declare itself, generated from
 * `infra/resources.json` so the deployed tables and queues are the ones the local stack and the
 * tests create: a table added there (issue 3 adds `erasures`) is deployed, granted and output
 * without touching `serverless.yml`.
 *
 * serverless loads this file with plain `require` (it cannot load TypeScript) and calls `resources`
 * and `outputs` while resolving `${file(./infra/cloudformation.js):resources}` and `:outputs`,
 * passing its variable resolver: that is how stage parameters reach this file.
 *
 * Logical ids: `<Name>Table`, `<Name>Queue` (PascalCase of the resources.json key), `IngestRole`,
 * `WorkerRole`, `AlarmTopic`, `Dashboard`; `HttpApi`, `<Function>LambdaFunction` and
 * `<Function>LogGroup` are serverless's own.
 */
const resourcesJson = require('./resources.json');

/**
 * @typedef {{ kind: string, partitionKey: string, sortKey?: string, ttlAttribute?: string }} TableDefinition
 * @typedef {{ visibilityTimeoutSeconds: number, messageRetentionSeconds: number, receiveWaitTimeSeconds: number,
 *   maximumMessageSizeBytes: number, deadLetter?: string, maxReceiveCount?: number }} QueueDefinition
 * @typedef {{ service: string, tables: Record<string, TableDefinition>, queues: Record<string, QueueDefinition> }} Definitions
 * @typedef {{
 *   stage: string,
 *   maxReceiveCount: number,
 *   queueAgeAlarmSeconds: number,
 *   alarmEmail: string,
 *   tableDeletionPolicy: string,
 *   workerTimeout: number,
 *   workerBatchWindow: number,
 * }} Settings
 * @typedef {{ definitions: Definitions, settings: Settings, prefix: string }} Stack
 * @typedef {(variable: string) => Promise<unknown>} ResolveVariable
 * @typedef {(path: string[]) => Promise<unknown>} ResolveConfigurationProperty
 * @typedef {{ resolveVariable: ResolveVariable, resolveConfigurationProperty: ResolveConfigurationProperty }} Resolver
 * @typedef {Record<string, unknown>} Template
 */

/** The queue the ingest function fills and the worker drains. */
const EVENTS_QUEUE = 'events';
/** The table of erasure audit records (issue 3); granted to the worker once resources.json has it. */
const ERASURES_TABLE = 'erasures';
const METRICS_NAMESPACE = 'SegmentIngest';
const CUSTOM_METRICS = {
  ingest: ['EventsAccepted', 'EventsRejected', 'EnqueueRetries', 'EnqueueFailures'],
  worker: ['EventsStored', 'WriteRetries', 'Erasures'],
};

/** @param {string} name e.g. `dead-letter` */
const pascal = (name) =>
  name
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
/** @param {string} name */
const tableId = (name) => `${pascal(name)}Table`;
/** @param {string} name */
const queueId = (name) => `${pascal(name)}Queue`;
/** @param {string} name */
const functionId = (name) => `${pascal(name)}LambdaFunction`;
/** @param {string} logicalId */
const arn = (logicalId) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
/** @param {string} logicalId */
const ref = (logicalId) => ({ Ref: logicalId });
/** Physical name, as `resourceName` in infra/index.ts: `segment-ingest-<stage>-<name>`. */
const physicalName = (/** @type {Stack} */ stack, /** @type {string} */ name) => `${stack.prefix}-${name}`;

/**
 * The maximum batching window of a function's SQS trigger, 0 when it has none.
 * @param {ResolveConfigurationProperty} resolveConfigurationProperty
 * @param {string} functionName
 */
async function sqsBatchingWindow(resolveConfigurationProperty, functionName) {
  const events = await resolveConfigurationProperty(['functions', functionName, 'events']);
  const trigger = Array.isArray(events) ? events.find((event) => event && typeof event === 'object' && 'sqs' in event) : undefined;
  return Number(trigger?.sqs?.maximumBatchingWindow ?? 0);
}

/**
 * Reads the stage parameters and function settings this file needs from serverless.
 * @param {Resolver} resolver
 * @returns {Promise<Settings>}
 */
async function readSettings({ resolveVariable, resolveConfigurationProperty }) {
  const param = (/** @type {string} */ name) => resolveVariable(`param:${name}`);
  return {
    stage: String(await resolveVariable('sls:stage')),
    maxReceiveCount: Number(await param('maxReceiveCount')),
    queueAgeAlarmSeconds: Number(await param('queueAgeAlarmSeconds')),
    alarmEmail: String((await param('alarmEmail')) ?? '').trim(),
    tableDeletionPolicy: String(await param('tableDeletionPolicy')),
    workerTimeout: Number(await resolveConfigurationProperty(['functions', 'worker', 'timeout'])),
    workerBatchWindow: await sqsBatchingWindow(resolveConfigurationProperty, 'worker'),
  };
}

/**
 * Throws one error listing every problem with `settings` against `definitions`.
 * @param {Definitions} definitions
 * @param {Settings} settings
 */
function checkSettings(definitions, settings) {
  const problems = [];
  /** @param {keyof Settings} name @param {number} min @param {number} max */
  const integer = (name, min, max) => {
    const value = settings[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`param ${name} must be a whole number from ${min} to ${max}, got "${String(value)}"`);
    }
  };
  integer('maxReceiveCount', 1, 1000);
  integer('queueAgeAlarmSeconds', 60, 1209600);
  if (!['Retain', 'Delete'].includes(settings.tableDeletionPolicy)) {
    problems.push(`param tableDeletionPolicy must be Retain or Delete, got "${settings.tableDeletionPolicy}"`);
  }
  if (settings.alarmEmail !== '' && !/^[^@\s]+@[^@\s]+$/.test(settings.alarmEmail)) {
    problems.push(`param alarmEmail must be an email address or empty, got "${settings.alarmEmail}"`);
  }
  // AWS's rule for SQS triggers: a visibility timeout under six times the function timeout (plus
  // the batching window) lets SQS hand a batch that is still being written to a second worker.
  const visibility = definitions.queues[EVENTS_QUEUE]?.visibilityTimeoutSeconds ?? 0;
  const needed = 6 * settings.workerTimeout + settings.workerBatchWindow;
  if (!Number.isFinite(needed) || visibility < needed) {
    problems.push(
      `queue "${EVENTS_QUEUE}" visibilityTimeoutSeconds (${visibility}) in infra/resources.json must be at least ` +
        `6 x the worker timeout (${settings.workerTimeout}) + its batching window (${settings.workerBatchWindow}) = ${needed}`,
    );
  }
  for (const [name, queue] of Object.entries(definitions.queues)) {
    if (queue.deadLetter && !definitions.queues[queue.deadLetter]) {
      problems.push(`queue "${name}" in infra/resources.json names an unknown deadLetter "${queue.deadLetter}"`);
    }
  }
  if (problems.length > 0) throw new Error(`segment-ingest deployment settings:\n  ${problems.join('\n  ')}`);
}

/** @param {Stack} stack */
function tables(stack) {
  /** @type {Template} */
  const resources = {};
  for (const [name, table] of Object.entries(stack.definitions.tables)) {
    const keys = [
      { AttributeName: table.partitionKey, KeyType: 'HASH' },
      ...(table.sortKey ? [{ AttributeName: table.sortKey, KeyType: 'RANGE' }] : []),
    ];
    resources[tableId(name)] = {
      Type: 'AWS::DynamoDB::Table',
      // The data is what this service exists to keep: by default neither removing the stack nor
      // a change that replaces a table deletes it (docs/deploy.md says how to delete it by hand).
      DeletionPolicy: stack.settings.tableDeletionPolicy,
      UpdateReplacePolicy: stack.settings.tableDeletionPolicy,
      Properties: {
        TableName: physicalName(stack, name),
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: keys.map(({ AttributeName }) => ({ AttributeName, AttributeType: 'S' })),
        KeySchema: keys,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        ...(table.ttlAttribute ? { TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true } } : {}),
      },
    };
  }
  return resources;
}

/** @param {Stack} stack */
function queues(stack) {
  /** @type {Template} */
  const resources = {};
  for (const [name, queue] of Object.entries(stack.definitions.queues)) {
    resources[queueId(name)] = {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: physicalName(stack, name),
        VisibilityTimeout: queue.visibilityTimeoutSeconds,
        MessageRetentionPeriod: queue.messageRetentionSeconds,
        ReceiveMessageWaitTimeSeconds: queue.receiveWaitTimeSeconds,
        MaximumMessageSize: queue.maximumMessageSizeBytes,
        SqsManagedSseEnabled: true,
        ...(queue.deadLetter
          ? {
              RedrivePolicy: {
                deadLetterTargetArn: arn(queueId(queue.deadLetter)),
                maxReceiveCount: stack.settings.maxReceiveCount,
              },
            }
          : {}),
      },
    };
  }
  return resources;
}

/**
 * @param {string} logicalId
 * @param {string} logGroupId the function's log group, the only one it may write to
 * @param {Array<{ Sid: string, Action: string[], Resource: unknown[] }>} statements
 */
function lambdaRole(logicalId, logGroupId, statements) {
  return {
    [logicalId]: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        },
        Policies: [
          {
            PolicyName: logicalId,
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                { Sid: 'WriteOwnLogs', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [arn(logGroupId)] },
                ...statements,
              ].map((statement) => ({ Effect: 'Allow', ...statement })),
            },
          },
        ],
      },
    },
  };
}

/**
 * One role per function, each allowed only the actions it performs on the resources it touches.
 * No `cloudwatch:PutMetricData`: metrics leave as EMF lines in the function's own log.
 * @param {Stack} stack
 */
function roles(stack) {
  const all = stack.definitions.tables;
  const ofKind = (/** @type {string} */ kind) => Object.keys(all).filter((name) => all[name]?.kind === kind);
  const tableArns = (/** @type {string[]} */ names) => names.map((name) => arn(tableId(name)));
  const events = arn(queueId(EVENTS_QUEUE));

  return {
    ...lambdaRole('IngestRole', 'IngestLogGroup', [
      { Sid: 'Enqueue', Action: ['sqs:SendMessage'], Resource: [events] },
      { Sid: 'Authenticate', Action: ['dynamodb:GetItem'], Resource: tableArns(['keys', 'sources']) },
    ]),
    ...lambdaRole('WorkerRole', 'WorkerLogGroup', [
      {
        Sid: 'ConsumeQueue',
        Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'],
        Resource: [events],
      },
      // lib/worker/requeue.ts: an erasure that runs out of time continues in a message of its own.
      { Sid: 'ContinueErasures', Action: ['sqs:SendMessage'], Resource: [events] },
      {
        Sid: 'StoreEvents',
        Action: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem'],
        Resource: tableArns([...ofKind('event'), ...ofKind('quarantine')]),
      },
      {
        Sid: 'EraseEvents',
        // lib/worker/erasure.ts: Query a user's partition, delete its items with BatchWriteItem.
        Action: ['dynamodb:Query', 'dynamodb:BatchWriteItem'],
        Resource: tableArns(ofKind('event')),
      },
      ...(all[ERASURES_TABLE]
        ? [
            {
              Sid: 'AuditErasures',
              // lib/worker/erasure.ts: tombstones and audit records are upserts; the worker reads tombstones in batches.
              Action: ['dynamodb:UpdateItem', 'dynamodb:BatchGetItem'],
              Resource: tableArns([ERASURES_TABLE]),
            },
          ]
        : []),
      // lib/worker/profiles/: batched reads, conditional writes on the revision read (PartiQL statements
      // in BatchExecuteStatement), key-only link items and erasure deletes in batches.
      ...(ofKind('profile').length > 0
        ? [
            {
              Sid: 'KeepProfiles',
              Action: [
                'dynamodb:BatchGetItem',
                'dynamodb:PartiQLInsert',
                'dynamodb:PartiQLUpdate',
                'dynamodb:PartiQLDelete',
                'dynamodb:BatchWriteItem',
              ],
              Resource: tableArns(ofKind('profile')),
            },
          ]
        : []),
    ]),
  };
}

/** @param {Stack} stack */
function alarms(stack) {
  const { settings, prefix } = stack;
  const topic = ref('AlarmTopic');
  /**
   * @param {string} name
   * @param {string} description
   * @param {Record<string, unknown>} metric Namespace, MetricName, Dimensions, Statistic and, where not 60 s, Period
   * @param {number} threshold the alarm fires above it
   */
  const alarm = (name, description, metric, threshold) => ({
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${prefix}-${name}`,
      AlarmDescription: description,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: threshold,
      TreatMissingData: 'notBreaching',
      AlarmActions: [topic],
      OKActions: [topic],
      Period: 60,
      EvaluationPeriods: 1,
      ...metric,
    },
  });
  const lambda = (/** @type {string} */ fn, /** @type {string} */ metricName) => ({
    Namespace: 'AWS/Lambda',
    MetricName: metricName,
    Dimensions: [{ Name: 'FunctionName', Value: ref(functionId(fn)) }],
    Statistic: 'Sum',
    Period: 300,
  });
  const sqs = (/** @type {string} */ queue, /** @type {string} */ metricName) => ({
    Namespace: 'AWS/SQS',
    MetricName: metricName,
    Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId(queue), 'QueueName'] } }],
    Statistic: 'Maximum',
  });
  const deadLetter = stack.definitions.queues[EVENTS_QUEUE]?.deadLetter;

  return {
    AlarmTopic: { Type: 'AWS::SNS::Topic', Properties: { TopicName: `${prefix}-alarms`, DisplayName: `${prefix} alarms` } },
    ...(settings.alarmEmail
      ? {
          AlarmEmailSubscription: {
            Type: 'AWS::SNS::Subscription',
            Properties: { TopicArn: topic, Protocol: 'email', Endpoint: settings.alarmEmail },
          },
        }
      : {}),
    ...(deadLetter
      ? {
          DeadLetterNotEmptyAlarm: alarm(
            'dead-letter-not-empty',
            'Messages the worker failed repeatedly wait in the dead-letter queue: find the cause, then redrive them',
            sqs(deadLetter, 'ApproximateNumberOfMessagesVisible'),
            0,
          ),
        }
      : {}),
    QueueAgeAlarm: alarm(
      'queue-age',
      `The oldest queued event has waited over ${settings.queueAgeAlarmSeconds} s: the worker is failing, throttled or too slow`,
      { ...sqs(EVENTS_QUEUE, 'ApproximateAgeOfOldestMessage'), EvaluationPeriods: 5 },
      settings.queueAgeAlarmSeconds,
    ),
    ApiServerErrorsAlarm: alarm(
      'api-5xx',
      'The API answered 5xx: Segment retries, but the ingest path is failing',
      {
        Namespace: 'AWS/ApiGateway',
        MetricName: '5xx',
        Dimensions: [{ Name: 'ApiId', Value: ref('HttpApi') }],
        Statistic: 'Sum',
        Period: 300,
      },
      0,
    ),
    IngestErrorsAlarm: alarm('ingest-errors', 'The ingest function crashed or timed out', lambda('ingest', 'Errors'), 0),
    IngestThrottlesAlarm: alarm('ingest-throttles', 'The ingest function was throttled', lambda('ingest', 'Throttles'), 0),
    WorkerErrorsAlarm: alarm('worker-errors', 'The worker function crashed or timed out', lambda('worker', 'Errors'), 0),
    WorkerThrottlesAlarm: alarm('worker-throttles', 'The worker function was throttled', lambda('worker', 'Throttles'), 0),
  };
}

/**
 * The pipeline on one page, in the order an event travels. The body goes through `Fn::Sub`, so
 * `${HttpApi}` and the like become the deployed ids.
 * @param {Stack} stack
 */
function dashboard(stack) {
  /** @typedef {Record<string, unknown>} Options */
  const api = (/** @type {string} */ metric, /** @type {Options} */ options = {}) => [
    'AWS/ApiGateway',
    metric,
    'ApiId',
    '${HttpApi}',
    { label: metric, ...options },
  ];
  const lambda = (/** @type {string} */ fn, /** @type {string} */ metric, /** @type {Options} */ options = {}) => [
    'AWS/Lambda',
    metric,
    'FunctionName',
    `\${${functionId(fn)}}`,
    { label: `${fn} ${metric}`, ...options },
  ];
  const sqs = (/** @type {string} */ queue, /** @type {string} */ metric) => [
    'AWS/SQS',
    metric,
    'QueueName',
    `\${${queueId(queue)}.QueueName}`,
    { label: `${queue} ${metric}` },
  ];
  // Powertools emits EMF with a `service` dimension (POWERTOOLS_SERVICE_NAME, one per stage);
  // SEARCH finds the series whatever other dimensions the code adds, SUM draws them as one line.
  const custom = (/** @type {string} */ metric) => [
    {
      id: metric.charAt(0).toLowerCase() + metric.slice(1), // metric math ids start lowercase
      label: metric,
      expression: `SUM(SEARCH('Namespace="${METRICS_NAMESPACE}" MetricName="${metric}" service="${stack.prefix}"', 'Sum', 300))`,
    },
  ];
  /** @param {string} title @param {unknown[]} metrics @param {Options} [extra] */
  const graph = (title, metrics, extra = {}) => ({
    type: 'metric',
    width: 8,
    height: 6,
    properties: { title, metrics, region: '${AWS::Region}', view: 'timeSeries', stat: 'Sum', period: 300, ...extra },
  });
  const latest = { stat: 'Maximum', period: 60 };
  const deadLetter = stack.definitions.queues[EVENTS_QUEUE]?.deadLetter;
  const rows = [
    [
      graph('API requests', [api('Count'), api('4xx'), api('5xx')]),
      graph('API latency (ms)', [
        api('Latency', { stat: 'p50', label: 'p50' }),
        api('Latency', { stat: 'p99', label: 'p99' }),
        api('IntegrationLatency', { stat: 'p99', label: 'integration p99' }),
      ]),
      graph('Ingest: events (SegmentIngest)', CUSTOM_METRICS.ingest.map(custom)),
    ],
    [
      graph(
        'Lambda invocations, errors, throttles',
        ['ingest', 'worker'].flatMap((fn) => ['Invocations', 'Errors', 'Throttles'].map((metric) => lambda(fn, metric))),
      ),
      graph(
        'Lambda duration (ms)',
        ['ingest', 'worker'].flatMap((fn) => [
          lambda(fn, 'Duration', { stat: 'p50', label: `${fn} p50` }),
          lambda(fn, 'Duration', { stat: 'p99', label: `${fn} p99` }),
        ]),
      ),
      graph('Worker: events (SegmentIngest)', CUSTOM_METRICS.worker.map(custom)),
    ],
    [
      graph(
        'Queue depth',
        [sqs(EVENTS_QUEUE, 'ApproximateNumberOfMessagesVisible'), sqs(EVENTS_QUEUE, 'ApproximateNumberOfMessagesNotVisible')],
        latest,
      ),
      graph('Oldest queued message (s)', [sqs(EVENTS_QUEUE, 'ApproximateAgeOfOldestMessage')], latest),
      graph('Dead-letter queue depth', deadLetter ? [sqs(deadLetter, 'ApproximateNumberOfMessagesVisible')] : [], latest),
    ],
  ];
  const widgets = rows.flatMap((row, y) => row.map((widget, x) => ({ ...widget, x: x * 8, y: y * 6 })));
  return {
    Dashboard: {
      Type: 'AWS::CloudWatch::Dashboard',
      Properties: { DashboardName: stack.prefix, DashboardBody: { 'Fn::Sub': JSON.stringify({ widgets }) } },
    },
  };
}

/**
 * The stage's secret for naming users in erasure records (lib/worker/erasure.ts `userHash`),
 * generated by Secrets Manager at the first deploy and handed to the worker through a dynamic
 * reference. Retained: without it, the tombstones of erased users could not be found again.
 * @param {Stack} stack
 */
function secrets(stack) {
  return {
    ErasureHashKeySecret: {
      Type: 'AWS::SecretsManager::Secret',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        Name: `${stack.prefix}-erasure-hash-key`,
        Description: 'HMAC key that erasure tombstones and audit records of segment-ingest name users with',
        GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
      },
    },
  };
}

/** @param {Stack} stack */
function outputs(stack) {
  /** @type {Template} */
  const result = {
    SegmentEndpointUrl: {
      Description: 'Segment Direct destination endpoint (POST, Basic key); serverless adds HttpApiUrl, the base URL',
      Value: { 'Fn::Sub': 'https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/segment' },
    },
  };
  for (const name of Object.keys(stack.definitions.queues)) {
    result[`${queueId(name)}Url`] = { Description: `URL of the ${name} queue`, Value: ref(queueId(name)) };
    result[`${queueId(name)}Name`] = {
      Description: `Name of the ${name} queue`,
      Value: { 'Fn::GetAtt': [queueId(name), 'QueueName'] },
    };
  }
  for (const name of Object.keys(stack.definitions.tables)) {
    result[`${tableId(name)}Name`] = { Description: `Name of the ${name} table`, Value: ref(tableId(name)) };
  }
  result.AlarmTopicArn = { Description: 'SNS topic the alarms publish to', Value: ref('AlarmTopic') };
  result.ErasureHashKeySecretArn = {
    Description: 'Secrets Manager secret the erasure records name users with (segment-ingest erasures show reads it)',
    Value: ref('ErasureHashKeySecret'),
  };
  result.DashboardUrl = {
    Description: 'CloudWatch dashboard of the pipeline',
    Value: {
      'Fn::Sub': `https://\${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=\${AWS::Region}#dashboards:name=${stack.prefix}`,
    },
  };
  return result;
}

/**
 * The generated part of the stack: `Resources` (tables, queues, roles, alarms, dashboard) and
 * `Outputs`. Pure: the tests call it with their own definitions.
 * @param {Definitions} definitions
 * @param {Settings} settings
 * @returns {{ Resources: Template, Outputs: Template }}
 * @throws {Error} listing every invalid setting
 */
function generateTemplate(definitions, settings) {
  checkSettings(definitions, settings);
  /** @type {Stack} */
  const stack = { definitions, settings, prefix: `${definitions.service}-${settings.stage}` };
  return {
    Resources: { ...tables(stack), ...queues(stack), ...secrets(stack), ...roles(stack), ...alarms(stack), ...dashboard(stack) },
    Outputs: outputs(stack),
  };
}

module.exports = {
  generateTemplate,
  /** `${file(./infra/cloudformation.js):resources}` @param {Resolver} resolver */
  resources: async (resolver) => generateTemplate(resourcesJson, await readSettings(resolver)).Resources,
  /** `${file(./infra/cloudformation.js):outputs}` @param {Resolver} resolver */
  outputs: async (resolver) => generateTemplate(resourcesJson, await readSettings(resolver)).Outputs,
};
