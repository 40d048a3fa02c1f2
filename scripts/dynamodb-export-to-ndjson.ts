/**
 * Turns the data files of a DynamoDB export to S3 of event tables (format DYNAMODB_JSON: gzip'd
 * lines `{"Item":{...}}` in DynamoDB's wire form) into newline-delimited Segment events, the input
 * of `segment-ingest replay`. One source at a time, since a replay sends with one source's key:
 *
 *   npx tsx scripts/dynamodb-export-to-ndjson.ts --type track --source shop-web export/AWSDynamoDB/<id>/data/*.json.gz > shop-web.jsonl
 *
 * `--received-since ISO` keeps only events the service received at or after that time (the gap
 * between an export and a switch-over, or after a restore point).
 *
 * docs/operations.md (moving a stage) has the whole procedure.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { parseArgs } from 'node:util';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshallItem } from '../lib/tables/dynamo-wire';
import { isEventType, type EventType } from '../lib/spec/event-types';
import { readEventItem } from '../lib/tables/events';

export interface ExportFilter {
  /** The type of the table the export is of: items do not name their type (the table does). */
  type: EventType;
  /** Only items of this source. */
  sourceId?: string;
  /** Only items received at or after this ISO-8601 UTC time (when the service received them, `_r`). */
  receivedSince?: string;
}

/** The event of one export line, or `undefined` for a blank line or an item the filter leaves out. */
export function exportLineToEvent(line: string, filter: ExportFilter): Record<string, unknown> | undefined {
  if (line.trim() === '') return undefined;
  const { Item } = JSON.parse(line) as { Item: Record<string, AttributeValue> };
  const item = unmarshallItem(Item, 'throw');
  const stored = readEventItem(item, filter.type);
  if (filter.sourceId !== undefined && stored.sourceId !== filter.sourceId) return undefined;
  if (filter.receivedSince !== undefined && (stored.receivedAt ?? '') < filter.receivedSince) return undefined;
  return stored.event;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { type: { type: 'string' }, source: { type: 'string' }, 'received-since': { type: 'string' } },
    allowPositionals: true,
  });
  const since = values['received-since'];
  if (positionals.length === 0 || !isEventType(values.type) || (since !== undefined && Number.isNaN(Date.parse(since)))) {
    process.stderr.write(
      'usage: dynamodb-export-to-ndjson.ts --type TYPE [--source ID] [--received-since ISO-TIME] FILE.json.gz... > events.jsonl\n' +
        '  TYPE: the event table the export is of (identify, track, page, screen, group, alias)\n',
    );
    process.exitCode = 2;
    return;
  }
  const filter: ExportFilter = {
    type: values.type,
    sourceId: values.source,
    receivedSince: since === undefined ? undefined : new Date(since).toISOString(),
  };
  let events = 0;
  for (const file of positionals) {
    const input = createReadStream(file);
    const lines = createInterface({ input: file.endsWith('.gz') ? input.pipe(createGunzip()) : input, crlfDelay: Infinity });
    for await (const line of lines) {
      const event = exportLineToEvent(line, filter);
      if (!event) continue;
      if (!process.stdout.write(`${JSON.stringify(event)}\n`)) await new Promise((resolve) => process.stdout.once('drain', resolve));
      events++;
    }
  }
  process.stderr.write(`${events} event(s)${values.source ? ` of source "${values.source}"` : ''} written\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`dynamodb-export-to-ndjson: ${(error as Error).message}\n`);
    process.exitCode = 1;
  });
}
