/**
 * Segment archives as the replay tests need them: newline-delimited JSON of the six event types,
 * shaped like what Segment writes to S3 (ids, timestamps, context, writeKey and other extras),
 * deterministic for a seed, with the number of events of each type known.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { EVENT_TYPES, type EventType } from '../../lib/spec/event-types';
// Deterministic (mulberry32), so a failing run can be reproduced.
import { random } from '../../bench/fixtures';

/** Share of each type in a generated archive, roughly what a web property sends. */
const WEIGHTS: Record<EventType, number> = { track: 45, page: 25, identify: 12, screen: 8, group: 6, alias: 4 };

export function archiveEvent(i: number, next: () => number, prefix: string): Record<string, unknown> {
  let pick = next() * 100;
  let type: EventType = 'track';
  for (const t of EVENT_TYPES) {
    pick -= WEIGHTS[t];
    if (pick < 0) {
      type = t;
      break;
    }
  }
  const user = Math.floor(next() * 5000);
  const anonymous = next() < 0.15 && type !== 'alias';
  const at = Date.UTC(2026, 9, 1) + Math.floor(next() * 30 * 86_400_000);
  const event: Record<string, unknown> = {
    type,
    messageId: `${prefix}-${i}`,
    ...(anonymous ? { anonymousId: `anon-${user}` } : { userId: `user-${user}`, anonymousId: `anon-${user}` }),
    timestamp: new Date(at).toISOString(),
    originalTimestamp: new Date(at - 150).toISOString(),
    sentAt: new Date(at + 40).toISOString(),
    receivedAt: new Date(at + 90).toISOString(),
    context: {
      library: { name: 'analytics.js', version: '5.2.1' },
      ip: `203.0.113.${user % 250}`,
      userAgent: 'Mozilla/5.0',
      page: { path: '/pricing' },
    },
    integrations: {},
    channel: 'client',
    version: 2,
    projectId: 'proj-123',
    writeKey: 'wk-abc',
  };
  if (type === 'track')
    Object.assign(event, {
      event: ['Order Completed', 'Product Viewed', 'Signed Up'][i % 3],
      properties: { orderId: `o-${i}`, total: Math.round(next() * 10000) / 100, currency: 'EUR' },
    });
  if (type === 'page')
    Object.assign(event, { name: 'Pricing', category: 'Docs', properties: { path: '/pricing', referrer: 'https://example.com/' } });
  if (type === 'screen') Object.assign(event, { name: 'Home', properties: { variant: i % 2 === 0 ? 'A' : 'B' } });
  if (type === 'identify')
    Object.assign(event, { traits: { email: `user${user}@example.com`, plan: ['free', 'pro'][user % 2], logins: user % 40 } });
  if (type === 'group') Object.assign(event, { groupId: `g-${user % 300}`, traits: { name: 'Initech', employees: 120 } });
  if (type === 'alias') Object.assign(event, { previousId: `anon-${user}`, userId: `user-${user}` });
  return event;
}

export interface Archive {
  path: string;
  events: number;
  byType: Record<EventType, number>;
}

/** Writes `count` events to `path` (gzip when it ends in .gz) and returns how many of each type. */
export async function writeArchive(path: string, count: number, options: { seed?: number; prefix?: string } = {}): Promise<Archive> {
  const next = random(options.seed ?? 42);
  const byType = Object.fromEntries(EVENT_TYPES.map((t) => [t, 0])) as Record<EventType, number>;
  const file = createWriteStream(path);
  const gzip = path.endsWith('.gz') ? createGzip({ level: 6 }) : undefined;
  if (gzip) gzip.pipe(file);
  const out = gzip ?? file;
  let buffer = '';
  for (let i = 0; i < count; i++) {
    const event = archiveEvent(i, next, options.prefix ?? 'burst');
    byType[event.type as EventType]++;
    buffer += `${JSON.stringify(event)}\n`;
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  }
  out.end(buffer);
  await once(file, 'close');
  return { path, events: count, byType };
}
