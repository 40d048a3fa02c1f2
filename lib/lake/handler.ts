/**
 * Wiring for the lake Lambda: dependencies built from the environment once; the stream handler
 * hands DynamoDB stream batches to write.ts, the scheduled handler runs compact.ts.
 */
import type { Context, DynamoDBStreamEvent } from 'aws-lambda';
import { createDynamoClients, createS3Client, type ClientOptions } from '../shared/clients';
import { loadConfig } from '../shared/config';
import { ConfigError } from '../shared/errors';
import { createLogger } from '../shared/log';
import { createMeter, type Meter } from '../shared/metrics';
import { invocationCalls } from './calls';
import { compactLake, type CompactDeps, type CompactResult } from './compact';
import { writeStreamRecords, type LakeWriteDeps, type LakeWriteResult } from './write';

/** `meter`: the lake's counts (lib/shared/metrics.ts), flushed once per invocation. */
export type LakeDeps = LakeWriteDeps & CompactDeps & { meter: Meter };

export function loadLakeDeps(env: Record<string, string | undefined> = process.env, clientOptions: ClientOptions = {}): LakeDeps {
  const config = loadConfig(env);
  const problems: string[] = [];
  if (!config.lakeBucket) problems.push('LAKE_BUCKET is required by the lake function (the bucket its files go to)');
  if (!config.erasureHashKey) problems.push('ERASURE_HASH_KEY is required by the lake function (to find erased users in the files)');
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    s3: createS3Client(config, clientOptions),
    documents: createDynamoClients(config, clientOptions).documents,
    bucket: config.lakeBucket ?? '',
    tables: config.tables,
    hashKey: config.erasureHashKey ?? '',
    log: createLogger(config.serviceName, config.logLevel),
    meter: createMeter(config.metricsNamespace, config.serviceName, 'lake'),
    now: () => Date.now(),
  };
}

/**
 * The stream handler: a failed write throws, and Lambda retries the batch (write.ts names files so a
 * retry adds nothing). Its calls keep the invocation's deadline (calls.ts).
 */
export function createLakeHandler(deps: LakeWriteDeps & { meter: Meter }) {
  return async (event: DynamoDBStreamEvent, context?: Context): Promise<LakeWriteResult> => {
    const calls = invocationCalls(context?.getRemainingTimeInMillis());
    const result = await writeStreamRecords(deps, event.Records, calls);
    deps.log.info('lake: wrote', {
      events: result.events,
      objects: result.objects.length,
      bytes: result.bytes,
      skipped: result.skipped,
      requests: calls.counter.requests,
    });
    deps.meter.count('LakeFilesWritten', result.objects.length);
    deps.meter.count('LakeRowsWritten', result.events);
    deps.meter.count('LakeBytesWritten', result.bytes);
    deps.meter.flush();
    return result;
  };
}

/** The scheduled handler: compaction of finished days and pending erasures, within the invocation's deadline. */
export function createCompactHandler(deps: CompactDeps & { meter: Meter }) {
  return async (_event?: unknown, context?: Context): Promise<CompactResult> => {
    const calls = invocationCalls(context?.getRemainingTimeInMillis());
    const result = await compactLake(deps, { calls });
    deps.log.info('lake: compacted', { ...result, rewritten: result.rewritten.length, requests: calls.counter.requests });
    deps.meter.count('LakeFilesCompacted', result.rewritten.length);
    deps.meter.count('LakeRowsErased', result.rowsErased);
    deps.meter.flush();
    return result;
  };
}
