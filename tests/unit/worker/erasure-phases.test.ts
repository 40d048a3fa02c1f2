/**
 * The worker's erasure phases (lib/worker/erasure-phases.ts) on a batch run over the real clients
 * and a DynamoDB in process: tombstones first, the events a delete of the batch covers, the check
 * after the writes (and what it undoes), and the sweeps with their audit. The protocol itself is
 * proven against DynamoDB Local in tests/conformance/section-6-erasure.test.ts.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { EventRecord } from '../../../lib/message/format';
import { coveredByBatch, eraseUsers, recordTombstones, undoErasedWrites } from '../../../lib/worker/erasure-phases';
import { tombstoneKey, tombstoneKeys, watermarkKey } from '../../../lib/tables/erasures';
import type { PendingErasure, UserWrite } from '../../../lib/worker/parse';
import { byOperation, dynamoError, fakeDynamoDb, type WireRequest } from '../../support/fake-dynamodb';
import { steppedClock } from '../../support/clock';
import { batchRun, HASH_KEY, TABLES } from '../../support/worker-run';

const CUTOFF = '2026-03-01T12:00:00.000Z';
const BEFORE = '2026-02-01T00:00:00.000Z';
const AFTER = '2026-04-01T00:00:00.000Z';

function erasure(userId: string, cutoff = CUTOFF, sourceId = 'src', owner = `del-${userId}`): PendingErasure {
  const record: EventRecord = {
    kind: 'event',
    sourceId,
    receivedAt: cutoff,
    requestId: 'req',
    event: { type: 'delete', messageId: `${owner}-m`, userId, timestamp: cutoff },
  };
  return { record, owner, cutoff };
}

function userWrite(userId: string, timestamp: string, sourceId = 'src', owner = `msg-${userId}`): UserWrite {
  return {
    write: { table: TABLES.track, item: { pk: `${sourceId}#${userId}`, sk: `${timestamp}#m`, userId }, owners: [owner] },
    sourceId,
    userId,
    timestamp,
  };
}

/** An SQS throttling error as the SDK raises it. */
function dynamoErrorLike(): Error {
  return Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
}

const plain = (value: unknown) => unmarshall(value as Record<string, AttributeValue>);
const operations = (requests: WireRequest[]) => requests.map((r) => r.operation);

/** BatchGetItem answers: every watermark and tombstone asked for holds `cutoff`, except the users in `clear`. */
function erasedUsersAnswer(cutoff: string, clear: readonly string[] = []) {
  return byOperation({
    BatchGetItem: (request) => {
      const asked = Object.values(request.body.RequestItems as Record<string, { Keys: unknown[] }>).flatMap((r) => r.Keys.map(plain));
      const found = asked.filter((key) => !clear.some((userId) => tombstoneKeys('src', userId, HASH_KEY).some((k) => k.pk === key.pk)));
      return { body: { Responses: { [TABLES.erasures]: found.map((key) => marshall({ pk: key.pk, cutoff })) } } };
    },
  });
}

describe('coveredByBatch', () => {
  it('drops the events a delete of the batch covers: same source and user, at or before its cut-off', () => {
    const covered = [userWrite('u1', BEFORE), userWrite('u1', CUTOFF)];
    const kept = [userWrite('u1', AFTER), userWrite('u2', BEFORE), userWrite('u1', BEFORE, 'other-source')];

    const dropped = coveredByBatch([erasure('u1')], [...covered, ...kept]);

    expect([...dropped]).toEqual(covered.map((w) => w.write));
  });

  it('uses the latest cut-off when the batch holds several deletes of one user', () => {
    const late = userWrite('u1', '2026-03-15T00:00:00.000Z');

    const dropped = coveredByBatch([erasure('u1', CUTOFF), erasure('u1', AFTER), erasure('u1', BEFORE)], [late]);

    expect([...dropped]).toEqual([late.write]);
  });

  it('drops nothing from a batch without deletes', () => {
    expect(coveredByBatch([], [userWrite('u1', BEFORE)]).size).toBe(0);
  });
});

describe('recordTombstones', () => {
  it('writes the tombstone and watermark of each delete, and fails none when they are written', async () => {
    const fake = fakeDynamoDb();
    const run = batchRun(fake);

    const failed = await recordTombstones(run, [erasure('u1'), erasure('u2')]);

    expect(failed.size).toBe(0);
    expect(run.failed.size).toBe(0);
    expect(fake.requests.map((r) => [r.operation, plain(r.body.Key).pk])).toEqual([
      ['UpdateItem', tombstoneKey('src', 'u1', HASH_KEY).pk],
      ['UpdateItem', 'source#src'],
      ['UpdateItem', tombstoneKey('src', 'u2', HASH_KEY).pk],
      ['UpdateItem', 'source#src'],
    ]);
  });

  it('fails the message of a delete whose tombstone cannot be written, and returns it so nothing of it is swept', async () => {
    // Prepare: the first delete's tombstone write fails, the second goes through
    const fake = fakeDynamoDb((_request, index) => (index === 0 ? dynamoError('InternalServerError') : undefined));
    const run = batchRun(fake);
    const [first, second] = [erasure('u1'), erasure('u2')];

    // Act
    const failed = await recordTombstones(run, [first, second]);

    // Assess
    expect([...failed]).toEqual([first]);
    expect([...run.failed]).toEqual(['del-u1']);
    expect(run.log.lines).toEqual([
      {
        level: 'warn',
        message: 'erasure tombstone not written; the delete will be retried',
        extra: { messageId: 'del-u1', error: 'InternalServerError' },
      },
    ]);
  });
});

