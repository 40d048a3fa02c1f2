/**
 * The one place AWS clients are built. An emulator is only an endpoint in the config; the code
 * path is the same as in AWS.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Config } from './config';

export interface Clients {
  sqs: SQSClient;
  dynamodb: DynamoDBClient;
  documents: DynamoDBDocumentClient;
}

/** Builds the SQS and DynamoDB clients for `config`; credentials come from the default provider chain. */
export function createClients(config: Pick<Config, 'region' | 'dynamodbEndpoint' | 'sqsEndpoint'>): Clients {
  const dynamodb = new DynamoDBClient({ region: config.region, endpoint: config.dynamodbEndpoint, maxAttempts: 3 });
  const sqs = new SQSClient({ region: config.region, endpoint: config.sqsEndpoint, maxAttempts: 2 });
  const documents = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return { sqs, dynamodb, documents };
}
