/**
 * Erasure's reads and writes (lib/worker/erasure.ts, lib/tables/erasures.ts), over the real document client and a DynamoDB
 * in process whose answers each test chooses: the cut-off, tombstones and watermarks, the reads
 * that find them (with unprocessed keys and the deadline), the sweep (pages, budget, failures) and
 * the audit record. tests/conformance/section-6-erasure.test.ts proves the same against DynamoDB Local.
 */
import { createHmac } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { EventRecord } from '../../../lib/message/format';
import { DeadlineError } from '../../../lib/shared/retry';
import {
  findTombstones,
  isErased,
  legacyUserHash,
  recordAudit,
  recordTombstone,
  tombstoneKey,
  userHash,
  watermarkKey,
} from '../../../lib/tables/erasures';
import { erasureCutoff, sweepUser, type SweepResult } from '../../../lib/worker/erasure';
import { EVENT_TYPES } from '../../../lib/spec/event-types';
import { byOperation, dynamoError, fakeDynamoDb, type WireRequest } from '../../support/fake-dynamodb';
import { steppedClock } from '../../support/clock';
import { erasureDeps, HASH_KEY, recordingLog, TABLES } from '../../support/worker-run';

const FAR = Date.now() + 60_000;
const RECEIVED = '2026-03-01T12:00:00.000Z';

function deleteRecord(overrides: Partial<EventRecord['event']> = {}, receivedAt = RECEIVED): EventRecord {
  return {
    kind: 'event',
    sourceId: 'src',
    receivedAt,
    requestId: 'req-1',
    event: { type: 'delete', messageId: 'del-1', userId: 'user-1', timestamp: '2026-03-01T11:59:00.000Z', ...overrides },
  };
}

/** The plain values of a wire request's attribute map. */
const plain = (value: unknown) => unmarshall(value as Record<string, AttributeValue>);

/** Keys a BatchGetItem asks for, as `pk` text. */
function askedKeys(request: WireRequest): string[] {
  const items = request.body.RequestItems as Record<string, { Keys: Array<Record<string, AttributeValue>> }>;
  return Object.values(items).flatMap(({ Keys }) => Keys.map((key) => String(plain(key).pk)));
}

/** A BatchGetItem answer holding a cut-off for each of `cutoffs` (pk → cut-off), and `unprocessed` keys left over. */
function cutoffsAnswer(cutoffs: Record<string, string>, unprocessed: string[] = []) {
  return {
    body: {
      Responses: { [TABLES.erasures]: Object.entries(cutoffs).map(([pk, cutoff]) => marshall({ pk, cutoff })) },
      ...(unprocessed.length > 0
        ? { UnprocessedKeys: { [TABLES.erasures]: { Keys: unprocessed.map((pk) => marshall({ pk, sk: 'x' })) } } }
        : {}),
    },
  };
}

describe('erasureCutoff', () => {
  it('is the receive time when the delete is timed before it (a sender clock behind)', () => {
    expect(erasureCutoff(deleteRecord({ timestamp: '2026-03-01T11:00:00.000Z' }))).toBe(RECEIVED);
  });

  it("is the receive time when the delete is timed after it: a delete's own clock never reaches the user's future events", () => {
    expect(erasureCutoff(deleteRecord({ timestamp: '2026-03-01T12:00:30.000Z' }))).toBe(RECEIVED);
    expect(erasureCutoff(deleteRecord({ timestamp: '9999-12-31T23:59:59.999Z' }))).toBe(RECEIVED);
  });
});

describe('isErased', () => {
  it('covers events at or before the cut-off, not after', () => {
    expect(isErased('2026-03-01T12:00:00.000Z', RECEIVED)).toBe(true);
    expect(isErased('2026-03-01T11:59:59.999Z', RECEIVED)).toBe(true);
    expect(isErased('2026-03-01T12:00:00.001Z', RECEIVED)).toBe(false);
  });
});

