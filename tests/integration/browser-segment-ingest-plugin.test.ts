/**
 * The analytics.js destination plugin (integrations/analytics-plugin, its built dist/index.js) in
 * headless Chromium with the real analytics.js 2.0: a page of another origin keeps sending to
 * Segment (here a stand-in server that records what it gets) and sends the same events to a local
 * stage. The stage's refusals are real: its rate limit answers 429 with Retry-After, and its own
 * SQS emulator, stopped, makes it answer 503. One browser for the file, a fresh context (no shared
 * localStorage or cookies) per test. Skipped like browser-analytics-next.test.ts when no Chromium
 * is installed outside CI.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, HTTPResponse, Page } from 'puppeteer-core';
import { EVENT_TYPES } from '../../lib/spec/event-types';
import { startSqsEmulator, type SqsEmulator } from '../../local/emulators';
import { buildIntegration } from '../../scripts/build-integrations';
import { bundleAnalyticsNext, chromiumForTests, launchChromium, startPageServer, type Chromium, type PageServer } from '../support/browser';
import { expectEachStoredOnce, startTestStack, storedFor, waitFor, type TestStack } from '../support/stack';

const executable = chromiumForTests('the Segment Ingest plugin in Chromium');
const SEGMENT_WRITE_KEY = 'segment-write-key';

/** The page: analytics.js sending to Segment (the stand-in), with the plugin sending to the stage. */
const SCENARIO = `
window.__errors = [];
window.start = async function (config) {
  const [analytics] = await window.AnalyticsBrowser.load({
    writeKey: config.writeKey,
    // metrics.sampleRate 0: analytics.js would otherwise report its own counters to Segment's API.
    cdnSettings: {
      integrations: { 'Segment.io': { apiKey: config.writeKey, apiHost: config.segmentHost, protocol: 'http' } },
      metrics: { sampleRate: 0 },
    },
    plugins: [window.segmentIngest(config.plugin)],
  });
  analytics.on('error', (error) => window.__errors.push(error.code));
  window.analytics = analytics;
};
window.sendAll = async function (userId) {
  const analytics = window.analytics;
  await analytics.identify(userId, { email: userId + '@example.com' });
  await Promise.all([
    analytics.track('Order Completed', { orderId: 'b-1', total: 27.5 }),
    analytics.page('Docs', 'Pricing', { path: '/pricing' }),
    analytics.screen('Home', { variant: 'B' }),
    analytics.group('g-browser', { name: 'Initech' }),
    analytics.alias(userId, 'anon-' + userId),
  ]);
};
`;

const PAGE_HTML =
  '<!doctype html><html><head><script src="/analytics.js"></script><script src="/scenario.js"></script></head><body>shop</body></html>';

/** What Segment's stand-in received: each event of each request, and when. */
interface Received {
  path: string;
  event: Record<string, unknown>;
  at: number;
}

interface StandIn {
  host: string;
  received: Received[];
  close(): Promise<void>;
}

