/**
 * Stored events back out of a DynamoDB export, for a replay into another stage: an item in wire
 * form (as the worker writes it, and as DynamoDB's export holds it) becomes the event it was made from.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { EventRecord } from '../../../lib/message/format';
import { marshallItem } from '../../../lib/tables/dynamo-wire';
import { eventItem } from '../../../lib/tables/events';
import { exportLineToEvent } from '../../../scripts/dynamodb-export-to-ndjson';

const record = (sourceId: string, event: Record<string, unknown>): EventRecord => ({
  kind: 'event',
  sourceId,
  receivedAt: '2026-11-01T00:00:00.000Z',
  requestId: 'req',
  event: { type: 'track', messageId: 'm1', timestamp: '2026-10-31T23:59:00.000Z', ...event } as EventRecord['event'],
});

const exportLine = (item: Record<string, unknown>) => JSON.stringify({ Item: marshallItem(item) });

describe('exportLineToEvent', () => {
  it('gives back the stored event: its own fields, renamed ones restored, the service attributes dropped', () => {
    // Prepare
    const event = {
      userId: 'u1',
      event: 'Order Completed',
      properties: { total: 27.5, items: [{ sku: 'a', qty: 2 }], gift: false, note: null },
      sourceId: 'their-own-field',
      _x: 3,
    };

    // Act
    const back = exportLineToEvent(exportLine(eventItem(record('shop', event), 30 * 86_400)), { type: 'track' });

    // Assess
    expect(back).toEqual(record('shop', event).event);
  });

  it('parses an event stored as JSON text, and skips other sources and blank lines', () => {
    // Prepare
    const deep = { userId: 'u2', properties: { n: 2 ** 60 } };
    const stored = eventItem(record('shop', deep));

    // Act / Assess
    expect(typeof stored._json).toBe('string');
    expect(exportLineToEvent(exportLine(stored), { type: 'track', sourceId: 'shop' })).toEqual(record('shop', deep).event);
    expect(exportLineToEvent(exportLine(stored), { type: 'track', sourceId: 'other' })).toBeUndefined();
    expect(exportLineToEvent('  ', { type: 'track' })).toBeUndefined();
  });

  it('keeps an event field named __proto__ as data, and refuses an attribute of no DynamoDB type by name', () => {
    // Prepare: the export's own text, as DynamoDB writes it (a JSON key "__proto__" is data to JSON.parse).
    const event = JSON.parse('{"userId":"u4","properties":{"__proto__":{"admin":true},"constructor":"c"}}') as Record<string, unknown>;
    const line = exportLine(eventItem(record('shop', event)));
    const odd = JSON.stringify({ Item: { ...marshallItem(eventItem(record('shop', { userId: 'u5' }))), extra: { V: 'x' } } });

    // Act
    const back = exportLineToEvent(line, { type: 'track' });

    // Assess
    expect(Object.getOwnPropertyDescriptor(back?.properties, '__proto__')?.value).toEqual({ admin: true });
    expect(back).toEqual(record('shop', event).event);
    expect(() => exportLineToEvent(odd, { type: 'track' })).toThrow(new TypeError('an attribute of no DynamoDB type: {V}'));
  });

  it('keeps only the items received since a time', () => {
    const line = exportLine(eventItem(record('shop', { userId: 'u3' })));
    expect(exportLineToEvent(line, { type: 'track', receivedSince: '2026-11-01T00:00:00.000Z' })).toMatchObject({ userId: 'u3' });
    expect(exportLineToEvent(line, { type: 'track', receivedSince: '2026-11-01T00:00:00.001Z' })).toBeUndefined();
  });

  it('writes one event per line of the gzip export files, for one source, as the script', async () => {
    // Prepare
    const dir = mkdtempSync(path.join(tmpdir(), 'export-'));
    const file = path.join(dir, 'part.json.gz');
    const lines = [
      exportLine(eventItem(record('shop', { userId: 'a', messageId: 'x1' }))),
      exportLine(eventItem(record('blog', { userId: 'b', messageId: 'x2' }))),
      exportLine(eventItem(record('shop', { userId: 'c', messageId: 'x3' }))),
    ];
    writeFileSync(file, gzipSync(`${lines.join('\n')}\n`));
    try {
      // Act
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(__dirname, '../../../scripts/dynamodb-export-to-ndjson.ts'),
          '--type',
          'track',
          '--source',
          'shop',
          file,
        ],
        { cwd: path.join(__dirname, '../../..') },
      );

      // Assess
      expect(
        stdout
          .trim()
          .split('\n')
          .map((line) => (JSON.parse(line) as { messageId: string }).messageId),
      ).toEqual(['x1', 'x3']);
      expect(stderr).toContain('2 event(s) of source "shop" written');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