describe('tombstone and watermark keys', () => {
  it('name the user by a keyed HMAC-SHA-256 of the userId, never the id itself, and the source by its id', () => {
    const hash = createHmac('sha256', HASH_KEY).update('user-1').digest('hex');

    expect(userHash('user-1', HASH_KEY)).toBe(hash);
    expect(userHash('user-1', 'another-key')).not.toBe(hash);
    expect(tombstoneKey('src', 'user-1', HASH_KEY)).toEqual({ pk: `user#src#${hash}`, sk: 'tombstone' });
    expect(watermarkKey('src')).toEqual({ pk: 'source#src', sk: 'watermark' });
  });
});

describe('recordTombstone', () => {
  it("raises the user's tombstone, then the source's watermark, each only forward", async () => {
    // Prepare
    const fake = fakeDynamoDb();

    // Act
    await recordTombstone(erasureDeps(fake), 'src', 'user-1', RECEIVED, FAR);

    // Assess
    expect(fake.requests.map((r) => [r.operation, plain(r.body.Key)])).toEqual([
      ['UpdateItem', tombstoneKey('src', 'user-1', HASH_KEY)],
      ['UpdateItem', watermarkKey('src')],
    ]);
    for (const { body } of fake.requests) {
      expect(body).toMatchObject({ TableName: TABLES.erasures, ConditionExpression: 'attribute_not_exists(cutoff) OR cutoff < :c' });
      expect(plain(body.ExpressionAttributeValues)[':c']).toBe(RECEIVED);
    }
    expect(fake.requests[0]?.body.UpdateExpression).toBe('SET cutoff = :c, sourceId = :s, userHash = :h, updatedAt = :now');
    expect(fake.requests.some((r) => r.text.includes('user-1'))).toBe(false);
  });

  it('takes a later cut-off already recorded as success, and still raises the watermark', async () => {
    const fake = fakeDynamoDb((_request, index) => (index === 0 ? dynamoError('ConditionalCheckFailedException') : undefined));

    await recordTombstone(erasureDeps(fake), 'src', 'user-1', RECEIVED, FAR);

    expect(fake.requests).toHaveLength(2);
  });

  it('throws when the tombstone cannot be written, and leaves the watermark alone', async () => {
    const fake = fakeDynamoDb(() => dynamoError('InternalServerError'));

    await expect(recordTombstone(erasureDeps(fake), 'src', 'user-1', RECEIVED, FAR)).rejects.toMatchObject({ code: 'InternalServerError' });
    expect(fake.requests).toHaveLength(1);
  });
});

