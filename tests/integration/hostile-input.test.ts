/**
 * The requests of issue 10 that were answered 200 and then lost or stored wrong, sent as an attacker
 * would send them, through the whole pipeline on the emulators: each event is stored exactly once
 * with every field, or refused with a clear 4xx and quarantined.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { startTestStack, type TestStack } from '../support/stack';
import { processMessages, receiveAll } from '../support/worker';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.stop();
});

/** DynamoDB's JSON form of a value. */
interface Wire {
  S?: string;
  M?: Record<string, Wire>;
  L?: Wire[];
}

/**
 * The stored item of (table, pk, sk), every attribute as DynamoDB Local holds it. Read over plain
 * HTTP, not with the SDK: the SDK's response parser drops the value of an attribute named
 * "__proto__" (the item was stored whole; reading it back through the SDK loses it).
 */
async function rawItem(table: 'track' | 'identify' | 'page', pk: string, sk: string) {
  const response = await fetch(stack.config.dynamodbEndpoint ?? '', {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.GetItem',
      // DynamoDB Local checks that a signature is there, not what it is.
      authorization: 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify({ TableName: stack.config.tables[table], Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }),
  });
  return (JSON.parse(await response.text()) as { Item?: Record<string, Wire> }).Item;
}

async function rejectedWith(messageId: string) {
  return (await stack.scan('rejected')).filter((item) => item.messageId === messageId);
}

describe('ids too long for a key (issue 10, 1)', () => {
  it.each([
    ['userId', 3000],
    ['anonymousId', 2100],
  ])('refuses a %s of %i characters with a 400 naming the field and its limit, and quarantines it', async (field, length) => {
    // Prepare
    const messageId = `long-${field}`;
    const event = { type: 'track', event: 'E', [field]: 'x'.repeat(length), messageId };

    // Act
    const response = await stack.send('/v1/track', event);
    await stack.drain();

    // Assess
    expect(response.status).toBe(400);
    expect(response.body.message).toBe(`invalid track: "${field}" must be at most 1024 bytes (UTF-8); it is ${length}`);
    const [quarantined] = await rejectedWith(messageId);
    expect(quarantined?.reasons).toEqual([`"${field}" must be at most 1024 bytes (UTF-8); it is ${length}`]);
    expect(await stack.scan('track')).not.toContainEqual(expect.objectContaining({ messageId }));
  });

  it('refuses a long groupId and previousId the same way, and counts bytes, not characters', async () => {
    const group = await stack.send('/v1/group', { type: 'group', userId: 'u', groupId: 'g'.repeat(1025), messageId: 'long-group' });
    const alias = await stack.send('/v1/alias', { type: 'alias', userId: 'u', previousId: 'é'.repeat(513), messageId: 'long-alias' });
    const fits = await stack.send('/v1/identify', { type: 'identify', userId: 'é'.repeat(512), messageId: 'fits-1024-bytes' });

    expect(group.status).toBe(400);
    expect(group.body.message).toBe('invalid group: "groupId" must be at most 1024 bytes (UTF-8); it is 1025');
    expect(alias.status).toBe(400);
    expect(alias.body.message).toBe('invalid alias: "previousId" must be at most 1024 bytes (UTF-8); it is 1026');
    expect(fits.status).toBe(200);
  });
});

