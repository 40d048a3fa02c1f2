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
 * `WorkerRole`, `AlarmTopic`, `Dashboard`, `<Name>Query` (saved Logs Insights queries); `HttpApi`,
 * `<Function>LambdaFunction` and `<Function>LogGroup` are serverless's own.
 */
const resourcesJson = require('./resources.json');
const { readLakeSettings, withLake } = require('./lake');

/**
 * @typedef {{ kind: string, partitionKey: string, sortKey?: string, ttlAttribute?: string }} TableDefinition
 * @typedef {{ visibilityTimeoutSeconds: number, messageRetentionSeconds: number, receiveWaitTimeSeconds: number,
 *   maximumMessageSizeBytes: number, deadLetter?: string, maxReceiveCount?: number }} QueueDefinition
 * @typedef {{ service: string, eventTtlAttribute?: string, tables: Record<string, TableDefinition>,
 *   queues: Record<string, QueueDefinition> }} Definitions
 * @typedef {{
 *   stage: string,
 *   maxReceiveCount: number,
 *   queueAgeAlarmSeconds: number,
 *   alarmEmail: string,
 *   tableDeletionPolicy: string,
 *   workerTimeout: number,
 *   workerBatchWindow: number,
 *   eventRetentionDays?: number,
 *   tableOverrides?: string,
 *   quarantineAlarmThreshold?: number,
 *   ingestLatencyAlarmMs?: number,
 *   lake?: boolean,
 *   lakeSources?: string[],
 *   lakeBytesScannedLimitGb?: number,
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
/** Observed schemas (issue 14): the worker reads and upserts them (lib/worker/schemas/). */
const SCHEMAS_TABLE = 'schemas';
const METRICS_NAMESPACE = 'SegmentIngest';
/**
 * The counts each function emits (lib/shared/metrics.ts `COUNT_METRICS`; tests/deploy checks that
 * every name there, and every name the code passes to `meter.count`, is drawn here). Both also
 * emit `HandlerLatency`. Every series has the dimensions `service` (one per stage) and `function`.
 * `lake`: the lake's stream and compaction handlers (lib/lake/handler.ts), drawn whether the stage
 * has the lake or not (a stage without it draws empty lines; SEARCH names no resource).
 */
const CUSTOM_METRICS = {
  ingest: [
    'EventsAccepted',
    'EventsRejected',
    'EnqueueRetries',
    'EnqueueFailures',
    'PlanViolations',
    'PrivacyRuleApplied',
    'DependencyErrors',
    'UnexpectedErrors',
  ],
  worker: [
    'EventsStored',
    'WriteRetries',
    'QuarantinedRecords',
    'Erasures',
    'EventsRejected',
    'DependencyErrors',
    'UnexpectedErrors',
    'ProfileWritesRefused',
  ],
  lake: ['LakeFilesWritten', 'LakeRowsWritten', 'LakeBytesWritten', 'LakeFilesCompacted', 'LakeRowsErased'],
};
const LATENCY_METRIC = 'HandlerLatency';
const FUNCTIONS = /** @type {const} */ (['ingest', 'worker']);
/** Serverless's log group of each function and the API access log. */
const LOG_GROUPS = { ingest: 'IngestLogGroup', worker: 'WorkerLogGroup', api: 'HttpApiLogGroup' };
/**
 * CloudWatch Logs Insights queries for the questions an operator asks first, saved in the stack
 * (`<stack>/<name>` under Logs Insights, saved queries) and explained in docs/operations.md. The
 * fields are those of the functions' JSON log lines (lib/ingest, lib/worker) and the API access log.
 * @typedef {{ name: string, logGroups: Array<keyof typeof LOG_GROUPS>, query: string }} SavedQuery
 * @type {Record<'refused' | 'rejected' | 'requestPath' | 'problems' | 'serverErrors', SavedQuery>}
 */
