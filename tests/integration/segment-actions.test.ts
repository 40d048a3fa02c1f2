/**
 * The Destination Actions definition (integrations/segment-actions) run by Segment's own harness
 * from npm (`@segment/actions-core`: `createTestIntegration`, `testAction`, `testBatchAction`,
 * `testAuthentication`, `onDelete`), against a local stack: what Segment's runtime would send, and
 * what it would make of the answers. The harness is loaded as CommonJS (its ESM build does not
 * load in Node) and needs `liquidjs`, which it does not declare (a devDependency here).
 */
import type { SegmentEvent } from '@segment/actions-core';
import { createTestIntegration } from '@segment/actions-core';
import destination from '../../integrations/segment-actions/src';
import type { Settings } from '../../integrations/segment-actions/src/settings';
import type { EventType } from '../../lib/spec/event-types';
import { buildIntegration } from '../../scripts/build-integrations';
import { expectEachStoredOnce, startTestStack, storedFor, type TestStack } from '../support/stack';

let stack: TestStack;
let settings: Settings;

beforeAll(async () => {
  stack = await startTestStack({ env: { KEY_CACHE_SECONDS: '0' } });
  settings = { endpoint: stack.url, apiKey: stack.key };
});

afterAll(async () => {
  await stack.stop();
});

/** One event of each type for `userId`, shaped as Segment delivers them (the harness adds the common fields). */
function eventsOf(userId: string, tag: string): Record<EventType, Partial<SegmentEvent>> {
  const common = { userId, messageId: `${tag}-${userId}`, timestamp: '2026-03-01T10:00:00.000Z' };
  return {
    identify: { ...common, messageId: `${common.messageId}-i`, type: 'identify', traits: { plan: 'pro' } },
    track: { ...common, messageId: `${common.messageId}-t`, type: 'track', event: 'Order Completed', properties: { total: 27.5 } },
    page: { ...common, messageId: `${common.messageId}-p`, type: 'page', name: 'Pricing', properties: { path: '/pricing' } },
    screen: { ...common, messageId: `${common.messageId}-s`, type: 'screen', name: 'Home' },
    group: { ...common, messageId: `${common.messageId}-g`, type: 'group', groupId: 'g-1', traits: { name: 'Initech' } },
    alias: { ...common, messageId: `${common.messageId}-a`, type: 'alias', previousId: `anon-${userId}` },
  };
}

describe('testAuthentication', () => {
  it("accepts the stage's URL and a key of it", async () => {
    await expect(createTestIntegration(destination).testAuthentication(settings)).resolves.toBeUndefined();
  });

  it("refuses a wrong key with the service's reason, a URL that is not the stage's, and one that is no URL", async () => {
    const harness = createTestIntegration(destination);
    await expect(harness.testAuthentication({ ...settings, apiKey: 'not-a-key' })).rejects.toThrow(
      'Credentials are invalid:  the API key was refused: unknown API key',
    );
    await expect(harness.testAuthentication({ ...settings, endpoint: `${stack.url}/stage` })).rejects.toThrow(
      `${stack.url}/stage is not healthy: no route for GET /stage/health`,
    );
    await expect(harness.testAuthentication({ ...settings, endpoint: 'not a url' })).rejects.toThrow(
      'Endpoint must be a valid URI string but it was not.',
    );
  });

  it('refuses a key of scope events, which can never send the deletions Segment delivers', async () => {
    const { key } = await stack.admin.createKey(stack.sourceId, { scope: 'events' });
    await expect(createTestIntegration(destination).testAuthentication({ ...settings, apiKey: key })).rejects.toThrow(
      'may send events but not deletions; create a destination key',
    );
  });
});

