/**
 * The worker's memory under a sender that invents event names (issue 23): 5,000 distinct event keys,
 * each a 6 KB track with 620 four-character property names under a 296-character prefix, through one
 * worker. On main 331ea64 each key pinned about 250 KB (2,000 keys cached, refused ones included):
 * about 500 MB. Now the observed-schema cache holds at most its byte budget (48 MiB here, the
 * default), refused keys are not walked, and the heap the run leaves behind stays under 80 MiB.
 * It takes 15-60 s (5,000 events of 6 KB through the whole worker), so its timeout is generous.
 *
 * DynamoDB is answered in process (tests/support/fake-dynamodb.ts): DynamoDB Local takes seconds
 * per thousand conditional writes. The fake keeps the one rule the run depends on, the source's
 * cap of 1,000 event keys (a conditional reservation).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { EventRecord } from '../../../lib/message/format';
import { noMeter } from '../../../lib/shared/metrics';
import { SCHEMA_LIMITS } from '../../../lib/tables/schemas';
import { createWorker } from '../../../lib/worker/process-batch';
import { createSchemaLearner } from '../../../lib/worker/schemas/learn';
import { dynamoError, fakeDynamoDb, type Answer, type WireRequest } from '../../support/fake-dynamodb';
import { sqsEvent, sqsRecord } from '../../support/events';
import { noWaitClock } from '../../support/clock';
import { recordsMessage } from '../../support/records';
import { HASH_KEY, recordingLog, TABLES } from '../../support/worker-run';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const KEYS = 5000;
const BUDGET_BYTES = 48 * 1024 * 1024;
const RETAINED_BOUND_BYTES = 80 * 1024 * 1024;

/** `properties.<99 A>.<99 B>.<84 C>.<name>` for 620 names: paths of 300 characters, the longest recorded. */
function floodEvent(index: number): EventRecord {
  const leaves: Record<string, number> = {};
  for (let n = 0; n < 620; n++) leaves[n.toString(36).padStart(4, 'q')] = n;
  return {
    kind: 'event',
    sourceId: 'src-flood',
    receivedAt: '2026-03-01T12:00:00.000Z',
    requestId: 'req',
    event: {
      type: 'track',
      event: `Flood ${index}`,
      userId: `u-${index}`,
      messageId: `m-${index}`,
      timestamp: '2026-03-01T11:00:00.000Z',
      properties: { ['A'.repeat(99)]: { ['B'.repeat(99)]: { ['C'.repeat(84)]: leaves } } },
    },
  };
}

/** The schemas table's one rule the run needs: event keys per source are reserved under the cap; the rest succeeds. */
function schemasTable() {
  let eventKeys = 0;
  const summaries: string[] = [];
  let eventItems = 0;
  const answer = (request: WireRequest): Answer => {
    const body = request.body as {
      Key?: Record<string, AttributeValue>;
      ExpressionAttributeNames?: Record<string, string>;
      ExpressionAttributeValues?: Record<string, AttributeValue>;
      RequestItems?: Record<string, unknown[]>;
    };
    if (request.operation === 'BatchWriteItem') {
      eventItems += (body.RequestItems?.[TABLES.track] ?? []).length;
      return undefined;
    }
    if (request.operation === 'Query' && request.text.includes('begins_with')) {
      return { body: { Items: summaries.map((sk) => ({ sk: { S: sk } })), Count: summaries.length } };
    }
    if (request.operation !== 'UpdateItem') return undefined;
    const by = Number(body.ExpressionAttributeValues?.[':by']?.N ?? 0);
    if (body.ExpressionAttributeNames?.['#counter'] === 'eventKeys' && by > 0) {
      if (eventKeys + by > SCHEMA_LIMITS.eventKeysPerSource) return dynamoError('ConditionalCheckFailedException');
      eventKeys += by;
    }
    const sk = body.Key?.sk?.S ?? '';
    if (sk.startsWith('event#') && request.text.includes('attribute_not_exists(pk)')) summaries.push(sk);
    return undefined;
  };
  return { answer, stored: () => eventItems, admitted: () => eventKeys };
}

it(`holds the heap under ${RETAINED_BOUND_BYTES / 2 ** 20} MiB through ${KEYS} distinct event keys of 620 long paths each, every event stored`, async () => {
  // Prepare
  const table = schemasTable();
  const fake = fakeDynamoDb(table.answer);
  const log = recordingLog();
  // One path recorded per key: the trees still keep 600 nodes, the 619 refused paths are remembered
  // as capped names, and the run takes seconds instead of 300,000 conditional writes.
  const limits = { pathsPerEventKey: 1 };
  const schemas = createSchemaLearner({
    documents: fake.documents,
    table: TABLES.schemas,
    log,
    meter: noMeter,
    cacheBytes: BUDGET_BYTES,
    limits,
  });
  const run = createWorker({
    documents: fake.documents,
    writer: fake.writer,
    config: { tables: TABLES, rejectedRetentionDays: 30, writeConcurrency: 4, erasureHashKey: HASH_KEY, profiles: false },
    log,
    meter: noMeter,
    clock: noWaitClock,
    schemas,
  });
  gc();
  const before = heapUsed();

  // Act
  let failures = 0;
  let peak = 0;
  for (let first = 0; first < KEYS; first += 10) {
    const records = Array.from({ length: 10 }, (_, i) => sqsRecord(recordsMessage([floodEvent(first + i)])));
    const result = await run(sqsEvent(...records), 60_000);
    failures += result.batchItemFailures.length;
    fake.requests.length = 0;
    if (first % 500 === 0) {
      gc();
      peak = Math.max(peak, heapUsed() - before);
    }
  }
  gc();
  const retained = heapUsed() - before;

  // Assess
  expect(failures).toBe(0);
  expect(table.stored()).toBe(KEYS);
  expect(table.admitted()).toBe(SCHEMA_LIMITS.eventKeysPerSource);
  expect(Math.max(peak, retained)).toBeLessThan(RETAINED_BOUND_BYTES);
}, 180_000);

function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}
