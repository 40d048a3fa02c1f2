/**
 * The lake end to end on the emulators: events sent over HTTP, stored by the worker, carried by
 * DynamoDB Local's streams to the lake function, written as Parquet to the S3 emulator, and read
 * back with `segment-ingest sql` (DuckDB over the files); then erased with a delete and `lake compact`.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { EVENT_TYPES } from '../../lib/spec/event-types';
import { listLake } from '../../lib/lake/objects';
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

describe('what the lake keeps of an event', () => {
  beforeAll(async () => {
    // 1e300 is beyond what the SDK writes as a number: the worker stores this event whole as JSON text (`_json`).
    const whole = segmentEvent('track', { messageId: 'lake-json', userId: 'lake-user', properties: { big: 1e300, nested: { a: [1, 2] } } });
    // `~flag` and `_r` are stored as `~~flag` and `~_r` (lib/tables/events.ts); the lake must give them their own names back.
    const escaped = segmentEvent('page', { messageId: 'lake-tilde', userId: 'lake-user', '~flag': true, _r: 'mine' });
    expect((await stack.send('/v1/batch', { batch: [whole, escaped] })).status).toBe(200);
    await settle();
  }, 60_000);

  it('gives back an event stored as _json whole', async () => {
    const [item] = (await stack.scanRaw('track')).filter((i) => String(i.sk).endsWith('#lake-json'));
    expect(typeof item?._json).toBe('string');
    const [row] = await sqlRows(`SELECT event, properties, context, timestamp FROM tracks WHERE message_id = 'lake-json'`);
    expect(JSON.parse(String(row?.properties))).toEqual({ big: 1e300, nested: { a: [1, 2] } });
    expect(row?.event).toBe('Order Completed');
    expect(JSON.parse(String(row?.context))).toEqual({ library: { name: 'analytics-node', version: '2.1.0' }, ip: '203.0.113.9' });
  });

  it('keeps the names of fields stored escaped with ~', async () => {
    const [item] = (await stack.scanRaw('page')).filter((i) => String(i.sk).endsWith('#lake-tilde'));
    expect(item).toHaveProperty(['~~flag'], true);
    const [row] = await sqlRows(`SELECT extra FROM pages WHERE message_id = 'lake-tilde'`);
    expect(JSON.parse(String(row?.extra))).toEqual({ category: 'Docs', '~flag': true, _r: 'mine' });
  });
});

describe('lake compact', () => {
  const count = async (where: string) => Number((await sqlRows(`SELECT count(*) AS n FROM tracks WHERE ${where}`))[0]?.n);

  beforeAll(async () => {
    const batch = ['erase-me', 'erase-me', 'keep-me', 'keep-me'].map((userId) => segmentEvent('track', { userId }));
    expect((await stack.send('/v1/batch', { batch })).status).toBe(200);
    await settle();
  }, 60_000);

  it('merges a day into one file per partition, every row kept', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const rowsBefore = await count('true');
    const filesBefore = (await listLake(stack.lake!.deps.s3, stack.lake!.deps.bucket)).filter((o) => o.partition.day === today);
    expect(filesBefore.filter((o) => o.partition.type === 'track').length).toBeGreaterThan(1);

    const result = await cli(stack, ['lake', 'compact', '--day', today, '--json']);
    expect(result.code).toBe(0);

    const after = (await listLake(stack.lake!.deps.s3, stack.lake!.deps.bucket)).filter((o) => o.partition.day === today);
    const partitions = new Set(after.map((o) => `${o.partition.type}/${o.partition.sourceId}`));
    expect(after).toHaveLength(partitions.size);
    // A partition of several files is rewritten into a new one; a partition of one file is left as it is.
    const several = (key: string) => filesBefore.filter((b) => key.startsWith(b.key.slice(0, b.key.lastIndexOf('/') + 1))).length > 1;
    expect(after.filter((o) => filesBefore.some((b) => b.key === o.key)).every((o) => !several(o.key))).toBe(true);
    expect(await count('true')).toBe(rowsBefore);
  });

  it('leaves out every row of an erased user and keeps every other row', async () => {
    const others = await sqlRows(`SELECT message_id FROM tracks WHERE user_id <> 'erase-me' ORDER BY message_id`);
    expect(await count(`user_id = 'erase-me'`)).toBe(2);
    const holding = (await listLake(stack.lake!.deps.s3, stack.lake!.deps.bucket)).filter((o) => o.partition.type === 'track');

    const deletion = await stack.send('/segment', { type: 'delete', userId: 'erase-me', messageId: 'lake-del-1' });
    expect(deletion.status).toBe(200);
    await settle();
    const result = await cli(stack, ['lake', 'compact', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ rowsErased: 2, erasuresSwept: 1 });

    expect(await count(`user_id = 'erase-me'`)).toBe(0);
    expect(await sqlRows(`SELECT message_id FROM tracks WHERE user_id <> 'erase-me' ORDER BY message_id`)).toEqual(others);
    const [audit] = (await stack.scanRaw('erasures')).filter((item) => String(item.pk).startsWith('audit#'));
    const rewritten = [...((audit?.lakeRewrittenFiles as Set<string> | undefined) ?? [])];
    expect(rewritten.length).toBeGreaterThan(0);
    expect(rewritten.every((key) => holding.some((o) => o.key === key))).toBe(true);
    expect(typeof audit?.lakeSweptAt).toBe('string');
  });

  it('reports files, bytes, the lag and the pending erasure in lake status', async () => {
    const before = Date.now();
    const result = await cli(stack, ['lake', 'status', '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as {
      tables: Record<string, { files: number; bytes: number }>;
      pendingErasures: number;
      newestFileAt: string;
      newestFileAgeSeconds: number;
    };
    expect(report.tables.tracks?.files).toBeGreaterThan(0);
    expect(report.tables.tracks?.bytes).toBeGreaterThan(0);
    // Swept once, but not yet after the settle time: the scheduled job sweeps it again (lib/lake/compact.ts).
    expect(report.pendingErasures).toBe(1);
    // The lag: the newest file (compaction's, written moments ago) and its age against the clock.
    const newest = Date.parse(report.newestFileAt);
    expect(newest).toBeLessThanOrEqual(Date.now());
    expect(report.newestFileAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(Math.abs(report.newestFileAgeSeconds - (before - newest) / 1000)).toBeLessThan(5);
    expect(report.newestFileAgeSeconds).toBeLessThan(300);

    const text = await cli(stack, ['lake', 'status']);
    expect(text.stdout).toContain(`newest file ${report.newestFileAt} (`);
    expect(text.stdout).toMatch(/ s ago; while events arrive, a file comes within about a minute\)/);
  });
});

describe('lake views', () => {
  it('creates a typed view per event from the observed schemas, which sql then reads', async () => {
    const printed = await cli(stack, ['lake', 'views', '--source', stack.sourceId, '--apply'], { env: { DATA_DIR: cacheDir } });
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('CREATE OR REPLACE VIEW src_test_order_completed AS SELECT');
    expect(printed.stdout).toContain("try_cast(json_extract_scalar(properties, '$.total') AS DOUBLE) AS total");
    expect(printed.stderr).toMatch(/src_test_order_completed: left out .*properties\.products/);

    const rows = await sqlRows(
      `SELECT total, order_id, typeof(total) AS t FROM src_test_order_completed WHERE user_id = 'keep-me' LIMIT 1`,
    );
    expect(rows).toEqual([{ total: 27.5, order_id: expect.stringMatching(/^o-\d+$/), t: 'DOUBLE' }]);
  });
  it('says a source that does not exist does not exist, with exit 2, like the other commands', async () => {
    const result = await cli(stack, ['lake', 'views', '--source', 'shop-wbe'], { env: { DATA_DIR: cacheDir } });

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('segment-ingest: source "shop-wbe" does not exist in');
    expect(result.stderr).toContain('"segment-ingest sources list" shows the sources');
  });
});
