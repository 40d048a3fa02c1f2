/**
 * docs/spec.md section 1: who sends us what. Every route with the body its sender uses, every event
 * type each route takes, and the field-level tolerance every route must have.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { EVENT_TYPES } from '../../lib/spec/event-types';
import { segmentEvent } from '../support/events';
import { deliver, EVENT_ROUTES, type EventRoute } from '../support/senders';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.stop();
});

/** Items of `userId` in the table of `type`. */
async function stored(type: string, userId: string): Promise<Record<string, unknown>[]> {
  return (await stack.scan(type as (typeof EVENT_TYPES)[number])).filter((item) => item.userId === userId);
}

/** A user id unique to a route, so cases of different routes never see each other's items. */
function userFor(route: EventRoute, label: string): string {
  return `${label}-${route.replace(/[^a-z0-9]+/gi, '-')}`;
}

describe('POST /segment (Direct destination)', () => {
  it.each(EVENT_TYPES)('stores a %s event', async (type) => {
    const event = segmentEvent(type, { userId: `direct-${type}` });

    const response = await deliver(stack, '/segment', [event]);
    await stack.drain();

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ success: true, accepted: 1, rejected: 0, errors: [] });
    expect((await stored(type, `direct-${type}`)).map((i) => i.messageId)).toEqual([event.messageId]);
  });

  it('acts on a delete: the answer is 200 and the erasure is recorded', async () => {
    const response = await deliver(stack, '/segment', [
      segmentEvent('delete', { userId: 'direct-delete', timestamp: new Date().toISOString() }),
    ]);
    await stack.drain();

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ success: true, accepted: 1, rejected: 0, errors: [] });
    const { Items = [] } = await stack.clients.documents.send(
      new QueryCommand({
        TableName: stack.config.tables.erasures,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `audit#${stack.sourceId}` },
      }),
    );
    expect(Items.length).toBeGreaterThan(0);
  });

  it('stores the event whatever User-Agent Segment sends', async () => {
    const event = segmentEvent('track', { userId: 'direct-agent' });

    const response = await deliver(stack, '/segment', [event], { headers: { 'user-agent': 'Segment.io/1.0' } });
    await stack.drain();

    expect(response.status).toBe(200);
    expect(await stored('track', 'direct-agent')).toHaveLength(1);
  });
});

describe('POST|PUT|PATCH /webhook/{sourceId} (Webhooks destination)', () => {
  it.each(['POST', 'PUT', 'PATCH'])('stores one event sent with %s', async (method) => {
    const event = segmentEvent('identify', { userId: `hook-${method}` });

    const response = await deliver(stack, '/webhook (one event)', [event], { method });
    await stack.drain();

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ success: true, accepted: 1, rejected: 0, errors: [] });
    expect(await stored('identify', `hook-${method}`)).toHaveLength(1);
  });

  it('stores a batched array of every type, each in its table', async () => {
    const batch = EVENT_TYPES.map((type) => segmentEvent(type, { userId: 'hook-batch' }));

    const response = await deliver(stack, '/webhook (array)', batch);
    await stack.drain();

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ success: true, accepted: 6, rejected: 0, errors: [] });
    for (const type of EVENT_TYPES) expect(await stored(type, 'hook-batch')).toHaveLength(1);
  });

  it('stores an array of 4000 events, the default MAX_WEBHOOK_EVENTS', async () => {
    const batch = Array.from({ length: 4000 }, (_, i) => ({
      type: 'track',
      event: 'Tick',
      userId: 'hook-4000',
      messageId: `tick-${i}`,
      timestamp: new Date(Date.UTC(2026, 0, 1) + i).toISOString(),
    }));

    const response = await deliver(stack, '/webhook (array)', batch);
    await stack.drain(60_000);

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ accepted: 4000, rejected: 0 });
    expect(await stored('track', 'hook-4000')).toHaveLength(4000);
  }, 90_000);
});

