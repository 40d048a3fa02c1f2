/**
 * analytics.js 2.0 (`@segment/analytics-next`, from node_modules) in headless Chromium, on a page
 * of another origin than the endpoint, configured the way docs/connect.md ("From the browser") says:
 * `integrations['Segment.io'] = { apiKey, apiHost: '<api>/v1', protocol }` in its `cdnSettings`.
 * Every request it makes is preflighted (it sends `Authorization`), so this is the test of the
 * CORS answers too. Skipped, with a message, only when no Chromium is installed outside CI; in CI
 * (.ci/run installs Debian's chromium) a missing browser fails it.
 */
import type { BrowserContext, HTTPRequest, HTTPResponse, Page } from 'puppeteer-core';
import { bundleAnalyticsNext, chromiumForTests, launchChromium, startPageServer, type Chromium, type PageServer } from '../support/browser';
import { expectEachStoredOnce, startTestStack, storedFor, waitFor, type TestStack } from '../support/stack';

const executable = chromiumForTests('analytics.js in Chromium');

/** What the page runs: load analytics.js with the given settings, then make the six calls. */
const SCENARIO = `
window.__errors = [];
window.sendAll = async function (config) {
  const segmentio = { apiKey: config.writeKey, apiHost: config.apiHost, protocol: 'http' };
  if (config.deliveryStrategy) segmentio.deliveryStrategy = config.deliveryStrategy;
  const [analytics] = await window.AnalyticsBrowser.load(
    // metrics.sampleRate 0: analytics.js would otherwise report its own counters to Segment's API.
    { writeKey: config.writeKey, cdnSettings: { integrations: { 'Segment.io': segmentio }, metrics: { sampleRate: 0 } } },
  );
  analytics.on('error', (error) => window.__errors.push(error.code));
  const userId = config.userId;
  await analytics.identify(userId, { email: userId + '@example.com', plan: 'pro' });
  await Promise.all([
    analytics.track('Order Completed', { orderId: 'b-1', total: 27.5 }),
    analytics.page('Docs', 'Pricing', { path: '/pricing' }),
    analytics.screen('Home', { variant: 'B' }),
    analytics.group('g-browser', { name: 'Initech' }),
    analytics.alias(userId, 'anon-' + userId),
  ]);
};
window.rawFetch = async function (url, init) {
  const response = await fetch(url, init);
  return { status: response.status, retryAfter: response.headers.get('Retry-After'), body: await response.text() };
};
`;

const PAGE_HTML =
  '<!doctype html><html><head><script src="/analytics-next.js"></script><script src="/scenario.js"></script></head><body>shop</body></html>';

let stack: TestStack;
let chromium: Chromium;
let site: PageServer;

/** The requests a page made, and the answers it got, as DevTools saw them. */
interface Traffic {
  requests: HTTPRequest[];
  answers: { url: string; method: string; status: number; headers: Record<string, string>; body: string }[];
}

async function openPage(): Promise<{ context: BrowserContext; page: Page; traffic: Traffic }> {
  // A context of its own: no localStorage (analytics.js persists its retry queue there) or cookies shared between tests.
  const context = await chromium.browser.createBrowserContext();
  const page = await context.newPage();
  const traffic: Traffic = { requests: [], answers: [] };
  page.on('request', (request) => traffic.requests.push(request));
  page.on('response', (response: HTTPResponse) => {
    const request = response.request();
    if (!request.url().startsWith(stack.url) || request.method() !== 'POST') return;
    void response
      .text()
      .catch(() => '')
      .then((body) =>
        traffic.answers.push({ url: request.url(), method: request.method(), status: response.status(), headers: request.headers(), body }),
      );
  });
  await page.goto(`${site.origin}/`, { waitUntil: 'load' });
  return { context, page, traffic };
}

async function sendAll(page: Page, config: Record<string, unknown>): Promise<void> {
  await page.evaluate(`window.sendAll(${JSON.stringify(config)})`);
}

