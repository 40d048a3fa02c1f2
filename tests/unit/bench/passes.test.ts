/**
 * The bench's "design passes" (bench/passes.ts) must do the work the design does, or the ratio the
 * report prints beside issue 15's targets means nothing: every event into a queue message as the
 * ingest function writes it, every message into a SendMessageBatch body within SQS's limits, and
 * every event of those messages into a BatchWriteItem body of at most 25 items.
 */
import type { SQSEvent } from 'aws-lambda';
import { ingestRequestPasses, workerBatchPasses } from '../../../bench/passes';
import { SHAPES, type ShapeId } from '../../../bench/shapes';
import { decodeMessage, type EventRecord } from '../../../lib/message/format';
import { marshallItem } from '../../../lib/tables/dynamo-wire';
import { eventItem } from '../../../lib/tables/events';

const CAP = 256 * 1024;

function sqsEventOf(messages: readonly string[]): SQSEvent {
  return { Records: messages.map((body, i) => ({ messageId: `m-${i}`, body })) } as unknown as SQSEvent;
}

describe.each<ShapeId>(['single', 'batch', 'webhook'])('the design passes of %s requests', (shape) => {
  const [request] = SHAPES[shape].requests(1);
  if (!request) throw new Error('no request');
  const messages: string[] = [];
  const requests: Buffer[] = [];
  ingestRequestPasses(request.body, CAP, { message: (body) => messages.push(body), request: (bytes) => requests.push(bytes) });

  it('write every event of the request, in order, into v1 queue messages within the cap', () => {
    const events = messages.flatMap((body) => decodeMessage(body).map((record) => (record as EventRecord).event));
    expect(events).toEqual(request.events);
    for (const body of messages) expect(Buffer.byteLength(body)).toBeLessThanOrEqual(CAP);
  });

  it('send exactly those messages in SendMessageBatch bodies of at most 10 entries and 1 MiB of messages', () => {
    const sent = requests.flatMap((bytes) => {
      const parsed = JSON.parse(bytes.toString('utf8')) as { QueueUrl: string; Entries: Array<{ MessageBody: string }> };
      expect(parsed.Entries.length).toBeLessThanOrEqual(10);
      // SQS's limit is on the messages' own bytes, not on the escaped request.
      expect(parsed.Entries.reduce((sum, entry) => sum + Buffer.byteLength(entry.MessageBody), 0)).toBeLessThanOrEqual(1024 * 1024);
      return parsed.Entries.map((entry) => entry.MessageBody);
    });
    expect(sent).toEqual(messages);
  });

  it("put every event of those messages, in its item's wire form, into BatchWriteItem bodies of at most 25", () => {
    const bodies: Buffer[] = [];
    workerBatchPasses(sqsEventOf(messages), { request: (bytes) => bodies.push(bytes) });
    const items = bodies.flatMap((bytes) => {
      const parsed = JSON.parse(bytes.toString('utf8')) as { RequestItems: Record<string, Array<{ PutRequest: { Item: unknown } }>> };
      const puts = Object.values(parsed.RequestItems).flat();
      expect(puts.length).toBeLessThanOrEqual(25);
      return puts.map((put) => put.PutRequest.Item);
    });
    const records = messages.flatMap((body) => decodeMessage(body) as EventRecord[]);
    expect(items).toEqual(records.map((record) => marshallItem(eventItem(record))));
  });
});
