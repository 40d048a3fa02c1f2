/**
 * The core pipeline end to end on the emulators: HTTP -> ingest -> SQS -> worker -> DynamoDB.
 */
import { EVENT_TYPES } from '../../lib/spec/event-types';
import { segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.stop();
});

describe('POST /v1/{type}', () => {
  it.each(EVENT_TYPES)('stores a %s event in its table under the SPEC key', async (type) => {
    // Prepare
    const event = segmentEvent(type, { userId: `single-${type}` });

    // Act
    const response = await stack.send(`/v1/${type}`, event);
    await stack.drain();

    // Assess
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ success: true, accepted: 1, rejected: 0, errors: [] });
    const items = (await stack.scan(type)).filter((item) => item.userId === `single-${type}`);
    expect(items).toHaveLength(1);
    const [item] = items;
    expect(item).toMatchObject({
      pk: `${stack.sourceId}#single-${type}`,
      sk: `${String(event.timestamp)}#${String(event.messageId)}`,
      type,
      messageId: event.messageId,
      sourceId: stack.sourceId,
      context: event.context,
    });
    expect(typeof item?.receivedAt).toBe('string');
    expect(item?.requestId).toBeUndefined();
    for (const field of ['properties', 'traits', 'event', 'name', 'groupId', 'previousId']) {
      if (event[field] !== undefined) expect(item?.[field]).toEqual(event[field]);
    }
  });

  it('takes the type from the path when the body has none', async () => {
    const { type: _type, ...event } = segmentEvent('track', { userId: 'typeless' });

    const response = await stack.send('/v1/track', event);
    await stack.drain();

    expect(response.status).toBe(200);
    expect((await stack.scan('track')).filter((i) => i.userId === 'typeless')).toHaveLength(1);
  });

  it('keys anonymous events by "anon:" + anonymousId', async () => {
    const event = segmentEvent('page', { userId: undefined, anonymousId: 'anon-xyz' });

    await stack.send('/v1/page', event);
    await stack.drain();

    const items = (await stack.scan('page')).filter((i) => i.anonymousId === 'anon-xyz');
    expect(items.map((i) => i.pk)).toEqual([`${stack.sourceId}#anon:anon-xyz`]);
  });

  it('stores numeric userIds as strings and normalises the timestamp to ISO-8601 UTC ms', async () => {
    const event = segmentEvent('identify', { userId: 4242, timestamp: 1764590400 });

    await stack.send('/v1/identify', event);
    await stack.drain();

    const items = (await stack.scan('identify')).filter((i) => i.userId === '4242');
    expect(items).toHaveLength(1);
    expect(items[0]?.timestamp).toBe('2025-12-01T12:00:00.000Z');
    expect(items[0]?.sk).toBe(`2025-12-01T12:00:00.000Z#${String(event.messageId)}`);
  });
});

describe('POST /v1/batch', () => {
  it('stores a batch of all six types, each in its own table', async () => {
    const batch = EVENT_TYPES.map((type) => segmentEvent(type, { userId: 'batch-user' }));

    const response = await stack.send('/v1/batch', { batch });
    await stack.drain();

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ success: true, accepted: 6, rejected: 0 });
    for (const type of EVENT_TYPES) {
      const items = (await stack.scan(type)).filter((i) => i.userId === 'batch-user');
      expect(items.map((i) => i.messageId)).toEqual([batch.find((e) => e.type === type)?.messageId]);
    }
  });

  it('merges batch-level context and integrations into each item, the item keys winning', async () => {
    const batch = [segmentEvent('track', { userId: 'ctx-user', context: { ip: '198.51.100.1' }, integrations: undefined })];

    await stack.send('/v1/batch', { batch, context: { ip: '192.0.2.1', locale: 'fr-FR' }, integrations: { All: false } });
    await stack.drain();

    const [item] = (await stack.scan('track')).filter((i) => i.userId === 'ctx-user');
    expect(item?.context).toEqual({ ip: '198.51.100.1', locale: 'fr-FR' });
    expect(item?.integrations).toEqual({ All: false });
  });

  it('stores the valid items of a batch and quarantines the invalid ones with their reasons', async () => {
    const good = [segmentEvent('track', { userId: 'mixed-1' }), segmentEvent('identify', { userId: 'mixed-2' })];
    const noEvent = segmentEvent('track', { userId: 'mixed-3', event: undefined });
    const noIdentity = segmentEvent('page', { userId: undefined });
    const batch = [good[0], noEvent, good[1], noIdentity, 'not an object'];

    const response = await stack.send('/v1/batch', { batch });
    await stack.drain();

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ success: true, accepted: 2, rejected: 3 });
    expect(response.body.errors).toEqual([
      { index: 1, messageId: noEvent.messageId, message: 'missing required field "event"' },
      { index: 3, messageId: noIdentity.messageId, message: 'either "userId" or "anonymousId" is required' },
      { index: 4, message: 'each event must be a JSON object, got a string' },
    ]);
    expect((await stack.scan('track')).filter((i) => i.userId === 'mixed-1')).toHaveLength(1);
    expect((await stack.scan('identify')).filter((i) => i.userId === 'mixed-2')).toHaveLength(1);
    const rejected = (await stack.scan('rejected')).filter((i) => i.route === '/v1/batch' && [1, 3, 4].includes(Number(i.index)));
    expect(rejected).toHaveLength(3);
    const byIndex = Object.fromEntries(rejected.map((r) => [String(r.index), r]));
    expect(byIndex['1']).toMatchObject({
      pk: stack.sourceId,
      reasons: ['missing required field "event"'],
      raw: JSON.stringify(noEvent),
      messageId: noEvent.messageId,
    });
    expect(byIndex['4']).toMatchObject({ raw: '"not an object"' });
    expect(typeof byIndex['3']?.expiresAt).toBe('number');
  });

  it('answers 400 listing every reason when every event of the batch is invalid', async () => {
    const response = await stack.send('/v1/batch', {
      batch: [
        { type: 'track', userId: 'x' },
        { type: 'bogus', userId: 'y' },
      ],
    });

    expect(response.status).toBe(400);
    expect(response.body.message).toBe('every event in the batch is invalid (2 of 2); see errors');
    expect(response.body.errors).toEqual([
      { index: 0, message: 'missing required field "event"' },
      { index: 1, message: '"type" must be one of identify, track, page, screen, group, alias, got "bogus"' },
    ]);
  });
});

describe('GET /health', () => {
  it('answers 200 without credentials', async () => {
    const response = await stack.send('/health', undefined, { method: 'GET', auth: null });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok' });
  });
});
