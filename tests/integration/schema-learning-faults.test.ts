/**
 * Schema learning by two function instances at once, and with a request that fails, on DynamoDB
 * Local: each instance is a learner of its own (its own cache), both writing the same schemas
 * table. The interleaving two real instances produce by chance is forced: one instance's request
 * is held (tests/support/faults.ts `hold`, the request then goes to DynamoDB Local for real) while
 * the other learns the same event key. A throttled write is forced too (DynamoDB Local never
 * throttles). What is checked is what is stored: counts and caps that hold across instances and
 * across a failure.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import type { EventRecord } from '../../lib/message/format';
import { noMeter } from '../../lib/shared/metrics';
import { pathKey, pathsPartition, summaryKey } from '../../lib/tables/schemas';
import { createSchemaLearner, type SchemaLearner } from '../../lib/worker/schemas/learn';
import { sourceKey } from '../../lib/worker/schemas/store';
import { hold, throttle, withFault, type Call } from '../support/faults';
import { recordingLog } from '../support/worker-run';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
});

afterAll(async () => {
  await stack.stop();
});

function learner(
  documents: DynamoDBDocumentClient = stack.clients.documents,
  pathsPerEventKey?: number,
  eventKeysPerSource?: number,
): SchemaLearner {
  const limits = {
    ...(pathsPerEventKey === undefined ? {} : { pathsPerEventKey }),
    ...(eventKeysPerSource === undefined ? {} : { eventKeysPerSource }),
  };
  return createSchemaLearner({ documents, table: stack.config.tables.schemas, log: recordingLog(), meter: noMeter, limits });
}

/** Queue records of track events named `event` with `properties`, received at `receivedAt`. */
function tracks(sourceId: string, event: string, properties: Array<Record<string, unknown>>, receivedAt: string) {
  return properties.map((p, i) => ({
    record: {
      kind: 'event',
      sourceId,
      receivedAt,
      requestId: `req-${i}`,
      event: { type: 'track', event, properties: p },
    } as unknown as EventRecord,
  }));
}

async function schemaItems(sourceId: string): Promise<Record<string, unknown>[]> {
  const all = await stack.scanRaw('schemas');
  return all.filter((item) => String(item.pk) === sourceId || String(item.pk).startsWith(`${sourceId}#`));
}

async function item(key: { pk: string; sk: string }): Promise<Record<string, unknown> | undefined> {
  return (await schemaItems(key.pk.split('#')[0] ?? '')).find((i) => i.pk === key.pk && i.sk === key.sk);
}

const isUpdate = (where: (call: Call) => boolean) => ({ on: 'UpdateItem', where, calls: 1 });

it('counts an event key, its paths and its events once when two instances learn it at the same time', async () => {
  // Prepare: instance A has reserved the key's place under the source's cap; B learns the key before A creates its summary.
  const at = '2026-11-05T10:00:00.000Z';
  const held = hold(
    isUpdate((call) => call.input.ConditionExpression === 'attribute_not_exists(pk)' && String(call.input.Key?.sk).startsWith('event#')),
  );
  const a = learner(withFault(stack.clients.documents, held));
  const b = learner();

  // Act
  const learningA = a.learn(tracks('src-race-key', 'Signed Up', [{ plan: 'pro' }, { plan: 'free' }], at), 10_000);
  await held.reached;
  const statsB = await b.learn(tracks('src-race-key', 'Signed Up', [{ plan: 'team', seats: 3 }], at), 10_000);
  held.release();
  const statsA = await learningA;

  // Assess
  expect(statsB.failures + statsA.failures).toBe(0);
  const paths = (await schemaItems('src-race-key')).filter((i) => i.pk === pathsPartition('src-race-key', 'track', 'Signed Up'));
  expect(await item(sourceKey('src-race-key'))).toMatchObject({ eventKeys: 1 });
  expect(await item(summaryKey('src-race-key', 'track', 'Signed Up'))).toMatchObject({ count: 3, pathCount: paths.length });
  expect(paths.map((p) => p.path)).toEqual(expect.arrayContaining(['properties.plan', 'properties.seats']));
  expect(new Set(paths.map((p) => p.path)).size).toBe(paths.length);
});

it('takes only the places left under the paths cap when another instance filled some meanwhile, and counts the rest as capped', async () => {
  // Prepare: the key exists; A read it with no path, and reserves its paths only after B recorded two.
  const at = '2026-11-05T11:00:00.000Z';
  const cap = 12;
  await learner(stack.clients.documents, cap).learn(tracks('src-race-cap', 'Viewed', [{}], at), 10_000);
  const held = hold(isUpdate((call) => call.input.ExpressionAttributeNames?.['#counter'] === 'pathCount'));
  const a = learner(withFault(stack.clients.documents, held), cap);
  const b = learner(stack.clients.documents, cap);
  const wide = Object.fromEntries(Array.from({ length: cap }, (_, i) => [`a${i}`, i]));

  // Act
  const learningA = a.learn(tracks('src-race-cap', 'Viewed', [wide], at), 10_000);
  await held.reached;
  await b.learn(tracks('src-race-cap', 'Viewed', [{ b0: true, b1: true }], at), 10_000);
  held.release();
  const statsA = await learningA;

  // Assess
  const paths = (await schemaItems('src-race-cap')).filter((i) => i.pk === pathsPartition('src-race-cap', 'track', 'Viewed'));
  const summary = await item(summaryKey('src-race-cap', 'track', 'Viewed'));
  expect(paths).toHaveLength(cap);
  expect(summary?.pathCount).toBe(cap);
  expect(statsA.cappedPaths).toBeGreaterThan(0);
  // Every one of A's twelve new paths is either recorded or counted as refused by the cap.
  expect(statsA.newPaths + statsA.cappedPaths).toBe(cap);
  expect(paths.filter((p) => String(p.path).startsWith('properties.a'))).toHaveLength(statsA.newPaths);
});