describe('undoErasedWrites', () => {
  it('deletes again what it just wrote for an erased user, and counts it as dropped', async () => {
    // Prepare: u1 and u2 have tombstones at the cut-off; u3 none; one event of u2 is after it
    const fake = fakeDynamoDb(erasedUsersAnswer(CUTOFF, ['u3']));
    const run = batchRun(fake);
    const erased = userWrite('u1', BEFORE);
    const later = userWrite('u2', AFTER);
    const elsewhere = userWrite('u3', BEFORE);
    const dropped = new Set<UserWrite['write']>();

    // Act
    await undoErasedWrites(run, [erased, later, elsewhere], dropped);

    // Assess
    expect(operations(fake.requests)).toEqual(['BatchGetItem', 'BatchGetItem', 'BatchWriteItem']);
    expect(fake.requests[2]?.body.RequestItems).toEqual({
      [TABLES.track]: [{ DeleteRequest: { Key: marshall({ pk: 'src#u1', sk: `${BEFORE}#m` }) } }],
    });
    expect([...dropped]).toEqual([erased.write]);
    expect(run.stats.droppedByErasure).toBe(1);
    expect(run.failed.size).toBe(0);
    expect(run.stats.requests).toBe(3);
  });

  it('writes nothing when no tombstone covers what was written', async () => {
    const fake = fakeDynamoDb(erasedUsersAnswer(BEFORE));
    const run = batchRun(fake);
    const dropped = new Set<UserWrite['write']>();

    await undoErasedWrites(run, [userWrite('u1', AFTER)], dropped);

    expect(operations(fake.requests)).toEqual(['BatchGetItem']);
    expect(dropped.size).toBe(0);
    expect(run.stats.droppedByErasure).toBe(0);
  });

  it('reads nothing when nothing was written', async () => {
    const fake = fakeDynamoDb();

    await undoErasedWrites(batchRun(fake), [], new Set());

    expect(fake.requests).toEqual([]);
  });

  it('fails the messages of everything written when the check cannot be made', async () => {
    const fake = fakeDynamoDb(byOperation({ BatchGetItem: () => dynamoError('InternalServerError') }));
    const run = batchRun(fake);

    await undoErasedWrites(run, [userWrite('u1', BEFORE, 'src', 'm1'), userWrite('u2', AFTER, 'src', 'm2')], new Set());

    expect([...run.failed].sort()).toEqual(['m1', 'm2']);
    expect(run.log.lines).toEqual([
      { level: 'warn', message: 'tombstone check failed; messages will be retried', extra: { error: 'InternalServerError', events: 2 } },
    ]);
  });

  it('fails the message of an erased event whose delete cannot be written in time', async () => {
    const fake = fakeDynamoDb((request) =>
      request.operation === 'BatchWriteItem'
        ? { body: { UnprocessedItems: request.body.RequestItems } }
        : erasedUsersAnswer(CUTOFF)(request, 0),
    );
    const run = batchRun(fake, { clock: steppedClock(), deadline: 2_000 });
    const dropped = new Set<UserWrite['write']>();

    await undoErasedWrites(run, [userWrite('u1', BEFORE, 'src', 'm1')], dropped);

    expect([...run.failed]).toEqual(['m1']);
    expect(run.stats.droppedByErasure).toBe(0);
  });
});

