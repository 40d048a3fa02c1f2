/**
 * Dependencies of the worker's phases for unit tests: the real clients over the in-process
 * DynamoDB (tests/support/fake-dynamodb.ts), a log that keeps its lines, and a batch run.
 */
import { tableNames } from '../../infra';
import type { Log } from '../../lib/shared/log';
import type { Clock } from '../../lib/shared/retry';
import type { BatchRun } from '../../lib/worker/batch-run';
import type { ErasureDeps } from '../../lib/worker/erasure';
import type { fakeDynamoDb } from './fake-dynamodb';
import { noWaitClock } from './clock';

export const TABLES = tableNames('unit');

/** The erasure hash key of the unit tests' worker. */
export const HASH_KEY = 'unit-erasure-hash-key';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  extra?: Record<string, unknown>;
}

/** A log that keeps every line, for tests of what is logged (and what never is). */
export function recordingLog(): Log & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (message: string, extra?: Record<string, unknown>) => void lines.push({ level, message, extra });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

type Fake = ReturnType<typeof fakeDynamoDb>;

export function erasureDeps(fake: Fake, options: { clock?: Clock; log?: Log; concurrency?: number } = {}): ErasureDeps {
  const clock = options.clock ?? noWaitClock;
  const log = options.log ?? recordingLog();
  return {
    documents: fake.documents,
    tables: TABLES,
    hashKey: HASH_KEY,
    write: { documents: fake.documents, writer: fake.writer, concurrency: options.concurrency ?? 4, log, clock },
    log,
    clock,
  };
}

/** A batch run with fresh stats, as the worker starts one. */
export function batchRun(
  fake: Fake,
  options: { clock?: Clock; deadline?: number } = {},
): BatchRun & { log: ReturnType<typeof recordingLog> } {
  const log = recordingLog();
  const erasure = erasureDeps(fake, { clock: options.clock, log });
  const startedAt = erasure.clock.now();
  return {
    tables: TABLES,
    log,
    write: erasure.write,
    erasure,
    deadline: options.deadline ?? startedAt + 60_000,
    startedAt,
    expiresAt: Math.floor(startedAt / 1000) + 30 * 86_400,
    stats: {
      messages: 0,
      events: {},
      stored: {},
      quarantined: 0,
      erasures: 0,
      erasedItems: 0,
      droppedByErasure: 0,
      continuedErasures: 0,
      failedMessages: 0,
      requests: 0,
      retries: 0,
    },
    failed: new Set(),
    configurationErrors: [],
    unexpectedErrors: [],
  };
}
