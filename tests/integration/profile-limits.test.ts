/**
 * Profiles at their limits, through the real worker on DynamoDB Local (issue 22): the largest
 * profile the caps allow, built from events with the longest names, ids and values the ingest
 * accepts; activity that costs no profile write (derived from the events); a hot user's thousand events in one batch
 * and across ten batches at once; a profile write DynamoDB refuses, which is retried, not dropped.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchExecuteStatementCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import type { MetricName } from '../../lib/shared/metrics';
import { MAX_ID_BYTES } from '../../lib/spec/normalize';
import { marshallItem } from '../../lib/tables/dynamo-wire';
import { createWorker, type WorkerDeps } from '../../lib/worker/process-batch';
import {
  activityItemKey,
  CAPS,
  ITEM_LIMIT_BYTES,
  itemBytes,
  itemId,
  profileItemKey,
  readItems,
  type ProfileKey,
  type ProfileStore,
} from '../../lib/tables/profiles';
import { createProfileReader, userView, type ProfileReader } from '../../cli/profile/read';
import { segmentEvent, sqsEvent, sqsRecord } from '../support/events';
import { eventMessage } from '../support/records';
import { startTestStack, type TestStack } from '../support/stack';
import { silentLog } from '../../lib/shared/log';
import { systemClock } from '../../lib/shared/retry';

let stack: TestStack;
let reader: ProfileReader;
let store: ProfileStore;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
  reader = createProfileReader(stack.workerDeps.writer, stack.config.tables);
  store = { writer: stack.workerDeps.writer, table: stack.config.tables.profiles, clock: systemClock, log: silentLog };
});

afterAll(async () => {
  await stack.stop();
});

const T0 = Date.parse('2025-05-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

/** The writer of the stack, seeing every command first (DynamoDB Local counts no requests). */
function watchingWriter(watch: (command: unknown) => void): DynamoDBClient {
  const real = stack.workerDeps.writer;
  return {
    send: (command: unknown) => {
      watch(command);
      return (real.send as (c: unknown) => Promise<unknown>).call(real, command);
    },
  } as unknown as DynamoDBClient;
}

function messagesOf(sourceId: string, events: Record<string, unknown>[], perMessage: number): SQSRecord[] {
  const messages: SQSRecord[] = [];
  for (let i = 0; i < events.length; i += perMessage) messages.push(sqsRecord(eventMessage(sourceId, events.slice(i, i + perMessage))));
  return messages;
}

/** Runs `events` through one worker, `perMessage` events a message and `perBatch` messages a batch; returns the failed messages' ids. */
async function deliver(
  sourceId: string,
  events: Record<string, unknown>[],
  deps: Partial<WorkerDeps> = {},
  perMessage = 10,
  perBatch = 10,
) {
  const run = createWorker({ ...stack.workerDeps, ...deps });
  const messages = messagesOf(sourceId, events, perMessage);
  const failed: string[] = [];
  for (let i = 0; i < messages.length; i += perBatch) {
    const { batchItemFailures } = await run(sqsEvent(...messages.slice(i, i + perBatch)));
    failed.push(...batchItemFailures.map((f) => f.itemIdentifier));
  }
  return failed;
}

async function rawItems(key: ProfileKey) {
  const items = await readItems(store, [profileItemKey(key), activityItemKey(key)], true, Date.now() + 10_000);
  return { identity: items.get(itemId(profileItemKey(key))), activity: items.get(itemId(activityItemKey(key))) };
}

