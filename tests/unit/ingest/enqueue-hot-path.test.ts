/**
 * Packing records into SQS messages and getting them into the queue within the time budget.
 */
import type { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createEnqueuer, groupIntoBatches, packMessages, packSized } from '../../../lib/ingest/enqueue';
import { ENVELOPE_BYTES, serializeEventRecord, type SerializedRecord } from '../../../lib/message/format';
import { noWaitClock, steppedClock } from '../../support/clock';

const meta = { sourceId: 's', receivedAt: '2026-03-14T12:00:00.000Z', requestId: 'r' };
const record = (bytes: number): SerializedRecord =>
  serializeEventRecord(meta, JSON.stringify({ type: 'track', pad: 'x'.repeat(Math.max(0, bytes - 150)) }));

type Send = (command: SendMessageBatchCommand, options?: unknown) => Promise<unknown>;
function fakeSqs(send: Send) {
  const calls: Array<{ entries: Array<{ Id?: string; MessageBody?: string }>; options: unknown }> = [];
  const sqs = {
    send: (command: SendMessageBatchCommand, options?: unknown) => {
      calls.push({ entries: command.input.Entries ?? [], options });
      return send(command, options);
    },
  } as unknown as SQSClient;
  return { sqs, calls };
}

const allSucceed: Send = async (command) => ({ Successful: (command.input.Entries ?? []).map((e) => ({ Id: e.Id })), Failed: [] });

describe('packMessages', () => {
  it('packs records in order into messages no larger than the cap', () => {
    const records = Array.from({ length: 10 }, () => record(1000));
    const cap = ENVELOPE_BYTES + 3 * (records[0]?.bytes ?? 0) + 2;

    const messages = packMessages(records, cap);

    expect(messages.map((m) => (JSON.parse(m) as { records: unknown[] }).records.length)).toEqual([3, 3, 3, 1]);
    for (const message of messages) expect(Buffer.byteLength(message)).toBeLessThanOrEqual(cap);
    expect(messages.flatMap((m) => (JSON.parse(m) as { records: unknown[] }).records)).toEqual(records.map((r) => JSON.parse(r.json)));
  });

  it('gives a record larger than the cap a message of its own', () => {
    expect(packMessages([record(500), record(5000), record(500)], 2000)).toHaveLength(3);
  });
});

describe('groupIntoBatches', () => {
  it('keeps at most 10 entries and 1 MiB of bodies per request', () => {
    const small = Array.from({ length: 23 }, (_, i) => ({ Id: String(i), MessageBody: 'x' }));
    const big = Array.from({ length: 5 }, (_, i) => ({ Id: String(i), MessageBody: 'é'.repeat(150 * 1024) }));

    expect(groupIntoBatches(small).map((b) => b.length)).toEqual([10, 10, 3]);
    expect(groupIntoBatches(big).map((b) => b.length)).toEqual([3, 2]);
  });
});

describe('createEnqueuer', () => {
  const deps = { queueUrl: 'https://sqs.example/q', messageBytes: 256 * 1024, budgetMs: 1000, clock: noWaitClock };

  it('sends every message and reports the counts', async () => {
    const { sqs, calls } = fakeSqs(allSucceed);

    const result = await createEnqueuer({ ...deps, sqs })([record(1000), record(1000)]);

    expect(result).toEqual({ messages: 1, requests: 1, retries: 0 });
    expect(calls).toHaveLength(1);
  });

  it('sends without per-call options, so the client can reuse its middleware', async () => {
    const { sqs, calls } = fakeSqs(allSucceed);

    await createEnqueuer({ ...deps, sqs })([record(100)]);

    expect(calls[0]?.options).toBeUndefined();
  });

  it('retries only the entries SQS failed', async () => {
    let first = true;
    const { sqs, calls } = fakeSqs(async (command) => {
      const entries = command.input.Entries ?? [];
      if (first) {
        first = false;
        return {
          Successful: entries.slice(1).map((e) => ({ Id: e.Id })),
          Failed: [{ Id: entries[0]?.Id, Code: 'InternalError', SenderFault: false }],
        };
      }
      return allSucceed(command);
    });

    const result = await createEnqueuer({ ...deps, sqs, messageBytes: 64 * 1024 })(Array.from({ length: 3 }, () => record(60 * 1024)));

    expect(result).toEqual({ messages: 3, requests: 2, retries: 1 });
    expect(calls[1]?.entries.map((e) => e.Id)).toEqual(['0']);
  });

  it('answers 503 once the budget is spent, even when a send never returns', async () => {
    const { sqs } = fakeSqs(() => new Promise(() => {}));
    const started = Date.now();

    await expect(createEnqueuer({ ...deps, sqs, budgetMs: 150, clock: undefined })([record(100)])).rejects.toMatchObject({
      status: 503,
      headers: { 'Retry-After': '10' },
      message: 'the queue did not accept 1 of 1 messages in time; retry later',
    });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('answers 503 when every attempt fails', async () => {
    const { sqs } = fakeSqs(async () => {
      throw Object.assign(new Error('boom'), { name: 'InternalError' });
    });

    await expect(createEnqueuer({ ...deps, sqs, clock: steppedClock() })([record(100)])).rejects.toMatchObject({ status: 503 });
  });
});

describe('packSized', () => {
  it('knows each message size exactly', () => {
    const records = [record(900), serializeEventRecord(meta, JSON.stringify({ name: 'Übersicht – 🙂'.repeat(40) })), record(3000)];

    for (const message of packSized(records, 4000)) expect(message.bytes).toBe(Buffer.byteLength(message.body));
  });
});