describe('Tracking API', () => {
  it.each(EVENT_TYPES)('POST /v1/%s stores the event', async (type) => {
    const event = segmentEvent(type, { userId: `tapi-${type}` });

    const response = await deliver(stack, '/v1/{type}', [event]);
    await stack.drain();

    expect(response.status).toBe(200);
    expect(await stored(type, `tapi-${type}`)).toHaveLength(1);
  });

  it.each(['/v1/batch', '/v1/import'] as const)('%s stores every type and merges batch-level context and integrations', async (route) => {
    const userId = userFor(route, 'tapi-batch');
    const batch = EVENT_TYPES.map((type) => segmentEvent(type, { userId, context: { ip: '198.51.100.1' }, integrations: undefined }));

    const response = await stack.send(route, { batch, context: { locale: 'fr-FR', ip: '192.0.2.1' }, integrations: { All: false } });
    await stack.drain();

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ success: true, accepted: 6, rejected: 0, errors: [] });
    for (const type of EVENT_TYPES) {
      const [item] = await stored(type, userId);
      expect(item).toMatchObject({ context: { ip: '198.51.100.1', locale: 'fr-FR' }, integrations: { All: false } });
    }
  });

  it('takes no delete: a delete in a batch is rejected with a pointer to the erasure routes', async () => {
    const response = await deliver(stack, '/v1/batch', [
      segmentEvent('track', { userId: 'tapi-nodelete' }),
      segmentEvent('delete', { userId: 'tapi-nodelete' }),
    ]);

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ accepted: 1, rejected: 1 });
    expect(response.body.errors).toEqual([
      expect.objectContaining({ index: 1, message: expect.stringContaining('the Tracking API has no delete') }),
    ]);
  });

  it('takes no delete: POST /v1/delete is not a route, and a delete body on /v1/track is a 400', async () => {
    const onPath = await stack.send('/v1/delete', segmentEvent('delete', { userId: 'tapi-nodelete' }));
    const inBody = await stack.send('/v1/track', segmentEvent('delete', { userId: 'tapi-nodelete' }));

    expect(onPath.status).toBe(404);
    expect(inBody.status).toBe(400);
    expect(inBody.body.message).toBe('invalid track: "type" is "delete" but this route takes track events');
  });
});

describe('GET /health', () => {
  it('answers 200 without credentials', async () => {
    const response = await stack.send('/health', undefined, { method: 'GET', auth: null });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok' });
  });
});

describe.each(EVENT_ROUTES)('fields every route tolerates: %s', (route) => {
  it('stores a numeric userId as its decimal string, a null context and integrations, and a numeric or string version', async () => {
    const id = 900_000 + EVENT_ROUTES.indexOf(route);
    const events = [
      segmentEvent('track', { userId: id, context: null, integrations: null, version: 2 }),
      segmentEvent('track', { userId: id, version: '1.1' }),
    ];

    const responses =
      route === '/v1/{type}' || route === '/segment' || route === '/webhook (one event)'
        ? await Promise.all(events.map((e) => deliver(stack, route, [e])))
        : [await deliver(stack, route, events)];
    await stack.drain();

    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
    const items = await stored('track', String(id));
    expect(items.map((i) => i.version).sort()).toEqual(['1.1', 2].sort());
    const first = items.find((i) => i.version === 2);
    expect(first?.context ?? null).toBeNull();
    expect(first?.integrations ?? null).toBeNull();
  });

  it('keeps unknown extra fields and drops writeKey', async () => {
    const userId = userFor(route, 'extra');
    const event = segmentEvent('identify', {
      userId,
      _metadata: { bundled: ['Segment.io'] },
      projectId: 'p-1',
      customField: { nested: true },
      writeKey: 'a-segment-write-key',
    });

    const response = await deliver(stack, route, [event]);
    await stack.drain();

    expect(response.status).toBe(200);
    const [item] = await stored('identify', userId);
    expect(item).toMatchObject({ _metadata: { bundled: ['Segment.io'] }, projectId: 'p-1', customField: { nested: true } });
    expect(item).not.toHaveProperty('writeKey');
  });

  it('stores an anonymous event (userId null) under "anon:" + anonymousId', async () => {
    const anonymousId = userFor(route, 'anon');
    const event = segmentEvent('page', { userId: null, anonymousId });

    const response = await deliver(stack, route, [event]);
    await stack.drain();

    expect(response.status).toBe(200);
    const items = (await stack.scan('page')).filter((i) => i.anonymousId === anonymousId);
    expect(items.map((i) => i.pk)).toEqual([`${stack.sourceId}#anon:${anonymousId}`]);
  });
});
