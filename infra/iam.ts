/**
 * One role per function, each allowed only the actions it performs on the resources it touches.
 * No `cloudwatch:PutMetricData`: metrics leave as EMF lines in the function's own log. The lake
 * role is infra/lake.ts's, built with `lambdaRole` too.
 */
import { arn, EVENTS_QUEUE, queueId, tableId, tableOverridesOf, type Stack, type Template } from './settings';

/** The table of erasure audit records; granted to the worker when resources.json has it. */
const ERASURES_TABLE = 'erasures';
/** Observed schemas: the worker reads and upserts them (lib/worker/schemas/). */
const SCHEMAS_TABLE = 'schemas';

export interface Statement {
  Sid: string;
  Action: string[];
  Resource: unknown[];
}

/**
 * A role Lambda assumes, allowed to write `logGroupIds` (the log groups of the functions that use
 * it: each function has its own) and `statements`.
 */
export function lambdaRole(logicalId: string, logGroupIds: string | readonly string[], statements: Statement[]): Template {
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
                { Sid: 'WriteOwnLogs', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [logGroupIds].flat().map(arn) },
                ...statements,
              ].map((statement) => ({ Effect: 'Allow', ...statement })),
            },
          },
        ],
      },
    },
  };
}

/** The ARNs of tables: a table the stage was pointed at (restored from a backup) is not in the stack, and is granted by name. */
function tableArns(stack: Stack): (names: string[]) => unknown[] {
  const { overrides } = tableOverridesOf(stack);
  return (names) =>
    names.map((name) =>
      overrides[name]
        ? { 'Fn::Sub': `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/${overrides[name]}` }
        : arn(tableId(name)),
    );
}

export function roles(stack: Stack): Template {
  const events = arn(queueId(EVENTS_QUEUE));
  const tablesArns = tableArns(stack);
  return {
    // Both functions of the ingest bundle (`ingest` and `webhooks`, serverless.yml) run with this role.
    ...lambdaRole(
      'IngestRole',
      ['IngestLogGroup', 'WebhooksLogGroup'],
      [
        // GetQueueAttributes: the deep health check (lib/ingest/health.ts) asks the queue to answer.
        { Sid: 'Enqueue', Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes'], Resource: [events] },
        { Sid: 'Authenticate', Action: ['dynamodb:GetItem'], Resource: tablesArns(['keys', 'sources']) },
      ],
    ),
    ...lambdaRole('WorkerRole', 'WorkerLogGroup', [
      {
        Sid: 'ConsumeQueue',
        // What the SQS event source mapping needs; nothing changes a message's visibility.
        Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
        Resource: [events],
      },
      // lib/worker/requeue.ts: an erasure that runs out of time continues in a message of its own.
      { Sid: 'ContinueErasures', Action: ['sqs:SendMessage'], Resource: [events] },
      ...workerTableStatements(stack, tablesArns),
    ]),
  };
}

function workerTableStatements(stack: Stack, tablesArns: (names: string[]) => unknown[]): Statement[] {
  const all = stack.definitions.tables;
  const ofKind = (kind: string) => Object.keys(all).filter((name) => all[name]?.kind === kind);
  return [
    {
      Sid: 'StoreEvents',
      Action: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem'],
      Resource: tablesArns([...ofKind('event'), ...ofKind('quarantine')]),
    },
    // lib/worker/erasure.ts: Query a user's partition, delete its items with BatchWriteItem.
    { Sid: 'EraseEvents', Action: ['dynamodb:Query', 'dynamodb:BatchWriteItem'], Resource: tablesArns(ofKind('event')) },
    // lib/worker/erasure.ts: tombstones and audit records are upserts; the worker reads tombstones in batches.
    ...(all[ERASURES_TABLE]
      ? [{ Sid: 'AuditErasures', Action: ['dynamodb:UpdateItem', 'dynamodb:BatchGetItem'], Resource: tablesArns([ERASURES_TABLE]) }]
      : []),
    ...(all[SCHEMAS_TABLE]
      ? [
          {
            Sid: 'LearnSchemas',
            Action: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
            Resource: tablesArns([SCHEMAS_TABLE]),
          },
        ]
      : []),
    // lib/worker/profiles/: batched reads of facts, conditional fact writes (PartiQL INSERT and UPDATE
    // in BatchExecuteStatement), key-only link items and erasure deletes in batches, PutItem for a
    // link item that BatchWriteItem refused (lib/worker/write.ts resends each such item alone), and
    // Query of an erased user's partition.
    ...(ofKind('profile').length > 0
      ? [
          {
            Sid: 'KeepProfiles',
            // Exactly lib/tables/profiles.ts PROFILE_WORKER_ACTIONS (tests/deploy checks).
            Action: [
              'dynamodb:BatchGetItem',
              'dynamodb:PartiQLInsert',
              'dynamodb:PartiQLUpdate',
              'dynamodb:BatchWriteItem',
              'dynamodb:PutItem',
              'dynamodb:Query',
            ],
            Resource: tablesArns(ofKind('profile')),
          },
        ]
      : []),
  ];
}
