import type { ShapeId } from './shapes';

/**
 * AWS list prices the cost model uses: us-east-1, on-demand, first pricing tier, as published on
 * the AWS pricing pages in 2025 (DynamoDB on-demand after its November 2024 reduction), assumed
 * unchanged on the date below. Check them against the pricing pages before quoting a figure.
 */
export const PRICES = {
  assumedOn: '2026-11-28',
  region: 'us-east-1',
  /** API Gateway HTTP API: per request (first 300 million a month), metered in 512 KB increments. */
  httpApiPerRequest: 1.0 / 1e6,
  httpApiMeterBytes: 512 * 1024,
  /** Lambda: per invocation, and per GB-second on arm64 (serverless.yml: architecture arm64). */
  lambdaPerInvocation: 0.2 / 1e6,
  lambdaPerGbSecondArm: 0.0000133334,
  /** Lambda bills duration in 1 ms steps. */
  lambdaBillingStepMs: 1,
  /** SQS standard queue: per request; each 64 KB chunk of a request's payload is billed as one request. */
  sqsPerRequest: 0.4 / 1e6,
  sqsChunkBytes: 64 * 1024,
  /** DynamoDB on-demand: per write request unit (one per 1 KB of item, rounded up per item). */
  dynamoPerWriteUnit: 0.625 / 1e6,
  dynamoWriteUnitBytes: 1024,
  /** DynamoDB on-demand: per read request unit (a strongly consistent read of up to 4 KB, found or not). */
  dynamoPerReadUnit: 0.125 / 1e6,
  /** CloudWatch Logs: per GB ingested (standard class). Shown beside the totals, not in them. */
  logsPerGb: 0.5,
} as const;

/** Deployment settings the cost model assumes (serverless.yml defaults). */
export const DEPLOYMENT = {
  /** provider.memorySize, MB: the worker's. */
  workerMemoryMb: 512,
  /** functions.ingest.memorySize, MB: the ingest bundle on every route but the Webhooks one (`single`, `batch`). */
  ingestMemoryMb: 256,
  /** functions.webhooks.memorySize, MB: the same bundle on the Webhooks route (`webhook`). */
  webhooksMemoryMb: 512,
  /** The SQS trigger's batchSize: messages per worker invocation, and per receive and delete. */
  workerBatchSize: 100,
} as const;

/**
 * The memory of the function a shape's requests go to (infra/routes.ts): Webhooks arrays to the
 * `webhooks` function, single events and batches to `ingest`.
 */
export function ingestMemoryMbOf(shape: ShapeId): number {
  return shape === 'webhook' ? DEPLOYMENT.webhooksMemoryMb : DEPLOYMENT.ingestMemoryMb;
}