const QUERIES = {
  refused: {
    name: 'requests-refused-by-reason',
    logGroups: ['ingest'],
    query: ["filter message = 'request refused'", '| stats count(*) as requests by status, reason', '| sort requests desc'].join('\n'),
  },
  rejected: {
    name: 'events-rejected-by-source',
    logGroups: ['ingest'],
    query: [
      "filter (message = 'events enqueued' and rejected > 0) or message = 'body quarantined'",
      '| fields coalesce(rejected, 1) as events, coalesce(`rejectedReasons.0`, reason) as firstReason',
      '| stats sum(events) as rejectedEvents by sourceId, route, firstReason',
      '| sort rejectedEvents desc',
    ].join('\n'),
  },
  requestPath: {
    name: 'request-path',
    logGroups: ['api', 'ingest', 'worker'],
    query: [
      'fields @timestamp, @log, message, routeKey, status, reason, accepted, rejected, failedMessages',
      "| filter @message like 'REPLACE-WITH-THE-REQUEST-ID'",
      '| sort @timestamp asc',
    ].join('\n'),
  },
  problems: {
    name: 'errors-and-warnings',
    logGroups: ['ingest', 'worker'],
    query: [
      "filter level in ['WARN', 'ERROR'] or failedMessages > 0 or @message like /Task timed out|Runtime\\./",
      '| fields coalesce(message, @message) as what',
      '| stats count(*) as lines, sum(failedMessages) as failedMessageCount by @log, what',
      '| sort lines desc',
    ].join('\n'),
  },
  serverErrors: {
    name: 'api-5xx',
    logGroups: ['api'],
    query: ['filter status like /^5/', '| stats count(*) as requests by routeKey, status, integrationError', '| sort requests desc'].join(
      '\n',
    ),
  },
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
    eventRetentionDays: Number(String((await param('eventRetentionDays')) ?? '').trim() || 0),
    tableOverrides: String((await param('tableOverrides')) ?? '').trim(),
    quarantineAlarmThreshold: Number(await param('quarantineAlarmThreshold')),
    ingestLatencyAlarmMs: Number(await param('ingestLatencyAlarmMs')),
    ...(await readLakeSettings(param)),
  };
}

/**
 * `tableOverrides` (`name=physical,...`): tables the stage uses instead of its own, e.g. one
 * restored from point-in-time recovery; lib/shared/config.ts reads the same text from
 * TABLE_OVERRIDES. Returns the overrides and the problems with the text.
 * @param {Definitions} definitions
 * @param {string} text
 */
function parseTableOverrides(definitions, text) {
  /** @type {Record<string, string>} */
  const overrides = {};
  const problems = [];
  for (const entry of text.split(',').map((part) => part.trim())) {
    if (entry === '') continue;
    const [name = '', physical = '', ...rest] = entry.split('=').map((part) => part.trim());
    if (!definitions.tables[name]) problems.push(`param tableOverrides names an unknown table "${name}" in "${entry}"`);
    else if (rest.length > 0 || !/^[a-zA-Z0-9_.-]{3,255}$/.test(physical)) {
      problems.push(`param tableOverrides entry "${entry}" must be <table>=<DynamoDB table name>`);
    } else overrides[name] = physical;
  }
  return { overrides, problems };
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
  // Optional so the tests' settings and older callers need not name them.
  if (settings.eventRetentionDays !== undefined) integer('eventRetentionDays', 0, 36500);
  if (settings.quarantineAlarmThreshold !== undefined) integer('quarantineAlarmThreshold', 0, 1e9);
  if (settings.ingestLatencyAlarmMs !== undefined) integer('ingestLatencyAlarmMs', 100, 30000);
  problems.push(...parseTableOverrides(definitions, settings.tableOverrides ?? '').problems);
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
        ...ttlOf(stack, table),
      },
    };
  }
  return resources;
}

/**
 * A table's TTL: its own (`rejected`), or on the event tables the retention's expiry attribute,
 * only when the stage sets `eventRetentionDays` (the worker writes the attribute only then).
 * @param {Stack} stack
 * @param {TableDefinition} table
 */
