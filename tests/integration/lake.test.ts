/**
 * The lake end to end on the emulators: events sent over HTTP, stored by the worker, carried by
 * DynamoDB Local's streams to the lake function, written as Parquet to the S3 emulator, and read
 * back with `segment-ingest sql` (DuckDB over the files); then erased with a delete and `lake compact`.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { EVENT_TYPES } from '../../lib/spec/event-types';
import { cli } from '../support/cli';
import { segmentEvent } from '../support/events';
import { eventMessage } from '../support/records';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ lake: true });
}, 60_000);

afterAll(async () => {
  await stack.stop();
});

/** Waits until the worker wrote everything queued and the lake function read every stream record of it. */
async function settle(): Promise<void> {
  await stack.drain();
  await stack.lake?.trigger.idle();
}

async function sqlRows(query: string): Promise<Array<Record<string, unknown>>> {
  const result = await cli(stack, ['sql', '--json', query], { env: { DATA_DIR: cacheDir } });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const cacheDir = `/tmp/segment-ingest-lake-test-${process.pid}`;
const TABLE_OF = { identify: 'identifies', track: 'tracks', page: 'pages', screen: 'screens', group: 'groups', alias: 'aliases' };

describe('events reach the lake exactly once', () => {
  const events = EVENT_TYPES.map((type) => segmentEvent(type, { userId: 'lake-user', messageId: `lake-${type}` }));
  const redelivered = segmentEvent('track', { userId: 'lake-user', messageId: 'lake-redelivered', event: 'Redelivered' });

  beforeAll(async () => {
    expect((await stack.send('/v1/batch', { batch: events })).status).toBe(200);
    // A redelivered SQS message: the same body twice. The second write changes nothing, so DynamoDB emits no record.
    const body = eventMessage(stack.sourceId, [redelivered], 'req-redelivered', Date.parse('2026-12-01T10:00:00.000Z'));
    for (let i = 0; i < 2; i++) {
      await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.queueUrl, MessageBody: body }));
      await settle();
    }
    // A sender's retry: the same event sent again (received later, so the item changes: a MODIFY, skipped).
    expect((await stack.send('/v1/track', events[1])).status).toBe(200);
    await settle();
  }, 60_000);

  it.each(EVENT_TYPES)('stores one row for the %s event', async (type) => {
    const rows = await sqlRows(`SELECT message_id, user_id FROM ${TABLE_OF[type]} WHERE message_id = 'lake-${type}'`);
    expect(rows).toEqual([{ message_id: `lake-${type}`, user_id: 'lake-user' }]);
  });

  it('stores a redelivered message once, in the partition of its receive day', async () => {
    const rows = await sqlRows(`SELECT message_id, source_id, dt, received_at FROM tracks WHERE message_id = 'lake-redelivered'`);
    expect(rows).toEqual([
      { message_id: 'lake-redelivered', source_id: stack.sourceId, dt: '2026-12-01', received_at: '2026-12-01T10:00:00.000Z' },
    ]);
  });

  it('returns the columns Athena has, with their types', async () => {
    const [row] = await sqlRows(
      `SELECT *, typeof(timestamp) AS ts_type, typeof(properties) AS properties_type, json_extract_scalar(properties, '$.total') AS total FROM tracks WHERE message_id = 'lake-track'`,
    );
    const sent = events[1] as { timestamp: string; properties: unknown; context: unknown; event: string };
    expect(row).toMatchObject({
      message_id: 'lake-track',
      source_id: stack.sourceId,
      user_id: 'lake-user',
      anonymous_id: null,
      event: sent.event,
      timestamp: sent.timestamp,
      ts_type: 'TIMESTAMP',
      properties_type: 'JSON',
      total: '27.5',
    });
    expect(JSON.parse(String(row?.properties))).toEqual(sent.properties);
    expect(JSON.parse(String(row?.context))).toEqual(sent.context);
    expect(Object.keys(row ?? {}).slice(0, 3)).toEqual(['message_id', 'source_id', 'user_id']);
  });
});