if (executable) {
  beforeAll(async () => {
    [stack, chromium, site] = await Promise.all([
      // No key cache, so a change to a source's allowed origins shows at once.
      startTestStack({ env: { KEY_CACHE_SECONDS: '0' } }),
      launchChromium(executable),
      bundleAnalyticsNext().then((bundle) =>
        startPageServer({
          '/': ['text/html', PAGE_HTML],
          '/analytics-next.js': ['text/javascript', bundle],
          '/scenario.js': ['text/javascript', SCENARIO],
        }),
      ),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([chromium?.close(), site?.close(), stack?.stop()]);
  });

  it('stores the six calls in standard mode, one request each to the short routes, exactly once', async () => {
    // Prepare
    const { context, page, traffic } = await openPage();
    const userId = 'browser-standard';

    // Act
    await sendAll(page, { writeKey: stack.key, apiHost: `${new URL(stack.url).host}/v1`, userId });
    const stored = await expectEachStoredOnce(stack, userId);
    await waitFor('the six answers', () => traffic.answers.length >= 6);
    await context.close();

    // Assess
    expect(site.origin).not.toBe(new URL(stack.url).origin);
    expect(traffic.answers.map((a) => new URL(a.url).pathname).sort()).toEqual(['/v1/a', '/v1/g', '/v1/i', '/v1/p', '/v1/s', '/v1/t']);
    for (const answer of traffic.answers) {
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('text/plain');
      expect(answer.headers.authorization).toBe(`Basic ${Buffer.from(`${stack.key}:`).toString('base64')}`);
    }
    expect(
      traffic.requests.map((r) => new URL(r.url()).origin).filter((o) => o !== site.origin && o !== new URL(stack.url).origin),
    ).toEqual([]);
    expect(stored.track[0]).toMatchObject({
      event: 'Order Completed',
      properties: { orderId: 'b-1', total: 27.5 },
      context: { library: { name: 'analytics.js' }, page: { url: `${site.origin}/` } },
    });
    expect(stored.page[0]).toMatchObject({ category: 'Docs', name: 'Pricing' });
    expect(stored.screen[0]).toMatchObject({ name: 'Home' });
    expect(stored.alias[0]).toMatchObject({ previousId: `anon-${userId}` });
    expect(stored.identify[0]).not.toHaveProperty('writeKey');
  });

  it("stores the six calls in batching mode through /v1/b, from an origin in the source's list, exactly once", async () => {
    // Prepare
    await stack.admin.changeAllowedOrigins(stack.sourceId, { add: [site.origin] });
    const { context, page, traffic } = await openPage();
    const userId = 'browser-batching';

    // Act
    await sendAll(page, {
      writeKey: stack.key,
      apiHost: `${new URL(stack.url).host}/v1`,
      userId,
      deliveryStrategy: { strategy: 'batching', config: { size: 10, timeout: 300 } },
    });
    await expectEachStoredOnce(stack, userId);
    await waitFor('the batch answer', () => traffic.answers.length >= 1);
    await context.close();
    await stack.admin.changeAllowedOrigins(stack.sourceId, { any: true });

    // Assess
    expect(new Set(traffic.answers.map((a) => new URL(a.url).pathname))).toEqual(new Set(['/v1/b']));
    expect(traffic.answers.every((a) => a.status === 200)).toBe(true);
    expect(traffic.answers.reduce((sum, a) => sum + Number((JSON.parse(a.body) as { accepted?: number }).accepted), 0)).toBe(6);
  });

  it('delivers a batch on page unload with keepalive, preflighted like every other request', async () => {
    // Prepare: a batch that would wait a minute, so only the unload sends it
    const { context, page } = await openPage();
    const userId = 'browser-unload';
    await sendAll(page, {
      writeKey: stack.key,
      apiHost: `${new URL(stack.url).host}/v1`,
      userId,
      deliveryStrategy: { strategy: 'batching', config: { size: 100, timeout: 60_000 } },
    });

    // Act
    await page.goto('about:blank');

    // Assess
    await expectEachStoredOnce(stack, userId);
    await context.close();
  });

  it('lets a page send Authorization and X-Retry-Count (a retry) and read Retry-After on a 429', async () => {
    // Prepare
    await stack.admin.createSource('browser-limited');
    const { key } = await stack.admin.createKey('browser-limited');
    // A hundredth of an event per second: a full bucket lets the first request through, the next waits about 100 s.
    await stack.admin.setRateLimit('browser-limited', 0.01);
    const { context, page } = await openPage();
    const init = (n: number) => ({
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`, 'Content-Type': 'text/plain', 'X-Retry-Count': '1' },
      body: JSON.stringify({ type: 'track', event: 'Retried', userId: 'browser-retry', messageId: `browser-retry-${n}` }),
    });

    // Act
    const answers: { status: number; retryAfter: string | null; body: string }[] = [];
    for (const n of [1, 2]) {
      answers.push(
        (await page.evaluate(
          `window.rawFetch(${JSON.stringify(`${stack.url}/v1/t`)}, ${JSON.stringify(init(n))})`,
        )) as (typeof answers)[number],
      );
    }
    await context.close();

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 429]);
    expect(Number(answers[1]?.retryAfter)).toBeGreaterThan(0);
  });

  it('refuses a page whose origin the source does not allow: nothing stored, a 403 naming the origin, and analytics.js drops the events', async () => {
    // Prepare
    await stack.admin.createSource('browser-locked');
    const { key } = await stack.admin.createKey('browser-locked');
    await stack.admin.changeAllowedOrigins('browser-locked', { add: ['https://shop.example'] });
    const { context, page, traffic } = await openPage();
    const userId = 'browser-refused';

    // Act
    await sendAll(page, { writeKey: key, apiHost: `${new URL(stack.url).host}/v1`, userId });
    await waitFor('analytics.js to drop the six events', async () => ((await page.evaluate('window.__errors.length')) as number) >= 6);
    await waitFor('the six answers', () => traffic.answers.length >= 6);
    const statuses = traffic.answers.map((a) => a.status);
    const direct = (await page.evaluate(
      `window.rawFetch(${JSON.stringify(`${stack.url}/v1/t`)}, ${JSON.stringify({
        method: 'POST',
        headers: { Authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`, 'Content-Type': 'text/plain' },
        body: JSON.stringify({ type: 'track', event: 'x', userId }),
      })})`,
    )) as { status: number; body: string };
    await stack.drain();
    const errors = (await page.evaluate('window.__errors')) as string[];
    await context.close();

    // Assess
    expect(errors).toEqual(Array.from({ length: 6 }, () => 'delivery_failure'));
    expect(statuses).toEqual(Array.from({ length: 6 }, () => 403));
    expect(direct.status).toBe(403);
    expect(JSON.parse(direct.body)).toEqual({
      message: `origin "${site.origin}" is not allowed to send to source "browser-locked"; add it to the source's allowed origins (segment-ingest sources allow-origin browser-locked ORIGIN)`,
    });
    for (const items of Object.values(await storedFor(stack, userId))) expect(items).toEqual([]);
  });
}
