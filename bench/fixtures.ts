/**
 * Realistic Segment events for the benchmark: the shapes analytics.js and analytics-node produce
 * (context with page, user agent and library; `_metadata`; `integrations`), about 1 KB each as JSON,
 * deterministic (a seeded generator), with the mix of types a website's traffic has.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * A small seeded PRNG (mulberry32) so every run sends the same events; the burst test's archive
 * generator (tests/support/archive.ts) uses it too.
 */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The queue the bench's functions are configured with (answered in process, never reached). */
export const BENCH_QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/segment-ingest-bench-events';

const PAGES = [
  { path: '/pricing', title: 'Pricing – Acme Analytics', search: '' },
  { path: '/docs/getting-started', title: 'Getting started – Acme Docs', search: '?ref=nav' },
  { path: '/blog/2026/warehouse-sync', title: 'Warehouse sync is here – Acme Blog', search: '?utm_source=newsletter&utm_medium=email' },
  { path: '/checkout', title: 'Checkout – Acme Store', search: '' },
];
const USER_AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
];
const TRACKS = ['Order Completed', 'Product Viewed', 'Product Added', 'Signed Up', 'Checkout Started'];
/** Website traffic: mostly track and page, some identify, a few of the rest. */
const TYPE_MIX = [
  'track',
  'track',
  'track',
  'track',
  'track',
  'track',
  'page',
  'page',
  'page',
  'identify',
  'track',
  'page',
  'screen',
  'group',
  'track',
  'alias',
  'track',
  'page',
  'identify',
  'track',
] as const;

export type BenchEvent = Record<string, unknown> & { type: string; messageId: string };

function pick<T>(rand: () => number, values: readonly T[]): T {
  return values[Math.floor(rand() * values.length)] as T;
}

function hex(rand: () => number, length: number): string {
  let text = '';
  while (text.length < length)
    text += Math.floor(rand() * 0xffffffff)
      .toString(16)
      .padStart(8, '0');
  return text.slice(0, length);
}

function uuid(rand: () => number): string {
  const h = hex(rand, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** `count` events of the website mix; event `i` is the same on every run. */
export function makeEvents(count: number, seed = 1): BenchEvent[] {
  const rand = random(seed);
  const events: BenchEvent[] = [];
  const start = Date.UTC(2026, 2, 14, 9, 30, 0);
  for (let i = 0; i < count; i++) {
    const type = TYPE_MIX[i % TYPE_MIX.length] as string;
    const page = pick(rand, PAGES);
    const at = new Date(start + i * 1373 + Math.floor(rand() * 1000));
    const userId = rand() < 0.7 ? `usr_${hex(rand, 12)}` : undefined;
    const anonymousId = uuid(rand);
    const base: BenchEvent = {
      type,
      messageId: `ajs-next-${hex(rand, 32)}`,
      anonymousId,
      ...(userId === undefined ? {} : { userId }),
      channel: 'client',
      context: {
        ip: `203.0.113.${Math.floor(rand() * 250) + 1}`,
        library: { name: 'analytics.js', version: 'next-1.72.1' },
        locale: pick(rand, ['en-US', 'de-DE', 'fr-FR']),
        page: {
          path: page.path,
          referrer: 'https://www.google.com/',
          search: page.search,
          title: page.title,
          url: `https://www.acme.example${page.path}${page.search}`,
        },
        userAgent: pick(rand, USER_AGENTS),
        timezone: 'Europe/Berlin',
      },
      integrations: {},
      originalTimestamp: at.toISOString(),
      sentAt: new Date(at.getTime() + 180).toISOString(),
      timestamp: at.toISOString(),
      version: 2,
      _metadata: { bundled: ['Segment.io'], unbundled: [], bundledIds: [] },
    };
    switch (type) {
      case 'track':
        Object.assign(base, {
          event: pick(rand, TRACKS),
          properties: {
            order_id: `ord_${hex(rand, 10)}`,
            currency: 'EUR',
            revenue: Math.round(rand() * 20000) / 100,
            products: [{ product_id: `sku_${hex(rand, 6)}`, price: 19.9, quantity: 1 + Math.floor(rand() * 3) }],
          },
        });
        break;
      case 'page':
        Object.assign(base, {
          name: page.title.split(' – ')[0],
          category: 'Marketing',
          properties: {
            path: page.path,
            referrer: 'https://www.google.com/',
            title: page.title,
            url: `https://www.acme.example${page.path}`,
          },
        });
        break;
      case 'identify':
        Object.assign(base, {
          traits: {
            email: `someone.${hex(rand, 6)}@example.com`,
            plan: 'team',
            company: 'Initech',
            createdAt: '2025-11-02T10:00:00.000Z',
            logins: Math.floor(rand() * 90),
          },
        });
        break;
      case 'screen':
        Object.assign(base, { name: 'Home', properties: { variant: 'B', build: 4211 } });
        break;
      case 'group':
        Object.assign(base, {
          groupId: `grp_${hex(rand, 8)}`,
          traits: { name: 'Initech', employees: 120, industry: 'Software', plan: 'enterprise' },
        });
        break;
      case 'alias':
        Object.assign(base, { previousId: anonymousId, userId: userId ?? `usr_${hex(rand, 12)}` });
        break;
    }
    events.push(base);
  }
  return events;
}

/** An API Gateway HTTP API (payload 2.0) event as Lambda receives it. */
export function apiGatewayEvent(options: {
  path: string;
  body: string;
  headers: Record<string, string>;
  requestId: string;
}): APIGatewayProxyEventV2 {
  const now = Date.UTC(2026, 2, 14, 12, 0, 0);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: options.path,
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'Segment.io/1.0',
      host: 'abc123.execute-api.us-east-1.amazonaws.com',
      'x-forwarded-for': '54.90.0.1',
      'x-forwarded-proto': 'https',
      'content-length': String(Buffer.byteLength(options.body)),
      ...options.headers,
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: { method: 'POST', path: options.path, protocol: 'HTTP/1.1', sourceIp: '54.90.0.1', userAgent: 'Segment.io/1.0' },
      requestId: options.requestId,
      routeKey: '$default',
      stage: '$default',
      time: '14/Mar/2026:12:00:00 +0000',
      timeEpoch: now,
    },
    body: options.body,
    isBase64Encoded: false,
  };
}
