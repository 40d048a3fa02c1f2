/**
 * `schemas list|show|drift|export` on the local stack: events sent through the endpoint, learned by
 * the worker, read back by the CLI; and the exported plan stored with `plan set`.
 */
import { cli } from '../support/cli';
import { segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

const order = (total: unknown) =>
  segmentEvent('track', {
    event: 'Order Completed',
    properties: {
      total,
      items: [
        { sku: 'A-1', qty: 1 },
        { sku: 'B-2', qty: 2 },
      ],
    },
    context: { page: { url: 'https://shop.example/checkout' } },
  });

beforeAll(async () => {
  stack = await startTestStack({ env: { KEY_CACHE_SECONDS: '0' } });
  const first = await stack.send('/v1/batch', {
    batch: [order(27.5), segmentEvent('identify'), segmentEvent('page', { name: 'Pricing' }), segmentEvent('page', { name: undefined })],
  });
  expect(first.status).toBe(200);
  await stack.drain();
  // The sender's tracking changes: `total` arrives as a string.
  expect((await stack.send('/v1/track', order('27.50'))).status).toBe(200);
  await stack.drain();
});

afterAll(async () => {
  await stack.stop();
});

it('lists every event key seen, with first and last seen, a count and the number of paths', async () => {
  const text = await cli(stack, ['schemas', 'list', '--source', stack.sourceId]);
  const json = await cli(stack, ['schemas', 'list', '--source', stack.sourceId, '--json']);

  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^TYPE +EVENT +FIRST SEEN +LAST SEEN +COUNT \(≈\) +PATHS +CAPPED$/m);
  expect(text.stdout).toMatch(/^track +Order Completed +\S+Z +\S+Z +[12] +\d+ +-$/m);
  const { events } = JSON.parse(json.stdout) as { events: Array<Record<string, unknown>> };
  expect(events.map((e) => [e.type, e.event])).toEqual([
    ['track', 'Order Completed'],
    ['page', 'Pricing'],
    ['identify', 'identify'],
    ['page', 'page'],
  ]);
  expect(events[0]).toMatchObject({ paths: expect.any(Number), capped: false, cappedPaths: 0 });
});

it('shows each path of an event with the types seen and when each was first seen; array indices collapsed', async () => {
  const shown = await cli(stack, ['schemas', 'show', '--source', stack.sourceId, '--event', 'Order Completed', '--json']);
  const text = await cli(stack, ['schemas', 'show', '--source', stack.sourceId, '--event', 'Order Completed']);

  expect(shown.code).toBe(0);
  const { event, paths } = JSON.parse(shown.stdout) as { event: string; paths: Record<string, { types: string[]; firstSeen: string }> };
  expect(event).toBe('Order Completed');
  expect(paths['properties.total']?.types).toEqual(['number', 'string']);
  expect(paths['properties.items[].sku']).toMatchObject({ types: ['string'], firstSeen: expect.stringMatching(/Z$/) });
  expect(paths['context.page.url']?.types).toEqual(['string']);
  expect(Object.keys(paths).filter((p) => /\[\d/.test(p))).toEqual([]);
  expect(text.stdout).toMatch(/^properties\.total +number +\S+Z +\S+Z$/m);
  expect(text.stdout).toMatch(/^ +string +\S+Z$/m);
});

it('reports the change of type as drift, with the new event keys and paths', async () => {
  const drift = await cli(stack, ['schemas', 'drift', '--source', stack.sourceId, '--since', '7d', '--json']);
  const text = await cli(stack, ['schemas', 'drift', '--source', stack.sourceId, '--since', '7d']);

  expect(drift.code).toBe(0);
  const { changes } = JSON.parse(drift.stdout) as { changes: Array<Record<string, unknown>> };
  expect(changes).toContainEqual(
    expect.objectContaining({ event: 'Order Completed', path: 'properties.total', change: 'new-type', types: ['number', 'string'] }),
  );
  expect(changes).toContainEqual(expect.objectContaining({ event: 'Order Completed', path: null, change: 'new-event', types: [] }));
  expect(changes).toContainEqual(
    expect.objectContaining({ event: 'Pricing', path: 'properties.path', change: 'new-path', types: ['string'] }),
  );
  expect(changes.filter((c) => c.change === 'not-seen')).toEqual([]);
  expect(text.stdout).toMatch(/^new-type +track +Order Completed +properties\.total +number, string +\S+Z$/m);
});

it('reports nothing for a window after the last change', async () => {
  const drift = await cli(stack, ['schemas', 'drift', '--source', stack.sourceId, '--since', 'now']);

  expect(drift).toMatchObject({ code: 0, stdout: '', stderr: expect.stringContaining('No changes') });
});

it('exports the observed schemas as a plan that plan set stores', async () => {
  const exported = await cli(stack, ['schemas', 'export', '--source', stack.sourceId]);
  const stored = await cli(stack, ['plan', 'set', '--source', stack.sourceId, '-'], { stdin: exported.stdout });
  const response = await stack.send('/v1/batch', { batch: [order(3), segmentEvent('track', { event: 'Never Seen' })] });
  await cli(stack, ['plan', 'remove', '--source', stack.sourceId]);

  expect(exported.code).toBe(0);
  const plan = JSON.parse(exported.stdout) as {
    mode: string;
    unplanned: string;
    events: Record<string, { properties: Record<string, unknown> }>;
  };
  expect(plan).toMatchObject({ mode: 'warn', unplanned: 'warn' });
  expect(plan.events['Order Completed']?.properties.properties).toEqual({
    type: 'object',
    properties: {
      total: { type: ['number', 'string'] },
      items: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' }, qty: { type: 'integer' } } } },
    },
  });
  expect(plan.events['Order Completed']?.properties.context).toBeUndefined();
  expect(stored.code).toBe(0);
  expect(response.body).toMatchObject({
    accepted: 2,
    warnings: ['event 1: event "Never Seen" is not in the tracking plan (unplanned events: warn)'],
  });
});

it('fails with exit 1 for an event never seen, and exit 2 for a bad --since', async () => {
  const unknown = await cli(stack, ['schemas', 'show', '--source', stack.sourceId, '--event', 'Nope']);
  const badSince = await cli(stack, ['schemas', 'drift', '--source', stack.sourceId, '--since', 'last tuesday']);
  const noSource = await cli(stack, ['schemas', 'list']);

  expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining('no event "Nope" seen in source') });
  expect(badSince).toMatchObject({ code: 2, stderr: expect.stringContaining('--since must be a time') });
  expect(noSource).toMatchObject({ code: 2, stderr: 'segment-ingest: --source is required\n' });
});