describe('eraseUsers', () => {
  /** Queries find one item of the user in each table; everything else succeeds. */
  const oneItemEach = byOperation({
    Query: (request) => ({ body: { Items: [marshall({ pk: 'src#u1', sk: `${BEFORE}#${String(request.body.TableName)}` })] } }),
  });

  it('sweeps each erased user, records the audit, and counts a finished erasure', async () => {
    const fake = fakeDynamoDb(oneItemEach);
    const run = batchRun(fake);

    await eraseUsers(run, [erasure('u1')], new Set());

    expect(run.stats).toMatchObject({ erasures: 1, erasedItems: 6 });
    expect(run.failed.size).toBe(0);
    const [count, audit, ...others] = fake.requests.filter((r) => r.operation === 'UpdateItem');
    // The source's count of profile erasures, raised once the profile is gone (profiles/seen-links.ts), then the audit.
    expect(count?.body).toMatchObject({
      Key: marshall(watermarkKey('src')),
      UpdateExpression: expect.stringContaining('ADD profileErasures :one'),
    });
    expect(audit?.body.UpdateExpression).toContain('completedAt = if_not_exists(completedAt, :now)');
    expect(others).toEqual([]);
    expect(run.log.lines.map((l) => [l.level, l.message])).toEqual([['info', 'erasure done']]);
    expect(run.log.lines[0]?.extra).toMatchObject({ sourceId: 'src', messageId: 'del-u1-m', cutoff: CUTOFF });
  });

  /** Track-table pages without end, each Query answer taking 400 ms of the clock; the audit's send time is kept. */
  function endlessPages() {
    const clock = steppedClock();
    const sent: { audit?: number } = {};
    const fake = fakeDynamoDb(
      byOperation({
        Query: (request, index) => {
          if (request.body.TableName !== TABLES.track) return { body: { Items: [] } };
          clock.advance(400);
          const item = marshall({ pk: 'src#u1', sk: `${BEFORE}#${index}` });
          return { body: { Items: [item], LastEvaluatedKey: item } };
        },
        UpdateItem: () => {
          sent.audit = clock.now();
          return undefined;
        },
      }),
    );
    return { fake, clock, sent };
  }

  it('fails the message of an erasure cut short by the budget when it cannot be requeued, and still records what it erased', async () => {
    // Prepare: a 3 s budget
    const { fake, clock, sent } = endlessPages();
    const run = batchRun(fake, { clock, deadline: 3_000 });

    // Act
    await eraseUsers(run, [erasure('u1')], new Set());

    // Assess
    expect([...run.failed]).toEqual(['del-u1']);
    expect(run.stats.erasures).toBe(0);
    expect(run.stats.erasedItems).toBeGreaterThan(0);
    const audit = fake.requests.find((r) => r.operation === 'UpdateItem' && String(r.body.UpdateExpression).includes('runs'));
    // The audit has a second of its own past the batch deadline (process-batch.ts keeps 3 s back).
    expect(sent.audit).toBeGreaterThanOrEqual(run.deadline);
    expect(sent.audit).toBeLessThan(run.deadline + 1000);
    expect(audit?.body.UpdateExpression).not.toContain('completedAt');
    expect(plain(audit?.body.ExpressionAttributeValues)[':total']).toBe(run.stats.erasedItems);
    expect(run.log.lines.map((l) => [l.level, l.message])).toEqual([['info', 'erasure incomplete; the delete will be retried']]);
  });

  it('continues an erasure cut short by the budget in a requeued message, and lets its own message go', async () => {
    const { fake, clock } = endlessPages();
    const run = batchRun(fake, { clock, deadline: 3_000 });
    const requeued: EventRecord[] = [];
    const pending = erasure('u1');

    await eraseUsers(run, [pending], new Set(), async (record) => void requeued.push(record));

    expect(run.failed.size).toBe(0);
    expect(requeued).toEqual([pending.record]);
    expect(run.stats.continuedErasures).toBe(1);
    expect(run.log.lines.map((l) => [l.level, l.message])).toEqual([['info', 'erasure continues in a later run']]);
  });

  it('fails the message when the continuation cannot be queued', async () => {
    const { fake, clock } = endlessPages();
    const run = batchRun(fake, { clock, deadline: 3_000 });

    await eraseUsers(run, [erasure('u1')], new Set(), async () => {
      throw dynamoErrorLike();
    });

    expect([...run.failed]).toEqual(['del-u1']);
    expect(run.stats.continuedErasures).toBe(0);
    expect(run.log.lines.map((l) => [l.level, l.message])).toEqual([
      ['warn', 'erasure continuation not queued; the delete will be retried'],
      ['info', 'erasure incomplete; the delete will be retried'],
    ]);
  });

  it('fails the message when the audit record cannot be written', async () => {
    const fake = fakeDynamoDb(byOperation({ UpdateItem: () => dynamoError('AccessDeniedException') }));
    const run = batchRun(fake);

    await eraseUsers(run, [erasure('u1')], new Set());

    expect([...run.failed]).toEqual(['del-u1']);
    expect(run.stats.erasures).toBe(0);
    expect(run.log.lines).toEqual([
      {
        level: 'warn',
        message: 'erasure failed; the delete will be retried',
        extra: { sourceId: 'src', messageId: 'del-u1-m', continuation: 0, error: 'AccessDeniedException' },
      },
    ]);
  });

  it('sweeps nothing for a delete whose tombstone was not written', async () => {
    const fake = fakeDynamoDb(oneItemEach);
    const skipped = erasure('u1');

    await eraseUsers(batchRun(fake), [skipped], new Set([skipped]));

    expect(fake.requests).toEqual([]);
  });
});