function ttlOf(stack, table) {
  const retained = table.kind === 'event' && (stack.settings.eventRetentionDays ?? 0) > 0;
  const attribute = table.ttlAttribute ?? (retained ? stack.definitions.eventTtlAttribute : undefined);
  return attribute ? { TimeToLiveSpecification: { AttributeName: attribute, Enabled: true } } : {};
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
  const { overrides } = parseTableOverrides(stack.definitions, stack.settings.tableOverrides ?? '');
  // A table the stage was pointed at (restored from a backup) is not in the stack: granted by name.
  const tableArns = (/** @type {string[]} */ names) =>
    names.map((name) =>
      overrides[name]
        ? { 'Fn::Sub': `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/${overrides[name]}` }
        : arn(tableId(name)),
    );
  const events = arn(queueId(EVENTS_QUEUE));

  return {
    ...lambdaRole('IngestRole', 'IngestLogGroup', [
      // GetQueueAttributes: the deep health check (lib/ingest/health.ts) asks the queue to answer.
      { Sid: 'Enqueue', Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes'], Resource: [events] },
      { Sid: 'Authenticate', Action: ['dynamodb:GetItem'], Resource: tableArns(['keys', 'sources']) },
    ]),
    ...lambdaRole('WorkerRole', 'WorkerLogGroup', [
      {
        Sid: 'ConsumeQueue',
        // What the SQS event source mapping needs; nothing changes a message's visibility.
        Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
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
      ...(all[SCHEMAS_TABLE]
        ? [
            {
              Sid: 'LearnSchemas',
              Action: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
              Resource: tableArns([SCHEMAS_TABLE]),
            },
          ]
        : []),
      // lib/worker/profiles/: batched reads, conditional writes on the revision read (PartiQL statements
      // in BatchExecuteStatement), key-only link items and erasure deletes in batches, and PutItem for a
      // link item that BatchWriteItem refused (lib/worker/write.ts resends each such item alone).
      ...(ofKind('profile').length > 0
        ? [
            {
              Sid: 'KeepProfiles',
              // Exactly lib/tables/profiles.ts PROFILE_WORKER_ACTIONS (tests/deploy checks): UpdateItem for activity.
              Action: [
                'dynamodb:BatchGetItem',
                'dynamodb:PartiQLInsert',
                'dynamodb:PartiQLUpdate',
                'dynamodb:PartiQLDelete',
                'dynamodb:BatchWriteItem',
                'dynamodb:PutItem',
                'dynamodb:UpdateItem',
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
    ...customAlarms(stack, alarm),
  };
}

/**
 * Alarms on the service's own metrics, each on one function's series (dimensions `service` and
 * `function`, as lib/shared/metrics.ts writes them). docs/operations.md has a runbook for each.
 * @param {Stack} stack
 * @param {(name: string, description: string, metric: Record<string, unknown>, threshold: number) => unknown} alarm
 */
function customAlarms(stack, alarm) {
  const { settings, prefix } = stack;
  /**
   * @param {string} fn @param {string} metricName @param {Array<{ Name: string, Value: string }>} [extra]
   * @param {Record<string, string>} [statistic]
   */
  const custom = (fn, metricName, extra = [], statistic = { Statistic: 'Sum' }) => ({
    Namespace: METRICS_NAMESPACE,
    MetricName: metricName,
    Dimensions: [{ Name: 'service', Value: prefix }, { Name: 'function', Value: fn }, ...extra],
    ...statistic,
    Period: 300,
  });
  const configuration = [{ Name: 'kind', Value: 'configuration' }];
  return {
    IngestDependencyErrorsAlarm: alarm(
      'ingest-dependency-errors',
      'AWS refused the ingest function a request for a permission or configuration reason (access, credentials, a missing queue or table, KMS): senders get 503 until it is fixed',
      custom('ingest', 'DependencyErrors', configuration),
      0,
    ),
    WorkerDependencyErrorsAlarm: alarm(
      'worker-dependency-errors',
      'AWS refused the worker a request for a permission or configuration reason (access, credentials, a missing table, KMS): events wait in the queue, then the dead-letter queue',
      custom('worker', 'DependencyErrors', configuration),
      0,
    ),
    IngestUnexpectedErrorsAlarm: alarm(
      'ingest-unexpected-errors',
      'The ingest function hit an error no AWS service answered with (a bug): senders get 503; the log has its stack',
      custom('ingest', 'UnexpectedErrors'),
      0,
    ),
    WorkerUnexpectedErrorsAlarm: alarm(
      'worker-unexpected-errors',
      'The worker hit an error no AWS service answered with (a bug): its messages are retried, then dead-lettered; the log has its stack',
      custom('worker', 'UnexpectedErrors'),
      0,
    ),
    ProfileWritesRefusedAlarm: alarm(
      'profile-writes-refused',
      'DynamoDB refused a profile write (lib/worker/profiles/): its messages are retried, then dead-lettered; the log names the reason',
      custom('worker', 'ProfileWritesRefused'),
      0,
    ),
    QuarantineSpikeAlarm: alarm(
      'quarantine-spike',
      `Over ${settings.quarantineAlarmThreshold ?? 100} events were quarantined in 5 minutes: a sender's tracking probably changed`,
      custom('worker', 'QuarantinedRecords'),
      settings.quarantineAlarmThreshold ?? 100,
    ),
    IngestLatencyAlarm: alarm(
      'ingest-latency',
      `The ingest function's p99 handler time was over ${settings.ingestLatencyAlarmMs ?? 2000} ms for 10 minutes: Segment waits 5-10 s, then retries (duplicates) or gives up`,
      { ...custom('ingest', LATENCY_METRIC, [], { ExtendedStatistic: 'p99' }), EvaluationPeriods: 2 },
      settings.ingestLatencyAlarmMs ?? 2000,
    ),
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
  // Our metrics carry `service` (one per stage) and `function`; SEARCH finds a function's series
  // whatever other dimensions the code adds (`reason`, `type`, `kind`), SUM draws them as one line.
  const custom = (/** @type {'ingest' | 'worker' | 'lake'} */ fn) => (/** @type {string} */ metric) => [
    {
      id: `${fn}${metric}`.replace(/^./, (c) => c.toLowerCase()), // metric math ids start lowercase
      label: metric,
      expression: `SUM(SEARCH('Namespace="${METRICS_NAMESPACE}" MetricName="${metric}" service="${stack.prefix}" function="${fn}"', 'Sum', 300))`,
    },
  ];
  const latency = (/** @type {'ingest' | 'worker'} */ fn, /** @type {string} */ stat) => [
    METRICS_NAMESPACE,
    LATENCY_METRIC,
    'service',
    stack.prefix,
    'function',
    fn,
    { stat, label: `${fn} ${stat}` },
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
      graph('Ingest: events (SegmentIngest, function=ingest)', CUSTOM_METRICS.ingest.map(custom('ingest'))),
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
      graph('Worker: events (SegmentIngest, function=worker)', CUSTOM_METRICS.worker.map(custom('worker'))),
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
    [
      graph(
        `${LATENCY_METRIC} (ms), per function`,
        FUNCTIONS.flatMap((fn) => [latency(fn, 'p50'), latency(fn, 'p99')]),
        { stat: 'p99' },
      ),
      graph('Events rejected, by reason (both functions)', [
        [
          {
            id: 'rejectedByReason',
            expression: `SEARCH('Namespace="${METRICS_NAMESPACE}" MetricName="EventsRejected" service="${stack.prefix}"', 'Sum', 300)`,
          },
        ],
      ]),
      graph(
        'DependencyErrors (permissions, configuration), per function',
        FUNCTIONS.map((fn) => [{ ...custom(fn)('DependencyErrors')[0], label: fn }]),
      ),
    ],
    [graph('Lake: files, rows, bytes, compaction (SegmentIngest, function=lake)', CUSTOM_METRICS.lake.map(custom('lake')))],
  ];
  const widgets = [
    ...rows.flatMap((row, y) => row.map((widget, x) => ({ ...widget, x: x * 8, y: y * 6 }))),
    {
      type: 'log',
      x: 0,
      y: rows.length * 6,
      width: 24,
      height: 6,
      properties: {
        title: 'Requests refused, by status and reason (ingest log)',
        region: '${AWS::Region}',
        view: 'table',
        query: `SOURCE '\${${LOG_GROUPS.ingest}}' | ${QUERIES.refused.query.replace(/\n/g, ' ')}`,
      },
    },
  ];
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
    // The key privacy policies hash with (lib/shared/privacy-hash.ts; docs/privacy.md): retained,
    // since the hashes already stored could not be matched again without it. Rotated by putting
    // `<version>:<new key>,<old version>:<old key>` in the secret and deploying again.
    PrivacyHashKeySecret: {
      Type: 'AWS::SecretsManager::Secret',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        Name: `${stack.prefix}-privacy-hash-key`,
        Description:
          'HMAC key (version 1, or a <version>:<key> list, current first) that privacy policies of segment-ingest hash values with',
        GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
      },
    },
  };
}

/** @param {Stack} stack */
function queryDefinitions(stack) {
  /** @type {Template} */
  const resources = {};
  for (const query of Object.values(QUERIES)) {
    resources[`${pascal(query.name)}Query`] = {
      Type: 'AWS::Logs::QueryDefinition',
      Properties: {
        Name: `${stack.prefix}/${query.name}`,
        QueryString: query.query,
        LogGroupNames: query.logGroups.map((group) => ref(LOG_GROUPS[group])),
      },
    };
  }
  return resources;
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
  // The CLI finds a stage's tables here, so a table the stage was pointed at is what it reads too.
  const { overrides } = parseTableOverrides(stack.definitions, stack.settings.tableOverrides ?? '');
  for (const name of Object.keys(stack.definitions.tables)) {
    result[`${tableId(name)}Name`] = { Description: `Name of the ${name} table`, Value: overrides[name] ?? ref(tableId(name)) };
  }
  result.AlarmTopicArn = { Description: 'SNS topic the alarms publish to', Value: ref('AlarmTopic') };
  result.ErasureHashKeySecretArn = {
    Description: 'Secrets Manager secret the erasure records name users with (segment-ingest erasures show reads it)',
    Value: ref('ErasureHashKeySecret'),
  };
  result.PrivacyHashKeySecretArn = {
    Description:
      'Secrets Manager secret privacy policies hash with (segment-ingest events/profile/erasures --user read it for sources that hash ids)',
    Value: ref('PrivacyHashKeySecret'),
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
 * The generated part of the stack: `Resources` (tables, queues, roles, alarms, dashboard, queries) and
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
  const template = {
    Resources: {
      ...tables(stack),
      ...queues(stack),
      ...secrets(stack),
      ...roles(stack),
      ...alarms(stack),
      ...dashboard(stack),
      ...queryDefinitions(stack),
    },
    Outputs: outputs(stack),
  };
  // infra/lake.js: the lake's resources, kept in a module of their own.
  return withLake(stack, template, { tableId, functionId, lambdaRole });
}

module.exports = {
  generateTemplate,
  /** `${file(./infra/cloudformation.js):resources}` @param {Resolver} resolver */
  resources: async (resolver) => generateTemplate(resourcesJson, await readSettings(resolver)).Resources,
  /** `${file(./infra/cloudformation.js):outputs}` @param {Resolver} resolver */
  outputs: async (resolver) => generateTemplate(resourcesJson, await readSettings(resolver)).Outputs,
};