describe('findTombstones', () => {
  const old = '2026-01-01T00:00:00.000Z';
  const live = '2026-04-01T00:00:00.000Z';
  const watermark = '2026-02-01T00:00:00.000Z';

  it('reads one watermark per source, and no tombstone when every event is after it', async () => {
    const fake = fakeDynamoDb(byOperation({ BatchGetItem: () => cutoffsAnswer({ 'source#a': watermark }) }));
    const writes = [
      { sourceId: 'a', userId: 'u1', timestamp: live },
      { sourceId: 'a', userId: 'u2', timestamp: live },
      { sourceId: 'b', userId: 'u1', timestamp: old },
    ];

    const found = await findTombstones(erasureDeps(fake), writes, FAR);

    expect(fake.requests.map(askedKeys)).toEqual([['source#a', 'source#b']]);
    expect(fake.requests[0]?.body.RequestItems).toMatchObject({ [TABLES.erasures]: { ConsistentRead: true } });
    expect(found).toEqual({
      cutoffs: new Map(),
      profileErasures: new Map([
        ['a', 0],
        ['b', 0],
      ]),
      requests: 1,
    });
  });

  it("gives each source's count of profile erasures from its watermark item, 0 without one", async () => {
    const fake = fakeDynamoDb(
      byOperation({
        BatchGetItem: () => ({
          body: { Responses: { [TABLES.erasures]: [marshall({ pk: 'source#a', cutoff: watermark, profileErasures: 3 })] } },
        }),
      }),
    );

    const found = await findTombstones(
      erasureDeps(fake),
      [
        { sourceId: 'a', userId: 'u1', timestamp: live },
        { sourceId: 'b', userId: 'u1', timestamp: live },
      ],
      FAR,
    );

    expect(fake.requests[0]?.body.RequestItems).toMatchObject({
      [TABLES.erasures]: { ProjectionExpression: 'pk, cutoff, profileErasures' },
    });
    expect(found.profileErasures).toEqual(
      new Map([
        ['a', 3],
        ['b', 0],
      ]),
    );
  });

  it('reads the tombstones of users with events at or before their source watermark, each user once, keyed and legacy', async () => {
    const u1 = tombstoneKey('a', 'u1', HASH_KEY).pk;
    const legacyU1 = `user#a#${legacyUserHash('u1')}`;
    const fake = fakeDynamoDb(
      byOperation({
        BatchGetItem: (request) =>
          askedKeys(request)[0]?.startsWith('source#') ? cutoffsAnswer({ 'source#a': watermark }) : cutoffsAnswer({ [u1]: old }),
      }),
    );
    const writes = [
      { sourceId: 'a', userId: 'u1', timestamp: old },
      { sourceId: 'a', userId: 'u1', timestamp: watermark },
      { sourceId: 'a', userId: 'u2', timestamp: live },
      { sourceId: 'b', userId: 'u3', timestamp: old },
    ];

    const found = await findTombstones(erasureDeps(fake), writes, FAR);

    expect(fake.requests.map(askedKeys)).toEqual([
      ['source#a', 'source#b'],
      [u1, legacyU1],
    ]);
    expect(found).toEqual({
      cutoffs: new Map([[u1, old]]),
      profileErasures: new Map([
        ['a', 0],
        ['b', 0],
      ]),
      requests: 2,
    });
  });

  it('asks again for the keys BatchGetItem leaves unprocessed, and only for those', async () => {
    const fake = fakeDynamoDb(
      byOperation({
        BatchGetItem: (_request, index) =>
          index === 0 ? cutoffsAnswer({ 'source#a': live }, ['source#b']) : cutoffsAnswer({ 'source#b': live }),
      }),
    );
    const writes = [
      { sourceId: 'a', userId: 'u1', timestamp: '2027-01-01T00:00:00.000Z' },
      { sourceId: 'b', userId: 'u2', timestamp: '2027-01-01T00:00:00.000Z' },
    ];

    const found = await findTombstones(erasureDeps(fake, { clock: steppedClock() }), writes, 10_000);

    expect(fake.requests.map(askedKeys)).toEqual([['source#a', 'source#b'], ['source#b']]);
    expect(found.requests).toBe(2);
  });

  it('throws a DeadlineError when keys are still unprocessed at the deadline', async () => {
    const fake = fakeDynamoDb(byOperation({ BatchGetItem: () => cutoffsAnswer({}, ['source#a']) }));

    const finding = findTombstones(erasureDeps(fake, { clock: steppedClock() }), [{ sourceId: 'a', userId: 'u', timestamp: old }], 1_000);

    await expect(finding).rejects.toBeInstanceOf(DeadlineError);
    expect(fake.requests.length).toBeGreaterThan(1);
  });

  it('asks for at most 100 keys a call (two per user: the keyed and the legacy tombstone)', async () => {
    const fake = fakeDynamoDb(
      byOperation({
        BatchGetItem: (request) =>
          askedKeys(request)[0]?.startsWith('source#') ? cutoffsAnswer({ 'source#a': watermark }) : cutoffsAnswer({}),
      }),
    );
    const writes = Array.from({ length: 150 }, (_, i) => ({ sourceId: 'a', userId: `u${i}`, timestamp: old }));

    const found = await findTombstones(erasureDeps(fake), writes, FAR);

    expect(fake.requests.map((r) => askedKeys(r).length)).toEqual([1, 100, 100, 100]);
    expect(found.requests).toBe(4);
  });
});

