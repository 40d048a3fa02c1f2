/**
 * Events that carry field names our item layout uses or used (issue 20): `sourceId`, `receivedAt`,
 * `type`, `messageId`, `pk`, `sk`, `_r` and a `~`-prefixed name, at the top level and inside
 * `properties` and `traits`. Stored by the real pipeline on the emulators, each is read back whole
 * through every reader of event items (lib/tables/events.ts): `segment-ingest events`, the
 * export-to-NDJSON script and the quarantine of an item DynamoDB refuses; and an invalid event
 * carrying them comes back whole from `segment-ingest rejected list`. The layout is told by `_r`
 * and `_json`, which only the service writes, never by names an event may carry.
 */
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { exportLineToEvent } from '../../scripts/dynamodb-export-to-ndjson';
import { unmarshallItem } from '../../lib/tables/dynamo-wire';
import { refusedItem } from '../../lib/worker/quarantine';
import { cli } from '../support/cli';
import { segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.stop();
});

const OWN_FIELDS = {
  sourceId: 'their-source',
  receivedAt: '2026-03-01T09:59:59.000Z',
  pk: 'their-pk',
  sk: 'their-sk',
  _r: 'their-r',
  '~x': 'tilde',
};

/** Every reserved-looking name, as a nested object carries it (`type` and `messageId` too: nested, they are data). */
const NESTED_FIELDS = { ...OWN_FIELDS, type: 'their-type', messageId: 'their-message', _json: 'their-json' };

/** The wire form of the item of `table` whose sort key ends with `messageId`. */
async function storedItem(table: string, messageId: string): Promise<Record<string, AttributeValue>> {
  const { Items = [] } = await stack.clients.dynamodb.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  const found = Items.find((item) => item.sk?.S?.endsWith(`#${messageId}`));
  expect(found).toBeDefined();
  return found as Record<string, AttributeValue>;
}

/** The events `segment-ingest events` prints for a user, one object a line. */
async function printedEvents(userId: string): Promise<Array<Record<string, unknown>>> {
  const result = await cli(stack, ['events', '--source', stack.sourceId, '--user', userId]);
  expect(result.code).toBe(0);
  return result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A nested object `levels` deep: DynamoDB holds 32, so an event carrying it is stored as JSON text (`_json`). */
function deep(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { bottom: true };
  for (let i = 0; i < levels; i++) value = { next: value };
  return value;
}

describe('an event carrying field names of the item layout', () => {
  const sent = segmentEvent('track', { userId: 'reserved-user', messageId: 'reserved-1', event: 'Reserved', ...OWN_FIELDS });
  let wireItem: Record<string, unknown>;

  beforeAll(async () => {
    expect((await stack.send('/v1/track', sent)).status).toBe(200);
    await stack.drain();
    const { Items = [] } = await stack.clients.dynamodb.send(
      new ScanCommand({ TableName: stack.config.tables.track, ConsistentRead: true }),
    );
    const found = Items.find((item) => item.sk?.S?.endsWith('#reserved-1'));
    expect(found).toBeDefined();
    wireItem = found as Record<string, unknown>;
  });

  it('is printed whole by segment-ingest events: its type, messageId and userId, and its own fields beside ours', async () => {
    // Act
    const result = await cli(stack, ['events', '--source', stack.sourceId, '--user', 'reserved-user']);

    // Assess
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout.trim()) as Record<string, unknown>;
    expect(printed).toMatchObject({
      type: 'track',
      messageId: 'reserved-1',
      userId: 'reserved-user',
      event: 'Reserved',
      event_sourceId: 'their-source',
      event_receivedAt: '2026-03-01T09:59:59.000Z',
      event_pk: 'their-pk',
      event_sk: 'their-sk',
      _r: 'their-r',
      '~x': 'tilde',
      sourceId: stack.sourceId,
    });
    expect(printed.receivedAt).not.toBe('2026-03-01T09:59:59.000Z');
  });

  it('is read whole from an export line by the export-to-NDJSON script', () => {
    // Prepare: an export line is the item's wire form under "Item".
    const line = JSON.stringify({ Item: wireItem });

    // Act
    const event = exportLineToEvent(line, { type: 'track', sourceId: stack.sourceId });

    // Assess
    expect(event).toMatchObject({ ...OWN_FIELDS, type: 'track', messageId: 'reserved-1', userId: 'reserved-user', event: 'Reserved' });
  });

  it('is kept whole by the quarantine when DynamoDB refuses its item', () => {
    // Prepare: the item as the worker wrote it, and where it came from.
    const item = unmarshallItem(wireItem as never, 'throw');
    const origin = {
      sourceId: stack.sourceId,
      receivedAt: '2026-03-01T10:00:00.000Z',
      requestId: 'req',
      messageId: 'reserved-1',
      type: 'track',
    };

    // Act
    const quarantined = refusedItem(
      { table: stack.config.tables.track, item, owners: ['m'], origin },
      'id',
      'refused',
      origin.receivedAt,
      0,
    );

    // Assess
    expect(JSON.parse(String(quarantined.raw))).toMatchObject({
      ...OWN_FIELDS,
      type: 'track',
      messageId: 'reserved-1',
      userId: 'reserved-user',
      event: 'Reserved',
    });
  });
});