describe('odd property names (issue 10, 2)', () => {
  const ODD = ['constructor', '__proto__', 'prototype', 'toString', 'hasOwnProperty'];

  it('stores every field of an event whose keys are constructor, __proto__, prototype, toString and hasOwnProperty at every level', async () => {
    // Prepare: the body is written by hand, since an object literal cannot hold an own "__proto__".
    const odd = (value: string) => ODD.map((key) => `"${key}":${JSON.stringify(value)}`).join(',');
    const body = `{"type":"track","event":"Odd","userId":"odd-user","messageId":"odd-1","timestamp":"2026-01-01T00:00:00.000Z",${odd('top')},
      "properties":{${odd('p')},"nested":{${odd('n')}},"list":[{${odd('l')}}]},
      "traits":{${odd('t')}},"context":{${odd('c')},"page":{${odd('cp')}}}}`;

    // Act
    const response = await stack.send('/v1/track', undefined, { raw: body });
    await stack.drain();

    // Assess
    expect(response.status).toBe(200);
    const item = await rawItem('track', `${stack.sourceId}#odd-user`, '2026-01-01T00:00:00.000Z#odd-1');
    expect(item).toBeDefined();
    const names = (map: Record<string, unknown> | undefined) =>
      Object.keys(map ?? {})
        .filter((key) => ODD.includes(key))
        .sort();
    expect(names(item)).toEqual([...ODD].sort());
    for (const field of ['properties', 'traits', 'context']) expect(names(item?.[field]?.M)).toEqual([...ODD].sort());
    expect(names(item?.properties?.M?.nested?.M)).toEqual([...ODD].sort());
    expect(names(item?.properties?.M?.list?.L?.[0]?.M)).toEqual([...ODD].sort());
    // Read as an own property: `item.__proto__` would name the accessor of Object.prototype.
    expect(Object.getOwnPropertyDescriptor(item, '__proto__')?.value).toEqual({ S: 'top' });
    expect(item?.properties?.M?.constructor).toEqual({ S: 'p' });
    expect(await rejectedWith('odd-1')).toEqual([]);
  });
});

describe('write de-duplication (issue 10, 4)', () => {
  it('stores both events of a batch whose ids joined with NUL would collide', async () => {
    // The exact request of the issue.
    const body =
      '{"batch":[{"type":"track","event":"E","userId":"R-u\\u00002026-01-01T00:00:00.000Z#R-a","messageId":"R-b","timestamp":"2026-01-01T00:00:00.000Z"},' +
      '{"type":"track","event":"E","userId":"R-u","messageId":"R-a\\u00002026-01-01T00:00:00.000Z#R-b","timestamp":"2026-01-01T00:00:00.000Z"}]}';

    const response = await stack.send('/v1/batch', undefined, { raw: body });
    await stack.drain();

    expect(response.body).toMatchObject({ accepted: 2, rejected: 0 });
    const stored = (await stack.scan('track')).filter((item) => String(item.pk).startsWith(`${stack.sourceId}#R-u`));
    expect(stored).toHaveLength(2);
  });
});

describe('characters SQS does not carry (issue 10, 5)', () => {
  let quiet: TestStack;
  beforeAll(async () => {
    quiet = await startTestStack({ startWorker: false });
  });
  afterAll(async () => {
    await quiet.stop();
  });

  it('escapes U+FFFE and U+FFFF in the message body and stores the event exactly as sent', async () => {
    // Prepare: no worker runs on this stack, so the packed message can be read from the queue.
    const sent = {
      type: 'track',
      event: 'Odd \uffff',
      userId: 'sqs-chars',
      messageId: 'sqs-1',
      timestamp: '2026-01-01T00:00:00.000Z',
      properties: { a: '\ufffe\uffff', b: 'ok \u{10ffff} \ufdd0' },
    };

    // Act
    const response = await quiet.send('/v1/track', sent);
    const messages = await receiveAll(quiet, 1);
    const result = await processMessages(quiet, messages);

    // Assess the body: only the characters SQS accepts, the others escaped.
    expect(response.status).toBe(200);
    const body = messages[0]?.Body ?? '';
    expect(/[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u.test(body)).toBe(false);
    expect(body).toContain('Odd \\uffff');
    // Assess the item: stored byte for byte.
    expect(result.batchItemFailures).toEqual([]);
    const { Item } = await quiet.clients.dynamodb.send(
      new GetItemCommand({
        TableName: quiet.config.tables.track,
        Key: { pk: { S: `${quiet.sourceId}#sqs-chars` }, sk: { S: '2026-01-01T00:00:00.000Z#sqs-1' } },
      }),
    );
    const item = unmarshall(Item ?? {});
    expect(item.event).toBe(sent.event);
    expect(item.properties).toEqual(sent.properties);
  });
});