describe('sweepUser', () => {
  const cutoff = RECEIVED;
  const items = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => marshall({ pk: 'src#user-1', sk: `2026-01-01T00:00:0${from + i}.000Z#m${from + i}` }));

  /** Queries per table name. */
  const queriesOf = (requests: WireRequest[], table: string) =>
    requests.filter((r) => r.operation === 'Query' && r.body.TableName === table);

  /** Keys deleted by the batch writes, as `sk` text. */
  const deletedKeys = (requests: WireRequest[]) =>
    requests
      .filter((r) => r.operation === 'BatchWriteItem')
      .flatMap((r) => Object.values(r.body.RequestItems as Record<string, Array<{ DeleteRequest: { Key: unknown } }>>).flat())
      .map((request) => String(plain(request.DeleteRequest.Key).sk));

  it("deletes the user's items up to the cut-off in every event table, page after page", async () => {
    // Prepare: two pages in the track table, nothing elsewhere
    const fake = fakeDynamoDb(
      byOperation({
        Query: (request) => {
          if (request.body.TableName !== TABLES.track) return { body: { Items: [] } };
          return request.body.ExclusiveStartKey
            ? { body: { Items: items(1, 2) } }
            : { body: { Items: items(2), LastEvaluatedKey: items(2)[1] } };
        },
      }),
    );

    // Act
    const result = await sweepUser(erasureDeps(fake), 'src', 'user-1', cutoff, 'msg-1', FAR);

    // Assess
    expect(result).toEqual({
      complete: true,
      outOfTime: false,
      erased: { ...Object.fromEntries(EVENT_TYPES.map((t) => [t, 0])), track: 3 },
    });
    for (const type of EVENT_TYPES) {
      const [first] = queriesOf(fake.requests, TABLES[type]);
      // The event's timestamp and receive time decide, not the sort key's (device) time: the whole
      // partition is read, filtered on the timestamp attribute (or its absence, for items of the
      // old layout) and the receive time `_r`.
      expect(first?.body).toMatchObject({
        KeyConditionExpression: 'pk = :pk',
        FilterExpression: '(attribute_not_exists(#ts) OR #ts <= :cutoff OR #r < :cutoffMs)',
        ExpressionAttributeNames: { '#ts': 'timestamp', '#r': '_r' },
        ConsistentRead: true,
      });
      expect(plain(first?.body.ExpressionAttributeValues)).toEqual({
        ':pk': 'src#user-1',
        ':cutoff': cutoff,
        ':cutoffMs': Date.parse(cutoff),
      });
    }
    expect(plain(queriesOf(fake.requests, TABLES.track)[1]?.body.ExclusiveStartKey)).toEqual(plain(items(2)[1]));
    expect(deletedKeys(fake.requests).sort()).toEqual([
      '2026-01-01T00:00:00.000Z#m0',
      '2026-01-01T00:00:01.000Z#m1',
      '2026-01-01T00:00:02.000Z#m2',
    ]);
  });

  it('stops at the deadline between pages and says it is incomplete, counting what it deleted', async () => {
    // Prepare: each track page and each delete take half the budget
    const clock = steppedClock();
    const fake = fakeDynamoDb(
      byOperation({
        Query: (request) => {
          if (request.body.TableName !== TABLES.track) return { body: { Items: [] } };
          clock.advance(500);
          return { body: { Items: items(2), LastEvaluatedKey: items(2)[1] } };
        },
        BatchWriteItem: () => {
          clock.advance(500);
          return undefined;
        },
      }),
    );

    const result = await sweepUser(erasureDeps(fake, { clock }), 'src', 'user-1', cutoff, 'msg-1', 1_000);

    expect(result.complete).toBe(false);
    expect(result.erased.track).toBe(2);
    expect(queriesOf(fake.requests, TABLES.track)).toHaveLength(1);
  });

  it('is incomplete when deletes stay unprocessed until the deadline', async () => {
    const fake = fakeDynamoDb(
      byOperation({
        Query: (request) => ({ body: { Items: request.body.TableName === TABLES.page ? items(3) : [] } }),
        BatchWriteItem: (request) => {
          const [table, requests] = Object.entries(request.body.RequestItems as Record<string, unknown[]>)[0] ?? [];
          return { body: { UnprocessedItems: { [String(table)]: requests?.slice(0, 1) } } };
        },
      }),
    );

    const result = await sweepUser(erasureDeps(fake, { clock: steppedClock() }), 'src', 'user-1', cutoff, 'msg-1', 2_000);

    expect(result.complete).toBe(false);
    expect(result.erased.page).toBe(2);
  });

  it('keeps sweeping the other tables when one fails, and says it is incomplete', async () => {
    const log = recordingLog();
    const fake = fakeDynamoDb(
      byOperation({
        Query: (request) => (request.body.TableName === TABLES.page ? dynamoError('InternalServerError') : { body: { Items: items(1) } }),
      }),
    );

    const result = await sweepUser(erasureDeps(fake, { log }), 'src', 'user-1', cutoff, 'msg-1', FAR);

    expect(result.complete).toBe(false);
    expect(result.erased).toEqual({ ...Object.fromEntries(EVENT_TYPES.map((t) => [t, 1])), page: 0 });
    expect(log.lines).toEqual([
      { level: 'warn', message: 'erasure sweep of a table failed', extra: { table: TABLES.page, error: 'InternalServerError' } },
    ]);
  });

  it('sends nothing once the deadline has passed', async () => {
    const fake = fakeDynamoDb();

    const result = await sweepUser(erasureDeps(fake, { clock: steppedClock(5_000) }), 'src', 'user-1', cutoff, 'msg-1', 5_000);

    expect(result.complete).toBe(false);
    expect(fake.requests).toEqual([]);
  });
});