describe('the largest profile', () => {
  it('stays under 400 KB by DynamoDB’s size rules at every cap with the longest names, ids and values, and is stored whole', async () => {
    // Prepare: ids of 1,024 bytes, messageIds of 100 four-byte characters, trait names of 128 bytes
    // and values that are largest as DynamoDB counts them (a list of one-digit numbers), over the caps.
    const longId = (prefix: string, i: number) => `${prefix}${i}-`.padEnd(MAX_ID_BYTES, 'x');
    // 100 characters (code points, as the Spec's schema counts them), nearly all of four bytes.
    const messageId = (i: number) => `${i}-` + '😀'.repeat(100 - `${i}-`.length);
    const userId = longId('u', 0);
    const events: Record<string, unknown>[] = [];
    for (let i = 0; i < CAPS.traits + 5; i++) {
      const name = `t${i}-`.padEnd(CAPS.traitNameBytes, 'n');
      events.push(segmentEvent('identify', { userId, messageId: messageId(i), timestamp: at(i), traits: { [name]: Array(340).fill(1) } }));
    }
    for (let i = 0; i < CAPS.links.anonymousIds + 5; i++)
      events.push(segmentEvent('track', { userId, anonymousId: longId('a', i), messageId: messageId(1000 + i), timestamp: at(i) }));
    for (let i = 0; i < CAPS.links.aliases + 5; i++)
      events.push(segmentEvent('alias', { userId, previousId: longId('p', i), messageId: messageId(2000 + i), timestamp: at(i) }));
    for (let i = 0; i < CAPS.links.aliasedTo + 5; i++)
      events.push(segmentEvent('alias', { userId: longId('n', i), previousId: userId, messageId: messageId(3000 + i), timestamp: at(i) }));
    for (let i = 0; i < CAPS.links.groups + 5; i++)
      events.push(segmentEvent('group', { userId, groupId: longId('g', i), messageId: messageId(4000 + i), timestamp: at(i), traits: {} }));
    expect(Buffer.byteLength(messageId(1))).toBe(2 + 98 * 4);

    // Act
    const failed = await deliver('largest', events);

    // Assess
    expect(failed).toEqual([]);
    const key: ProfileKey = { kind: 'user', sourceId: 'largest', id: userId };
    const { identity } = await rawItems(key);
    const bytes = itemBytes(marshallItem(identity ?? {}));
    expect(bytes).toBeLessThan(ITEM_LIMIT_BYTES);
    expect(bytes).toBeGreaterThan(300 * 1024); // the bound is worth stating: the caps are not far below it
    const profile = (await reader.get([key])).get(JSON.stringify(['user', 'largest', userId]));
    expect(profile?.traits.size).toBe(CAPS.traits);
    for (const kind of ['anonymousIds', 'aliases', 'aliasedTo', 'groups'] as const)
      expect(profile?.links.get(kind)?.size).toBe(CAPS.links[kind]);
  }, 180_000);
});

describe('cost by change', () => {
  it('writes nothing to the profiles for events that change nothing, however large the identity; activity is read from the events', async () => {
    // Prepare: a user with a large identity (100 traits of about 1 KB) and a known anonymous id.
    const traits = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`t${i}`, 'v'.repeat(1000)]));
    await deliver('by-change', [
      segmentEvent('identify', { userId: 'big', anonymousId: 'big-anon', timestamp: at(1), traits }),
      segmentEvent('track', { userId: 'big', anonymousId: 'big-anon', timestamp: at(2) }),
    ]);
    const statements: string[] = [];
    const updates: UpdateItemCommand[] = [];
    const writer = watchingWriter((command) => {
      if (command instanceof BatchExecuteStatementCommand)
        statements.push(...(command.input.Statements ?? []).map((s) => s.Statement ?? ''));
      if (command instanceof UpdateItemCommand && command.input.TableName === stack.config.tables.profiles) updates.push(command);
    });

    // Act: five small track events of the same day, in separate batches.
    for (let i = 0; i < 5; i++) {
      expect(
        await deliver('by-change', [segmentEvent('track', { userId: 'big', anonymousId: 'big-anon', timestamp: at(10 + i) })], { writer }),
      ).toEqual([]);
    }

    // Assess: no identity write and no activity update at all (issue 22: activity is derived at read time).
    expect(statements).toEqual([]);
    expect(updates).toHaveLength(0);
    const key: ProfileKey = { kind: 'user', sourceId: 'by-change', id: 'big' };
    const { identity, activity } = await rawItems(key);
    expect(itemBytes(marshallItem(identity ?? {}))).toBeGreaterThan(100_000);
    expect(activity).toBeUndefined();
    const view = await userView(reader, (await reader.get([key])).get(JSON.stringify(['user', 'by-change', 'big']))!);
    expect(view).toMatchObject({ firstSeen: at(1), lastSeen: at(14), counts: { identify: 1, track: 6 } });
  });

  it('rewrites the identity only for what changes it: a trait with a new value, a new anonymous id', async () => {
    // Prepare
    await deliver('changes', [segmentEvent('identify', { userId: 'c', anonymousId: 'c-1', timestamp: at(1), traits: { plan: 'free' } })]);
    const statements: string[] = [];
    const writer = watchingWriter((command) => {
      if (command instanceof BatchExecuteStatementCommand)
        statements.push(...(command.input.Statements ?? []).map((s) => s.Statement ?? ''));
    });

    // Act: the same trait value again (no change), a new value, a new anonymous id.
    await deliver('changes', [segmentEvent('identify', { userId: 'c', timestamp: at(0), traits: { plan: 'older' } })], { writer });
    const unchanged = statements.length;
    await deliver('changes', [segmentEvent('identify', { userId: 'c', timestamp: at(2), traits: { plan: 'pro' } })], { writer });
    await deliver('changes', [segmentEvent('page', { userId: 'c', anonymousId: 'c-2', timestamp: at(3) })], { writer });

    // Assess
    expect(unchanged).toBe(0);
    expect(statements).toHaveLength(2);
  });
});