describe('Send Events', () => {
  it('stores each of the six types sent one at a time, exactly once, with Segment’s timestamp', async () => {
    // Prepare
    const harness = createTestIntegration(destination);
    const events = eventsOf('actions-single', 'single');

    // Act: each event twice, as Segment's retries may deliver it
    for (const event of [...Object.values(events), ...Object.values(events)]) {
      const responses = await harness.testAction('send', { event, settings, useDefaultMappings: true });
      expect(responses.map((r) => [new URL(r.url).pathname, r.status])).toEqual([['/segment', 200]]);
    }

    // Assess
    const stored = await expectEachStoredOnce(stack, 'actions-single');
    expect(stored.track[0]).toMatchObject({ event: 'Order Completed', properties: { total: 27.5 }, timestamp: '2026-03-01T10:00:00.000Z' });
    expect(stored.alias[0]).toMatchObject({ previousId: 'anon-actions-single' });
    expect(stored.group[0]).toMatchObject({ groupId: 'g-1', traits: { name: 'Initech' } });
  });

  it('sends a batch in one request and maps the answer per event: the invalid one named, the rest stored once', async () => {
    // Prepare: the six types, and a group without its groupId between them
    const harness = createTestIntegration(destination);
    const valid = Object.values(eventsOf('actions-batch', 'batch'));
    const invalid: Partial<SegmentEvent> = { type: 'group', userId: 'actions-batch', messageId: 'batch-invalid', groupId: undefined };
    const events = [...valid.slice(0, 3), invalid, ...valid.slice(3)] as SegmentEvent[];

    // Act
    const first = await harness.testBatchAction('send', { events, settings, useDefaultMappings: true });
    const results = harness.results[0]?.multistatus ?? [];
    const again = await harness.testBatchAction('send', { events, settings, useDefaultMappings: true });

    // Assess: the source id is asked once, then each batch is one request
    expect(first.map((r) => `${r.options.method} ${new URL(r.url).pathname}`)).toEqual(['GET /v1/auth', `POST /webhook/${stack.sourceId}`]);
    expect(again.map((r) => new URL(r.url).pathname)).toEqual([`/webhook/${stack.sourceId}`]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 400, 200, 200, 200]);
    expect(results[3]).toMatchObject({ errortype: 'PAYLOAD_VALIDATION_FAILED', errormessage: expect.stringMatching(/groupId/) });
    await expectEachStoredOnce(stack, 'actions-batch');
    const quarantined = (await stack.scanRaw('rejected')).filter((r) => r.messageId === 'batch-invalid');
    expect(quarantined.length).toBeGreaterThan(0);
  });

  it('refuses a batch with a revoked key as a whole, with the reason, before sending it', async () => {
    // Prepare
    const { key } = await stack.admin.createKey(stack.sourceId);
    await stack.admin.revokeKey(key);
    const harness = createTestIntegration(destination);
    const events = Object.values(eventsOf('actions-revoked', 'revoked')) as SegmentEvent[];

    // Act
    const sent = harness.testBatchAction('send', { events, settings: { ...settings, apiKey: key }, useDefaultMappings: true });

    // Assess
    await expect(sent).rejects.toThrow(/^the API key was refused: API key .+ was revoked$/);
    await stack.drain();
    expect(Object.values(await storedFor(stack, 'actions-revoked')).flat()).toEqual([]);
  });

  it('gives every event of a refused batch the status Segment retries by: 429 over the rate limit', async () => {
    // Prepare: a source that may send one event a second (two at once)
    await stack.admin.createSource('actions-limited');
    const { key } = await stack.admin.createKey('actions-limited');
    await stack.admin.setRateLimit('actions-limited', 1);
    const limited = { ...settings, apiKey: key };
    const harness = createTestIntegration(destination);
    const events = Object.values(eventsOf('actions-limited', 'limited')) as SegmentEvent[];

    // Act: the first batch empties the bucket, the second finds it empty
    await harness.testBatchAction('send', { events, settings: limited, useDefaultMappings: true });
    await harness.testBatchAction('send', { events, settings: limited, useDefaultMappings: true });
    const results = harness.results[0]?.multistatus ?? [];

    // Assess
    expect(results.map((r) => r.status)).toEqual(events.map(() => 429));
    expect(results[0]).toMatchObject({ errormessage: expect.stringMatching(/over its rate limit/) });
  });
});

describe('deletion requests', () => {
  it("erase the user's events through onDelete", async () => {
    // Prepare
    const harness = createTestIntegration(destination);
    for (const event of Object.values(eventsOf('actions-erased', 'erased'))) {
      await harness.testAction('send', { event, settings, useDefaultMappings: true });
    }
    await expectEachStoredOnce(stack, 'actions-erased');

    // Act
    await harness.onDelete?.({ type: 'delete', userId: 'actions-erased' } as SegmentEvent, { ...settings });
    await stack.drain();

    // Assess
    for (const items of Object.values(await storedFor(stack, 'actions-erased'))) expect(items).toEqual([]);
  });
});

describe('npm run build:integrations', () => {
  it('writes a CommonJS build whose default export is the definition', async () => {
    const file = await buildIntegration('segment-actions');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- what Segment's runtime does with the build
    const built = require(file) as { default: typeof destination };
    expect(built.default).toMatchObject({ name: destination.name, slug: destination.slug, mode: 'cloud' });
    expect(Object.keys(built.default.actions)).toEqual(['send']);
    expect(built.default.presets?.[0]).toMatchObject({ partnerAction: 'send', type: 'automatic' });
    await expect(createTestIntegration(built.default).testAuthentication(settings)).resolves.toBeUndefined();
  });
});