describe('recordAudit', () => {
  const erased = { ...(Object.fromEntries(EVENT_TYPES.map((t) => [t, 0])) as SweepResult['erased']), track: 3, identify: 1 };

  it('adds the run to the audit record of the request, with counts per table and without the userId', async () => {
    // Prepare
    const fake = fakeDynamoDb();
    const record = deleteRecord();
    const now = Date.parse('2026-03-01T12:00:05.000Z');

    // Act
    await recordAudit(
      erasureDeps(fake, { clock: steppedClock(now) }),
      record,
      RECEIVED,
      { complete: true, outOfTime: false, erased },
      now + 60_000,
    );

    // Assess
    const [request] = fake.requests;
    const hash = userHash('user-1', HASH_KEY);
    expect(request?.operation).toBe('UpdateItem');
    expect(plain(request?.body.Key)).toEqual({ pk: 'audit#src', sk: `${RECEIVED}#${hash}#del-1` });
    expect(request?.body.UpdateExpression).toBe(
      'SET sourceId = :s, userHash = :h, messageId = :m, requestId = :r, requestedAt = :t, receivedAt = :ra, cutoff = :c, lastRunAt = :now, ' +
        'completedAt = if_not_exists(completedAt, :now) ' +
        `ADD runs :one, erasedItems :total, ${EVENT_TYPES.map((t) => `#${t} :${t}`).join(', ')}`,
    );
    expect(request?.body.ExpressionAttributeNames).toEqual(Object.fromEntries(EVENT_TYPES.map((t) => [`#${t}`, `erased_${t}`])));
    expect(plain(request?.body.ExpressionAttributeValues)).toEqual({
      ':s': 'src',
      ':h': hash,
      ':m': 'del-1',
      ':r': 'req-1',
      ':t': '2026-03-01T11:59:00.000Z',
      ':ra': RECEIVED,
      ':c': RECEIVED,
      ':now': '2026-03-01T12:00:05.000Z',
      ':one': 1,
      ':total': 4,
      ...Object.fromEntries(EVENT_TYPES.map((t) => [`:${t}`, erased[t]])),
    });
    expect(request?.text).not.toContain('user-1');
  });

  it('leaves completedAt unset for a run that did not finish', async () => {
    const fake = fakeDynamoDb();

    await recordAudit(erasureDeps(fake), deleteRecord(), RECEIVED, { complete: false, outOfTime: true, erased }, FAR);

    expect(fake.requests[0]?.body.UpdateExpression).not.toContain('completedAt');
  });
});