describe('a hot user', () => {
  /** `n` events of one user: tracks and pages, and every tenth an identify that changes trait `step`. */
  function hotEvents(n: number, offset: number): Record<string, unknown>[] {
    return Array.from({ length: n }, (_, i) => {
      const t = offset + i;
      if (i % 10 === 0)
        return segmentEvent('identify', { userId: 'hot', anonymousId: `hot-${t % 7}`, timestamp: at(t), traits: { step: t } });
      return segmentEvent(i % 2 ? 'track' : 'page', { userId: 'hot', anonymousId: `hot-${t % 7}`, timestamp: at(t) });
    });
  }

  it('fails no message for a thousand events of one user in one batch, and writes the identity once', async () => {
    // Prepare
    let statements = 0;
    const writer = watchingWriter((command) => {
      if (command instanceof BatchExecuteStatementCommand) statements += command.input.Statements?.length ?? 0;
    });

    // Act
    const failed = await deliver('hot-1', hotEvents(1000, 0), { writer }, 100, 10);

    // Assess
    expect(failed).toEqual([]);
    expect(statements).toBe(1);
    const key: ProfileKey = { kind: 'user', sourceId: 'hot-1', id: 'hot' };
    const view = await userView(reader, (await reader.get([key])).get(JSON.stringify(['user', 'hot-1', 'hot']))!);
    expect(view).toMatchObject({
      traits: { step: 990 },
      firstSeen: at(0),
      lastSeen: at(999),
      counts: { identify: 100, track: 500, page: 400 },
    });
  });

  it('fails no message when ten batches of one user are processed at once, and converges', async () => {
    // Prepare: ten batches of 100 events each, all of one user, every batch changing its traits.
    const batches = Array.from({ length: 10 }, (_, b) => messagesOf('hot-10', hotEvents(100, b * 100), 10));

    // Act
    const results = await Promise.all(batches.map((messages) => createWorker(stack.workerDeps)(sqsEvent(...messages))));

    // Assess
    expect(results.map((r) => r.batchItemFailures)).toEqual(Array(10).fill([]));
    const key: ProfileKey = { kind: 'user', sourceId: 'hot-10', id: 'hot' };
    const view = await userView(reader, (await reader.get([key])).get(JSON.stringify(['user', 'hot-10', 'hot']))!);
    expect(view).toMatchObject({
      traits: { step: 990 },
      anonymousIds: expect.arrayContaining(['hot-0', 'hot-6']) as unknown,
      firstSeen: at(0),
      lastSeen: at(999),
      counts: { identify: 100, track: 500, page: 400 },
    });
  });
});

describe('a profile write DynamoDB refuses', () => {
  it('fails the messages, so SQS retries them, counts ProfileWritesRefused, and writes the profile on redelivery', async () => {
    // Prepare: DynamoDB Local refuses no profile the caps allow, so the fake refusal is forced here:
    // the first profile statement is answered as DynamoDB answers an item over 400 KB.
    const real = stack.workerDeps.writer;
    let refuse = true;
    const writer = {
      send: async (command: unknown) => {
        if (refuse && command instanceof BatchExecuteStatementCommand) {
          refuse = false;
          return {
            Responses: (command.input.Statements ?? []).map(() => ({
              Error: { Code: 'ValidationError', Message: 'Item size has exceeded the maximum allowed size' },
            })),
          };
        }
        return (real.send as (c: unknown) => Promise<unknown>).call(real, command);
      },
    } as unknown as DynamoDBClient;
    const counted: Array<[MetricName, number]> = [];
    const meter = { ...stack.workerDeps.meter, count: (name: MetricName, value: number) => void counted.push([name, value]) };
    const message = messagesOf('refused', [segmentEvent('identify', { userId: 'r', timestamp: at(1), traits: { plan: 'pro' } })], 10);

    // Act
    const first = await createWorker({ ...stack.workerDeps, writer, meter })(sqsEvent(...message));
    const again = await createWorker(stack.workerDeps)(sqsEvent(...message));

    // Assess
    expect(first.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(message.map((m) => m.messageId));
    expect(counted).toContainEqual(['ProfileWritesRefused', 1]);
    expect(again.batchItemFailures).toEqual([]);
    const key: ProfileKey = { kind: 'user', sourceId: 'refused', id: 'r' };
    expect((await reader.get([key])).get(JSON.stringify(['user', 'refused', 'r']))?.traits.get('plan')?.value).toBe('pro');
  });
});
