/**
 * The activity item's updates (lib/worker/profiles/activity.ts) over the in-process DynamoDB fake:
 * what one update says, the fallback when a concurrent batch moved a time first (a failed
 * condition DynamoDB Local cannot be made to answer on demand), and transient failures retried.
 */
import type { Activity, ProfileKey, ProfileStore } from '../../../lib/tables/profiles';
import { writeActivity } from '../../../lib/worker/profiles/activity';
import { byOperation, dynamoError, fakeDynamoDb, type Answer } from '../../support/fake-dynamodb';
import { noWaitClock } from '../../support/clock';
import { recordingLog } from '../../support/worker-run';

const KEY: ProfileKey = { kind: 'user', sourceId: 'src', id: 'u-1' };
const FAR = Date.now() + 60_000;

function activity(firstSeen: string, lastSeen: string, counts: Record<string, number>): Activity {
  return { firstSeen, lastSeen, counts: new Map(Object.entries(counts)) };
}

function storeAnswering(answers: Answer[]) {
  let n = 0;
  const fake = fakeDynamoDb(byOperation({ UpdateItem: () => answers[Math.min(n++, answers.length - 1)] }));
  const store: ProfileStore = { writer: fake.writer, table: 'profiles', clock: noWaitClock, log: recordingLog() };
  return { store, requests: fake.requests };
}

describe('writeActivity', () => {
  it('adds the counts and moves the later last seen in one conditional UpdateItem of the activity item', async () => {
    // Prepare
    const { store, requests } = storeAnswering([undefined]);
    const known = activity('2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z', { track: 5 });

    // Act
    const [result] = await writeActivity(
      store,
      [{ key: KEY, add: activity('2026-01-03T00:00:00.000Z', '2026-01-04T00:00:00.000Z', { track: 2, page: 1 }), known }],
      FAR,
    );

    // Assess
    expect(result).toEqual({ status: 'written', calls: 1 });
    expect(requests).toHaveLength(1);
    expect(requests[0]?.body).toMatchObject({
      Key: { pk: { S: 'src#user#u-1' }, sk: { S: 'activity' } },
      UpdateExpression: 'SET lastSeen = :l ADD #c0 :c0, #c1 :c1',
      ConditionExpression: '(attribute_not_exists(lastSeen) OR lastSeen < :l)',
      ExpressionAttributeNames: { '#c0': 'trackCount', '#c1': 'pageCount' },
    });
  });

  it('adds the counts alone, then sets each time on a condition of its own, when a concurrent batch moved a time first', async () => {
    // Prepare: the combined update's condition fails once; the rest succeed or fail harmlessly.
    const { store, requests } = storeAnswering([
      dynamoError('ConditionalCheckFailedException'),
      undefined,
      dynamoError('ConditionalCheckFailedException'),
      undefined,
    ]);

    // Act
    const [result] = await writeActivity(
      store,
      [{ key: KEY, add: activity('2026-01-01T00:00:00.000Z', '2026-01-05T00:00:00.000Z', { track: 1 }), known: undefined }],
      FAR,
    );

    // Assess: four calls, no loop: the counts once, each time on its own condition.
    expect(result).toEqual({ status: 'written', calls: 4 });
    expect(requests.map((r) => r.body.UpdateExpression)).toEqual([
      'SET firstSeen = :f, lastSeen = :l ADD #c0 :c0',
      'ADD #c0 :c0',
      'SET firstSeen = :f',
      'SET lastSeen = :l',
    ]);
    expect(requests[1]?.body.ConditionExpression).toBeUndefined();
  });

  it('retries a throttled update and fails one DynamoDB refuses, without retrying it', async () => {
    // Prepare
    const throttled = storeAnswering([dynamoError('ProvisionedThroughputExceededException'), undefined]);
    const refused = storeAnswering([dynamoError('ValidationException')]);
    const update = { key: KEY, add: activity('2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', { track: 1 }), known: undefined };

    // Act
    const [retried] = await writeActivity(throttled.store, [update], FAR);
    const [failed] = await writeActivity(refused.store, [update], FAR);

    // Assess
    expect(retried).toEqual({ status: 'written', calls: 1 });
    expect(throttled.requests).toHaveLength(2);
    expect(failed).toMatchObject({ status: 'failed', error: { kind: 'refused', code: 'ValidationException' } });
    expect(refused.requests).toHaveLength(1);
  });
});
