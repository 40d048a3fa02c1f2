/**
 * The passes over the data that this design makes whatever code makes them, timed with Node's own
 * JSON, Buffer and crypto and without the AWS SDK, our validation, normalization, logging or
 * metrics: what a handler's ratio to the floor could approach if everything else cost nothing.
 * Timed in the same interleaved rounds as the floor and the handler (in-process.ts), so the
 * report can set issue 15's targets beside what the design itself needs.
 *
 * - ingest: JSON.parse of the request; each event serialized once (JSON.stringify) into its queue
 *   record and the v1 envelope (lib/message/format.ts, one flat string per message, packed as the
 *   function packs); each SendMessageBatch body as UTF-8 (JSON.stringify of the request: the
 *   message JSON escaped inside the request JSON); its SHA-256 (SigV4's payload hash); the MD5 of
 *   each message body (SQS's proof of what it stored).
 * - worker: JSON.parse of each queue message; each event's item in DynamoDB's wire form (our
 *   marshaller, the fastest way we measured); each BatchWriteItem body of 25 items as UTF-8
 *   (JSON.stringify); its SHA-256.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { SQSEvent } from 'aws-lambda';
import { groupIntoBatches, packSized } from '../lib/ingest/enqueue';
import { decodeMessage, serializeEventRecord, type EventRecord } from '../lib/message/format';
import { marshallItem } from '../lib/tables/dynamo-wire';
import { eventItem } from '../lib/tables/events';
import { BENCH_QUEUE_URL } from './fixtures';

const META = { sourceId: 'bench', receivedAt: '2026-03-14T12:00:00.000Z', requestId: 'bench-passes-0000' };
const BATCH_ITEMS = 25;

/** A timed round: runs its work for `roundMs` and returns CPU µs per event. */
export type PassesRound = (roundMs: number) => number;

/**
 * `cycle` (work over `eventsPerCycle` events, returning a number so nothing is optimized away)
 * repeated for a round; also times the floor (in-process.ts), so both are measured the same way.
 */
export function timedRound(eventsPerCycle: number, cycle: () => number): PassesRound {
  return (roundMs) => {
    let sink = 0;
    let events = 0;
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    do {
      sink += cycle();
      events += eventsPerCycle;
    } while (performance.now() - wall0 < roundMs);
    const cpu = process.cpuUsage(cpu0);
    if (sink < 0) console.error(sink);
    return (cpu.user + cpu.system) / events;
  };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest().length;
const md5 = (text: string) => createHash('md5').update(text).digest().length;

/** The events of a request body as each route reads them: a Webhooks array, a batch, or one event. */
function eventsOf(parsed: unknown): unknown[] {
  if (Array.isArray(parsed)) return parsed;
  const batch = (parsed as { batch?: unknown }).batch;
  return Array.isArray(batch) ? batch : [parsed];
}

/** What a pass produced, for tests that check the passes do the work the design does. */
export interface PassesOutput {
  /** Each request body sent (SendMessageBatch, BatchWriteItem), as the bytes hashed. */
  request?(bytes: Buffer): void;
  /** Each queue message body (ingest). */
  message?(body: string): void;
}

/** The ingest passes over one request body; returns a checksum-like sink so nothing is optimized away. */
export function ingestRequestPasses(body: string, capBytes: number, out?: PassesOutput): number {
  let sink = 0;
  const records = eventsOf(JSON.parse(body)).map((event) => serializeEventRecord(META, JSON.stringify(event), META.receivedAt));
  const messages = packSized(records, capBytes);
  const entries = messages.map((message, index) => ({ Id: String(index), MessageBody: message.body }));
  for (const batch of groupIntoBatches(entries, (entry) => messages[Number(entry.Id)]?.bytes ?? 0)) {
    const bytes = Buffer.from(JSON.stringify({ QueueUrl: BENCH_QUEUE_URL, Entries: batch }));
    out?.request?.(bytes);
    sink += sha256(bytes);
  }
  for (const message of messages) {
    out?.message?.(message.body);
    sink += md5(message.body);
  }
  return sink;
}

/** The ingest passes over `bodies` (requests of `eventsPerBody` events), messages packed up to `capBytes`. */
export function ingestPasses(bodies: readonly string[], eventsPerBody: number, capBytes: number): PassesRound {
  return timedRound(bodies.length * eventsPerBody, () => {
    let sink = 0;
    for (const body of bodies) sink += ingestRequestPasses(body, capBytes);
    return sink;
  });
}

/** The worker passes over one trigger batch. */
export function workerBatchPasses(sqsEvent: SQSEvent, out?: PassesOutput): number {
  let sink = 0;
  // Written 25 items at a time and dropped, as the worker does: kept for a whole batch, the
  // wire trees outlive young-generation collections.
  let items: unknown[] = [];
  const flush = () => {
    const bytes = Buffer.from(JSON.stringify({ RequestItems: { 'bench-events': items } }));
    out?.request?.(bytes);
    sink += sha256(bytes);
    items = [];
  };
  for (const record of sqsEvent.Records) {
    for (const queued of (JSON.parse(record.body) as { records: EventRecord[] }).records) {
      if (queued.kind !== 'event') continue;
      items.push({ PutRequest: { Item: marshallItem(eventItem(queued)) } });
      if (items.length === BATCH_ITEMS) flush();
    }
  }
  if (items.length > 0) flush();
  return sink;
}

/** The worker passes over the queue messages of `sqsEvents`. */
export function workerPasses(sqsEvents: readonly SQSEvent[]): PassesRound {
  const events = sqsEvents.reduce(
    (sum, e) => sum + e.Records.reduce((n, r) => n + decodeMessage(r.body).filter((x) => x.kind === 'event').length, 0),
    0,
  );
  return timedRound(events, () => {
    let sink = 0;
    for (const sqsEvent of sqsEvents) sink += workerBatchPasses(sqsEvent);
    return sink;
  });
}
