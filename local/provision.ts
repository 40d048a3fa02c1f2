/**
 * Creates a stage's tables and queues on the emulators from `infra/resources.json`, the same
 * definitions `serverless.yml` deploys, so the local stack and AWS cannot drift apart. Idempotent:
 * what exists already is left as it is.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
  type KeySchemaElement,
  type AttributeDefinition,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { QUEUES, TABLES, TABLE_NAMES, resourceName } from '../infra';

export interface StageQueues {
  queueUrl: string;
  deadLetterQueueUrl: string;
}

export interface ProvisionOptions {
  /** Overrides the events queue's visibility timeout (tests use a short one to see redelivery quickly). */
  visibilityTimeoutSeconds?: number;
  maxReceiveCount?: number;
}

/**
 * Creates the stage's tables that do not exist. `streams: false` leaves the event tables' streams
 * off: a stage without the lake has no reader of them, and DynamoDB Local writes about half as fast
 * with a stream on (the schema-learning test's 10,000 events: 11 s without, 23 s with).
 */
export async function provisionTables(dynamodb: DynamoDBClient, stage: string, options: { streams?: boolean } = {}): Promise<void> {
  const streams = options.streams ?? true;
  await Promise.all(
    TABLE_NAMES.map(async (name) => {
      const definition = { ...TABLES[name], stream: streams ? TABLES[name].stream : undefined };
      const TableName = resourceName(stage, name);
      try {
        const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName }));
        // A table of a stage from before the lake: its stream is the one change made to what exists.
        if (definition.stream && !Table?.StreamSpecification?.StreamEnabled) {
          await dynamodb.send(new UpdateTableCommand({ TableName, StreamSpecification: streamOf(definition.stream) }));
        }
        return;
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
      }
      const KeySchema: KeySchemaElement[] = [{ AttributeName: definition.partitionKey, KeyType: 'HASH' }];
      const AttributeDefinitions: AttributeDefinition[] = [{ AttributeName: definition.partitionKey, AttributeType: 'S' }];
      if (definition.sortKey) {
        KeySchema.push({ AttributeName: definition.sortKey, KeyType: 'RANGE' });
        AttributeDefinitions.push({ AttributeName: definition.sortKey, AttributeType: 'S' });
      }
      const StreamSpecification = definition.stream ? streamOf(definition.stream) : undefined;
      await dynamodb.send(
        new CreateTableCommand({ TableName, KeySchema, AttributeDefinitions, BillingMode: 'PAY_PER_REQUEST', StreamSpecification }),
      );
      if (definition.ttlAttribute) {
        await dynamodb.send(
          new UpdateTimeToLiveCommand({ TableName, TimeToLiveSpecification: { AttributeName: definition.ttlAttribute, Enabled: true } }),
        );
      }
    }),
  );
}

const streamOf = (view: 'NEW_IMAGE') => ({ StreamEnabled: true, StreamViewType: view });

/** The stage's lake bucket on the S3 emulator; one that exists already is kept. */
export async function provisionLakeBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

export async function provisionQueues(sqs: SQSClient, stage: string, options: ProvisionOptions = {}): Promise<StageQueues> {
  const dlq = QUEUES['dead-letter'];
  const { QueueUrl: deadLetterQueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: resourceName(stage, 'dead-letter'),
      Attributes: {
        VisibilityTimeout: String(dlq.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(dlq.messageRetentionSeconds),
        MaximumMessageSize: String(dlq.maximumMessageSizeBytes),
      },
    }),
  );
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['QueueArn'] }));
  const events = QUEUES.events;
  const { QueueUrl: queueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: resourceName(stage, 'events'),
      Attributes: {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? events.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(events.messageRetentionSeconds),
        MaximumMessageSize: String(events.maximumMessageSizeBytes),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: Attributes?.QueueArn,
          maxReceiveCount: options.maxReceiveCount ?? events.maxReceiveCount,
        }),
      },
    }),
  );
  if (!queueUrl || !deadLetterQueueUrl) throw new Error('the SQS emulator returned no queue URL');
  return { queueUrl, deadLetterQueueUrl };
}