/** Segment's API as a page sees it: CORS for any origin, 200 for every event. */
async function startSegmentStandIn(): Promise<StandIn> {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-allow-headers': 'authorization, content-type, x-retry-count',
      'access-control-allow-methods': 'POST, OPTIONS',
    };
    if (request.method === 'OPTIONS') {
      response.writeHead(204, cors).end();
      return;
    }
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    request.on('end', () => {
      const body = JSON.parse(text) as Record<string, unknown>;
      const events = Array.isArray(body.batch) ? (body.batch as Record<string, unknown>[]) : [body];
      for (const event of events) received.push({ path: request.url ?? '', event, at: Date.now() });
      response.writeHead(200, { ...cors, 'content-type': 'application/json' }).end('{"success":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}/v1`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let sqs: SqsEmulator;
let stack: TestStack;
let chromium: Chromium;
let site: PageServer;
let segment: StandIn;

/** The stage's answers to the page's event requests, as DevTools saw them. */
interface Answer {
  path: string;
  status: number;
  retryAfter: string | undefined;
  authorization: string | undefined;
  at: number;
}

/** A fresh context and page, analytics.js loaded with the plugin configured by `plugin`. */
async function openPage(plugin: Record<string, unknown>): Promise<{ context: BrowserContext; page: Page; answers: Answer[] }> {
  const context = await chromium.browser.createBrowserContext();
  const page = await context.newPage();
  const answers: Answer[] = [];
  page.on('response', (response: HTTPResponse) => {
    const request = response.request();
    if (!request.url().startsWith(stack.url) || request.method() !== 'POST') return;
    answers.push({
      path: new URL(request.url()).pathname,
      status: response.status(),
      retryAfter: response.headers()['retry-after'],
      authorization: request.headers().authorization,
      at: Date.now(),
    });
  });
  await visitSite(page, plugin);
  return { context, page, answers };
}

/** Opens the site's page in `page` and loads analytics.js there, with the plugin configured by `plugin`. */
async function visitSite(page: Page, plugin: Record<string, unknown>): Promise<void> {
  await page.goto(`${site.origin}/`, { waitUntil: 'load' });
  const config = { writeKey: SEGMENT_WRITE_KEY, segmentHost: segment.host, plugin: { apiHost: `${stack.url}/v1`, ...plugin } };
  await page.evaluate(`window.start(${JSON.stringify(config)})`);
}

const sentToSegment = (userId: string) => segment.received.filter((r) => r.event.userId === userId);

if (executable) {
  beforeAll(async () => {
    sqs = await startSqsEmulator(0);
    const pluginFile = await buildIntegration('analytics-plugin');
    [stack, chromium, segment, site] = await Promise.all([
      // No key cache, so a change to a source's allowed origins or rate shows at once; a short
      // enqueue budget, so a 503 comes quickly while SQS is away.
      startTestStack({ sqsEndpoint: sqs.endpoint, env: { KEY_CACHE_SECONDS: '0', ENQUEUE_BUDGET_MS: '600' } }),
      launchChromium(executable),
      startSegmentStandIn(),
      bundleAnalyticsNext(`import { segmentIngest } from ${JSON.stringify(pluginFile)}; window.segmentIngest = segmentIngest;`).then(
        (bundle) =>
          startPageServer({
            '/': ['text/html', PAGE_HTML],
            '/analytics.js': ['text/javascript', bundle],
            '/scenario.js': ['text/javascript', SCENARIO],
          }),
      ),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([chromium?.close(), site?.close(), segment?.close(), stack?.stop()]);
    await sqs?.stop();
  });

  it('sends all six types to Segment and to the stage, with the same messageId, anonymousId and userId', async () => {
    // Prepare: the source admits the page's origin by name
    await stack.admin.changeAllowedOrigins(stack.sourceId, { add: [site.origin] });
    const { context, page, answers } = await openPage({ apiKey: stack.key });
    const userId = 'plugin-both';

    // Act
    await page.evaluate(`window.sendAll(${JSON.stringify(userId)})`);
    const stored = await expectEachStoredOnce(stack, userId);
    await waitFor("Segment's six events", () => sentToSegment(userId).length >= 6);
    await context.close();

    // Assess
    expect(site.origin).not.toBe(new URL(stack.url).origin);
    const toSegment = sentToSegment(userId);
    expect(toSegment.map((r) => r.path).sort()).toEqual(['/v1/a', '/v1/g', '/v1/i', '/v1/p', '/v1/s', '/v1/t']);
    expect(toSegment.every((r) => r.event.writeKey === SEGMENT_WRITE_KEY)).toBe(true);
    const ids = (event: Record<string, unknown>) => ({
      type: event.type,
      messageId: event.messageId,
      anonymousId: event.anonymousId,
      userId: event.userId,
    });
    const atSegment = toSegment.map((r) => ids(r.event)).sort((a, b) => String(a.type).localeCompare(String(b.type)));
    const atStage = EVENT_TYPES.map((type) => ids(stored[type][0] ?? {})).sort((a, b) => String(a.type).localeCompare(String(b.type)));
    expect(atStage).toEqual(atSegment);
    expect(new Set(atSegment.map((e) => e.messageId)).size).toBe(6);
    expect(answers.map((a) => a.path).sort()).toEqual(['/v1/a', '/v1/g', '/v1/i', '/v1/p', '/v1/s', '/v1/t']);
    expect(answers.every((a) => a.status === 200 && a.authorization === `Basic ${Buffer.from(`${stack.key}:`).toString('base64')}`)).toBe(
      true,
    );
  });

  it("leaves out of the stage the events whose integrations turn 'Segment Ingest' off, and only those", async () => {
    // Prepare
    const { context, page } = await openPage({ apiKey: stack.key });
    const userId = 'plugin-opt-out';
    const track = (name: string, integrations?: Record<string, boolean>) =>
      page.evaluate(`window.analytics.track(${JSON.stringify(name)}, {}, ${JSON.stringify(integrations ? { integrations } : {})})`);

    // Act
    await page.evaluate(`window.analytics.identify(${JSON.stringify(userId)})`);
    await track('Off by name', { 'Segment Ingest': false });
    await track('Off for all', { All: false });
    await track('On by name', { All: false, 'Segment Ingest': true });
    await track('Default');
    await waitFor("Segment's five events", () => sentToSegment(userId).length >= 5);
    await waitFor('two tracks at the stage', async () => (await storedFor(stack, userId)).track.length >= 2);
    await stack.drain();
    await context.close();

    // Assess: Segment.io takes every event (analytics.js never applies All: false to it)
    expect(sentToSegment(userId).map((r) => r.event.event ?? r.event.type)).toEqual([
      'identify',
      'Off by name',
      'Off for all',
      'On by name',
      'Default',
    ]);
    expect((await storedFor(stack, userId)).track.map((e) => e.event).sort()).toEqual(['Default', 'On by name']);
  });

  it('delivers a batch still waiting when the page is hidden (left), through the flush on pagehide', async () => {
    // Prepare: a batch that would wait a minute, so only the page's hiding sends it
    const { context, page } = await openPage({
      apiKey: stack.key,
      deliveryStrategy: { strategy: 'batching', config: { size: 100, timeout: 60_000 } },
    });
    const userId = 'plugin-hidden';
    await page.evaluate(`window.sendAll(${JSON.stringify(userId)})`);
    expect(Object.values(await storedFor(stack, userId)).flat()).toEqual([]);

    // Act
    await page.goto('about:blank');

    // Assess
    await expectEachStoredOnce(stack, userId);
    await context.close();
  });

  it("waits out the stage's 429 and its Retry-After for the stage's copy only; every event arrives once", async () => {
    // Prepare: a source that takes one event a second (two at once)
    await stack.admin.createSource('plugin-limited');
    const { key } = await stack.admin.createKey('plugin-limited');
    await stack.admin.setRateLimit('plugin-limited', 1);
    const { context, page, answers } = await openPage({ apiKey: key });
    const userId = 'plugin-limited';

    // Act
    await page.evaluate(`window.sendAll(${JSON.stringify(userId)})`);
    await expectEachStoredOnce(stack, userId);
    await waitFor("Segment's six events", () => sentToSegment(userId).length >= 6);
    await waitFor('a 200 for each event', () => answers.filter((a) => a.status === 200).length >= 6);
    await context.close();

    // Assess
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.every((a) => Number(a.retryAfter) >= 1)).toBe(true);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(6);
    const lastAtSegment = Math.max(...sentToSegment(userId).map((r) => r.at));
    const lastAtStage = Math.max(...answers.filter((a) => a.status === 200).map((a) => a.at));
    expect(lastAtSegment).toBeLessThan(lastAtStage);
  });

  it("retries the stage's 503 while its queue is away, Segment's copy unaffected; every event arrives once it is back", async () => {
    // Prepare
    const { context, page, answers } = await openPage({ apiKey: stack.key });
    const userId = 'plugin-unavailable';
    await sqs.pause();

    // Act
    try {
      await page.evaluate(`window.sendAll(${JSON.stringify(userId)})`);
      await waitFor("Segment's six events", () => sentToSegment(userId).length >= 6);
      await waitFor("the stage's 503 for each event", () => answers.filter((a) => a.status === 503).length >= 6);
    } finally {
      await sqs.resume();
    }
    // A request under way as SQS comes back may reach the queue and still be answered 503 (out of
    // budget): its retry is answered 200 later, and stores nothing twice.
    const accepted = () => new Set(answers.filter((a) => a.status === 200).map((a) => a.path));
    await waitFor('a 200 for each event', () => accepted().size === 6, 40_000);
    await context.close();

    // Assess
    await expectEachStoredOnce(stack, userId);
    expect(answers.filter((a) => a.status === 503).every((a) => Number(a.retryAfter) > 0)).toBe(true);
    expect(sentToSegment(userId)).toHaveLength(6);
  }, 60_000);

  it("keeps the stage's copies a 503 held back when the page is left, and sends them from the site's next page", async () => {
    // Prepare: the stage cannot queue, so every copy is answered 503 and waits in the plugin's queue
    const { context, page, answers } = await openPage({ apiKey: stack.key });
    const userId = 'plugin-persisted';
    await sqs.pause();
    try {
      await page.evaluate(`window.sendAll(${JSON.stringify(userId)})`);
      await waitFor("the stage's 503 for each event", () => answers.filter((a) => a.status === 503).length >= 6);

      // Act: leave the site (analytics.js keeps its queue in localStorage on pagehide), then come back
      await page.goto('about:blank');
    } finally {
      await sqs.resume();
    }
    expect(Object.values(await storedFor(stack, userId)).flat()).toEqual([]);
    await visitSite(page, { apiKey: stack.key });

    // Assess
    await expectEachStoredOnce(stack, userId);
    await context.close();
    expect(sentToSegment(userId)).toHaveLength(6);
  });

  it("refuses a page the source's origin list does not name; Segment still gets every event", async () => {
    // Prepare
    await stack.admin.createSource('plugin-locked');
    const { key } = await stack.admin.createKey('plugin-locked');
    await stack.admin.changeAllowedOrigins('plugin-locked', { add: ['https://shop.example'] });
    const { context, page, answers } = await openPage({ apiKey: key });
    const userId = 'plugin-refused';

    // Act
    await page.evaluate(`window.sendAll(${JSON.stringify(userId)})`);
    await waitFor(
      'analytics.js to drop the stage’s six copies',
      async () => ((await page.evaluate('window.__errors.length')) as number) >= 6,
    );
    await waitFor("Segment's six events", () => sentToSegment(userId).length >= 6);
    await stack.drain();
    const errors = (await page.evaluate('window.__errors')) as string[];
    await context.close();

    // Assess
    expect(errors).toEqual(Array.from({ length: 6 }, () => 'delivery_failure'));
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 6 }, () => 403));
    for (const items of Object.values(await storedFor(stack, userId))) expect(items).toEqual([]);
  });
}