describe('events carrying the same names inside properties and traits', () => {
  const track = segmentEvent('track', {
    userId: 'nested-user',
    messageId: 'nested-track',
    event: 'Nested',
    ...OWN_FIELDS,
    properties: { ...NESTED_FIELDS },
  });
  const identify = segmentEvent('identify', {
    userId: 'nested-user',
    messageId: 'nested-identify',
    ...OWN_FIELDS,
    traits: { ...NESTED_FIELDS },
  });

  beforeAll(async () => {
    expect((await stack.send('/v1/batch', { batch: [track, identify] })).status).toBe(200);
    await stack.drain();
  });

  it('are printed by segment-ingest events with their properties and traits whole', async () => {
    // Act
    const printed = await printedEvents('nested-user');

    // Assess
    const byId = new Map(printed.map((event) => [event.messageId, event]));
    expect(byId.get('nested-track')).toMatchObject({ type: 'track', userId: 'nested-user', event: 'Nested', _r: 'their-r', '~x': 'tilde' });
    expect(byId.get('nested-track')?.properties).toEqual(NESTED_FIELDS);
    expect(byId.get('nested-identify')).toMatchObject({ type: 'identify', userId: 'nested-user', event_sourceId: 'their-source' });
    expect(byId.get('nested-identify')?.traits).toEqual(NESTED_FIELDS);
  });

  it('are read whole from export lines by the export-to-NDJSON script', async () => {
    // Prepare
    const lines = {
      track: JSON.stringify({ Item: await storedItem(stack.config.tables.track, 'nested-track') }),
      identify: JSON.stringify({ Item: await storedItem(stack.config.tables.identify, 'nested-identify') }),
    };

    // Act
    const events = {
      track: exportLineToEvent(lines.track, { type: 'track', sourceId: stack.sourceId }),
      identify: exportLineToEvent(lines.identify, { type: 'identify', sourceId: stack.sourceId }),
    };

    // Assess: every field sent, the reserved-looking ones included, and the nested objects exactly.
    expect(events.track).toMatchObject(JSON.parse(JSON.stringify(track)) as Record<string, unknown>);
    expect(events.track?.properties).toEqual(NESTED_FIELDS);
    expect(events.identify).toMatchObject(JSON.parse(JSON.stringify(identify)) as Record<string, unknown>);
    expect(events.identify?.traits).toEqual(NESTED_FIELDS);
  });
});

describe('an event carrying the same names, stored as JSON text (_json)', () => {
  const sent = segmentEvent('track', {
    userId: 'json-user',
    messageId: 'json-1',
    event: 'Too Deep',
    ...OWN_FIELDS,
    properties: { ...NESTED_FIELDS, tree: deep(40) },
  });

  beforeAll(async () => {
    expect((await stack.send('/v1/track', sent)).status).toBe(200);
    await stack.drain();
  });

  it('is stored as _json and read back whole by segment-ingest events and the export script', async () => {
    // Prepare
    const item = await storedItem(stack.config.tables.track, 'json-1');

    // Act
    const [printed] = await printedEvents('json-user');
    const exported = exportLineToEvent(JSON.stringify({ Item: item }), { type: 'track', sourceId: stack.sourceId });

    // Assess
    expect(item._json?.S).toBeDefined();
    expect(printed).toMatchObject({
      type: 'track',
      messageId: 'json-1',
      userId: 'json-user',
      event_sourceId: 'their-source',
      _r: 'their-r',
    });
    expect(printed?.properties).toEqual({ ...NESTED_FIELDS, tree: deep(40) });
    expect(exported).toMatchObject(JSON.parse(JSON.stringify(sent)) as Record<string, unknown>);
  });
});

describe('an invalid event carrying the same names', () => {
  // No `event` name: the Spec refuses a track without one, and the quarantine keeps it as sent.
  const sent = segmentEvent('track', {
    userId: 'refused-user',
    messageId: 'refused-1',
    event: undefined,
    ...OWN_FIELDS,
    properties: { ...NESTED_FIELDS },
  });

  beforeAll(async () => {
    await stack.send('/v1/batch', { batch: [sent] });
    await stack.drain();
  });

  it('is given back whole by segment-ingest rejected list', async () => {
    // Act
    const result = await cli(stack, ['rejected', 'list', '--jsonl']);

    // Assess
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { messageId?: string; sourceId: string; event: unknown });
    const line = lines.find((entry) => entry.messageId === 'refused-1');
    expect(line?.sourceId).toBe(stack.sourceId);
    expect(line?.event).toEqual(JSON.parse(JSON.stringify(sent)));
  });
});
