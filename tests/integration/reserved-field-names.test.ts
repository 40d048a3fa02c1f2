/**
 * Events that carry field names our item layout uses or used (issue 20): `sourceId`, `receivedAt`,
 * `type`, `messageId`, `pk`, `sk`, `_r` and a `~`-prefixed name. Stored by the real pipeline on the
 * emulators, each is read back whole through every reader of event items: `segment-ingest events`,
 * the export-to-NDJSON script and the quarantine of an item DynamoDB refuses. The layout is told
 * by `_r` and `_json`, which only the service writes, never by names an event may carry.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
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