it('records a path anew when its item was deleted from the table after the instance had learned it', async () => {
  // Prepare: the instance knows properties.total as a number; an operator deletes the path's item.
  const one = learner();
  await one.learn(tracks('src-race-gone', 'Paid', [{ total: 1 }], '2026-11-05T12:00:00.000Z'), 10_000);
  await stack.clients.documents.send(
    new DeleteCommand({ TableName: stack.config.tables.schemas, Key: pathKey('src-race-gone', 'track', 'Paid', 'properties.total') }),
  );

  // Act: a new type for the path (its item is gone, so the update finds nothing), then the path again.
  const afterGone = await one.learn(tracks('src-race-gone', 'Paid', [{ total: '1.00' }], '2026-11-05T12:01:00.000Z'), 10_000);
  await one.learn(tracks('src-race-gone', 'Paid', [{ total: '2.00' }], '2026-11-05T12:02:00.000Z'), 10_000);

  // Assess
  expect(afterGone.failures).toBe(0);
  expect(afterGone.newTypes).toBe(0);
  expect(await item(pathKey('src-race-gone', 'track', 'Paid', 'properties.total'))).toMatchObject({
    path: 'properties.total',
    t_string: '2026-11-05T12:02:00.000Z',
  });
});

it("counts a batch's events of a key another instance created while this one was refused a place under the source's cap", async () => {
  // Prepare: one event key a source; B read the key as absent, and asks for a place only after A took the last one for it.
  const at = '2026-11-05T13:00:00.000Z';
  const held = hold(isUpdate((call) => call.input.ExpressionAttributeNames?.['#counter'] === 'eventKeys'));
  const a = learner(stack.clients.documents, undefined, 1);
  const b = learner(withFault(stack.clients.documents, held), undefined, 1);

  // Act
  const learningB = b.learn(tracks('src-race-full', 'Opened', [{ via: 'push' }, { via: 'mail' }], at), 10_000);
  await held.reached;
  await a.learn(tracks('src-race-full', 'Opened', [{ via: 'push' }], at), 10_000);
  held.release();
  const statsB = await learningB;

  // Assess
  expect(statsB).toMatchObject({ failures: 0, cappedKeys: 0 });
  expect(await item(sourceKey('src-race-full'))).toMatchObject({ eventKeys: 1 });
  expect((await item(sourceKey('src-race-full')))?.cappedEventKeys).toBeUndefined();
  expect(await item(summaryKey('src-race-full', 'track', 'Opened'))).toMatchObject({ count: 3 });
});

it('keeps the count of event keys refused by the cap when its write is throttled, and writes it with a later batch', async () => {
  // Prepare: a source capped at one event key, which it has; the first write of the refused count is throttled.
  const at = (minute: number) => `2026-11-05T14:0${minute}:00.000Z`;
  await learner(stack.clients.documents, undefined, 1).learn(tracks('src-capped-throttled', 'First', [{}], at(0)), 10_000);
  const throttled = throttle({
    on: 'UpdateItem',
    where: (call) => String(call.input.UpdateExpression).includes('cappedEventKeys'),
    calls: 1,
  });
  const one = learner(withFault(stack.clients.documents, throttled), undefined, 1);

  // Act
  const failed = await one.learn(tracks('src-capped-throttled', 'Second', [{}], at(1)), 10_000);
  const afterFailure = await item(sourceKey('src-capped-throttled'));
  const retried = await one.learn(tracks('src-capped-throttled', 'Second', [{}], at(2)), 10_000);

  // Assess
  expect(failed).toMatchObject({ failures: 1, cappedKeys: 1 });
  expect(afterFailure?.cappedEventKeys).toBeUndefined();
  expect(retried.failures).toBe(0);
  expect(throttled.matched).toBe(2);
  expect(await item(sourceKey('src-capped-throttled'))).toMatchObject({ eventKeys: 1, cappedEventKeys: 1 });
});

it("writes a known path's last-seen again once an hour of receive time has passed, and not before", async () => {
  // Prepare
  const t0 = Date.parse('2026-11-05T15:00:00.000Z');
  const at = (minutes: number) => new Date(t0 + minutes * 60_000).toISOString();
  const one = learner();
  await one.learn(tracks('src-refresh', 'Read', [{ page: 1 }], at(0)), 10_000);

  // Act
  await one.learn(tracks('src-refresh', 'Read', [{ page: 2 }], at(30)), 10_000);
  const withinTheHour = await item(pathKey('src-refresh', 'track', 'Read', 'properties.page'));
  await one.learn(tracks('src-refresh', 'Read', [{ page: 3 }], at(61)), 10_000);

  // Assess
  expect(withinTheHour?.lastSeen).toBe(at(0));
  expect(await item(pathKey('src-refresh', 'track', 'Read', 'properties.page'))).toMatchObject({ lastSeen: at(61), firstSeen: at(0) });
});
