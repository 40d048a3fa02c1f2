/**
 * The one place AWS clients are built. An emulator is only an endpoint in the config; the code
 * path is the same as in AWS. Each function builds only the clients it needs, so a bundle that
 * never sends to SQS (the worker) does not carry the SQS client.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from './config';

export interface Clients {
  sqs: SQSClient;
  dynamodb: DynamoDBClient;
  documents: DynamoDBDocumentClient;
}

export interface ClientOptions {
  /** Replaces the SDK's HTTP layer (the benchmark answers in process); unset everywhere else. */
  requestHandler?: DynamoDBClientConfig['requestHandler'];
  /**
   * Ends any SQS request running longer than this (the ingest function's enqueue budget, so a
   * request it stopped waiting for does not linger). Unset: no limit, as long polls need.
   */
  sqsRequestTimeoutMs?: number;
}

type ClientConfig = Pick<Config, 'region' | 'dynamodbEndpoint' | 'sqsEndpoint'>;

/**
 * The SQS client; credentials come from the default provider chain. `cacheMiddleware` builds the
 * middleware stack once per command type instead of on every send, about a third of the SDK's CPU
 * per request; it applies only to sends without per-call options (`lib/ingest/enqueue.ts` keeps its
 * deadline itself for that reason).
 */
export function createSqsClient(config: ClientConfig, options: ClientOptions = {}): SQSClient {
  const timeout = options.sqsRequestTimeoutMs;
  return new SQSClient({
    region: config.region,
    endpoint: config.sqsEndpoint,
    maxAttempts: 2,
    cacheMiddleware: true,
    requestHandler:
      options.requestHandler ?? (timeout === undefined ? undefined : { requestTimeout: timeout, throwOnRequestTimeout: true }),
  });
}

/** The DynamoDB client and the document client over it; credentials come from the default provider chain. */
export function createDynamoClients(config: ClientConfig, options: ClientOptions = {}): Pick<Clients, 'dynamodb' | 'documents'> {
  const dynamodb = new DynamoDBClient({
    region: config.region,
    endpoint: config.dynamodbEndpoint,
    maxAttempts: 3,
    requestHandler: options.requestHandler,
  });
  const documents = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return { dynamodb, documents };
}

/**
 * A low-level DynamoDB client for the worker's BatchWriteItem calls alone. It caches its middleware
 * per command type like the SQS client, which is safe for low-level commands sent without per-call
 * options but not for the document client's commands (a cached handler would keep the first
 * command's input), so it is a client of its own and never backs a document client.
 */
export function createWriteClient(config: ClientConfig, options: ClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient({
    region: config.region,
    endpoint: config.dynamodbEndpoint,
    maxAttempts: 3,
    cacheMiddleware: true,
    requestHandler: options.requestHandler,
  });
}

/** Every client, for code that uses both services (the ingest function, the local stack). */
export function createClients(config: ClientConfig, options: ClientOptions = {}): Clients {
  return { sqs: createSqsClient(config, options), ...createDynamoClients(config, options) };
}

/**
 * The S3 client of the lake (lib/lake/). Against an emulator (`s3Endpoint`) buckets are addressed
 * by path, since `<bucket>.127.0.0.1` does not resolve. Checksums only where S3 requires them: the
 * lake's objects are written once from a buffer, and the emulator does not check trailers.
 */
export function createS3Client(config: Pick<Config, 'region' | 's3Endpoint'>, options: ClientOptions = {}): S3Client {
  return new S3Client({
    region: config.region,
    endpoint: config.s3Endpoint,
    forcePathStyle: config.s3Endpoint !== undefined,
    // The emulator (local/s3-emulator.ts) accepts only the keys it knows; any other endpoint uses the default chain.
    credentials: config.s3Endpoint === undefined ? undefined : { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: options.requestHandler,
  });
}
