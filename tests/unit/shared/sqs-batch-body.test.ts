/**
 * SendMessageBatch with a natively written body (lib/shared/sqs-batch-body.ts): the same JSON the
 * SDK writes, the SDK's MD5 check on the real bodies, everything else untouched. A fake HTTP layer
 * keeps what the real SQS client sends: a fast unit test; tests/integration/enqueue.test.ts and the
 * pipeline tests send through the SQS emulator.
 */
import { createHash } from 'node:crypto';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient, type SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import { installBatchBody } from '../../../lib/shared/sqs-batch-body';

const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/q';
const md5 = (text: string) => createHash('md5').update(text).digest('hex');

/** A real SQS client over a fake HTTP layer that keeps each request and answers with the bodies' MD5s (or `wrongMd5`). */
function recordingSqs(install: boolean, wrongMd5 = false) {
  const sent: Array<{ body: string; headers: Record<string, string> }> = [];
  const requestHandler = {
    async handle(request: { body: unknown; headers: Record<string, string> }) {
      const body = typeof request.body === 'string' ? request.body : Buffer.from(request.body as Uint8Array).toString('utf8');
      sent.push({ body, headers: request.headers });
      const parsed = JSON.parse(body) as { Entries?: SendMessageBatchRequestEntry[]; MessageBody?: string };
      const answer = parsed.Entries
        ? {
            Successful: parsed.Entries.map((e) => ({
              Id: e.Id,
              MessageId: `m-${e.Id}`,
              MD5OfMessageBody: wrongMd5 ? md5('x') : md5(e.MessageBody ?? ''),
            })),
            Failed: [],
          }
        : { MessageId: 'm', MD5OfMessageBody: md5(parsed.MessageBody ?? '') };
      return { response: { statusCode: 200, headers: {}, body: new TextEncoder().encode(JSON.stringify(answer)) } };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  const sqs = new SQSClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
    requestHandler: requestHandler as never,
    cacheMiddleware: true,
  });
  if (install) installBatchBody(sqs);
  return { sqs, sent };
}

const entries: SendMessageBatchRequestEntry[] = [
  { Id: '0', MessageBody: '{"v":1,"records":[{"kind":"event","event":{"name":"Übersicht – 🙂","q":"\\"quoted\\"","nl":"a\\nb"}}]}' },
  { Id: '1', MessageBody: 'line\u2028separator, tab\t, control \u0001, escape \\uffff, emoji 🙂', DelaySeconds: 0 },
];

describe('installBatchBody', () => {
  it('sends the same JSON the SDK sends, with a matching content-length', async () => {
    // Prepare
    const ours = recordingSqs(true);
    const sdk = recordingSqs(false);

    // Act
    await ours.sqs.send(new SendMessageBatchCommand({ QueueUrl: QUEUE, Entries: entries }));
    await sdk.sqs.send(new SendMessageBatchCommand({ QueueUrl: QUEUE, Entries: entries }));

    // Assess: written by JSON.stringify (placeholders would parse to empty bodies), parsed the same.
    expect(JSON.parse(ours.sent[0]?.body ?? '')).toEqual({ QueueUrl: QUEUE, Entries: entries });
    expect(JSON.parse(ours.sent[0]?.body ?? '')).toEqual(JSON.parse(sdk.sent[0]?.body ?? ''));
    expect(Number(ours.sent[0]?.headers['content-length'])).toBe(Buffer.byteLength(ours.sent[0]?.body ?? ''));
  });

  it("keeps the SDK's MD5 check on the real bodies", async () => {
    const ours = recordingSqs(true, true);

    await expect(ours.sqs.send(new SendMessageBatchCommand({ QueueUrl: QUEUE, Entries: entries }))).rejects.toThrow(
      'Invalid MD5 checksum on messages: m-0, m-1',
    );
  });

  it('leaves other commands, and entries with message attributes, to the SDK', async () => {
    const ours = recordingSqs(true);
    const withAttributes = [
      { Id: '0', MessageBody: 'b', MessageAttributes: { a: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2]) } } },
    ];

    await ours.sqs.send(new SendMessageCommand({ QueueUrl: QUEUE, MessageBody: 'single' }));
    await ours.sqs.send(new SendMessageBatchCommand({ QueueUrl: QUEUE, Entries: withAttributes }));

    expect(JSON.parse(ours.sent[0]?.body ?? '')).toMatchObject({ MessageBody: 'single' });
    expect(JSON.parse(ours.sent[1]?.body ?? '').Entries[0].MessageAttributes.a.BinaryValue).toBe('AQI=');
  });
});
