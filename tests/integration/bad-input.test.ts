/**
 * Bad input gets the status of docs/spec.md section 2 and a message that names the problem, never a 500;
 * whatever an authenticated sender sent and we refused is quarantined.
 */
import { gzipSync } from 'node:zlib';
import { signWebhookPayload } from '../../lib/ingest/webhook';
import { segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.stop();
});

async function rejectedFor(route: string, reason: string) {
  await stack.drain();
  return (await stack.scan('rejected')).filter((r) => r.route === route && (r.reasons as string[]).some((x) => x.includes(reason)));
}

describe('bad input', () => {
  it('answers 400 for a body that is not JSON, and quarantines the raw text', async () => {
    const response = await stack.send('/v1/track', undefined, { raw: '{"type":"track",' });

    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/^body is not valid JSON: /);
    const [quarantined] = await rejectedFor('/v1/track', 'body is not valid JSON');
    expect(quarantined?.raw).toBe('{"type":"track",');
  });

  it('answers 400 for JSON that is not an object', async () => {
    const response = await stack.send('/v1/identify', [1, 2]);

    expect(response.status).toBe(400);
    expect(response.body).toEqual({ message: 'body must be a JSON object (one identify event), got an array' });
  });

  it('answers 400 for a batch body without a batch array', async () => {
    const response = await stack.send('/v1/batch', { events: [] });

    expect(response.status).toBe(400);
    expect(response.body).toEqual({ message: 'body has no "batch" array' });
  });

  it('answers 400 for an empty batch', async () => {
    const response = await stack.send('/v1/batch', { batch: [] });

    expect(response.status).toBe(400);
    expect(response.body).toEqual({ message: '"batch" is empty; send at least one event' });
  });

  it('quarantines an empty batch of an authenticated sender (issue 10)', async () => {
    const batch = await stack.send('/v1/batch', { batch: [], context: { marker: 'empty-batch-q' } });

    expect(batch.status).toBe(400);
    const quarantined = await rejectedFor('/v1/batch', '"batch" is empty');
    expect(quarantined.filter((r) => String(r.raw).includes('empty-batch-q'))).toHaveLength(1);
  });

  it('quarantines a body that is not valid UTF-8, with its lossy text, on every route kind (issue 10)', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"type":"track","event":"E","userId":"bad-utf8","x":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);

    // A binary content type, so the bytes reach the function as API Gateway delivers them: base64,
    // untouched (a text body would arrive already decoded).
    const headers = { 'content-type': 'application/octet-stream' };
    const single = await stack.send('/v1/track', undefined, { raw: bytes, headers });
    const direct = await stack.send('/segment', undefined, { raw: bytes, headers });
    const webhook = await stack.send('/webhook/' + stack.sourceId, undefined, {
      raw: bytes,
      auth: null,
      headers: { ...headers, 'x-signature': signWebhookPayload(stack.webhookSecret, bytes) },
    });

    expect([single.status, direct.status, webhook.status]).toEqual([400, 400, 400]);
    expect(single.body.message).toBe('body is not valid UTF-8');
    expect(webhook.body.message).toBe('body is not valid UTF-8');
    const quarantined = [
      ...(await rejectedFor('/v1/track', 'not valid UTF-8')),
      ...(await rejectedFor('/segment', 'not valid UTF-8')),
      ...(await rejectedFor('/webhook', 'not valid UTF-8')),
    ];
    expect(quarantined.map((r) => r.route).sort()).toEqual(['/segment', '/v1/track', '/webhook']);
    expect(String(quarantined[0]?.raw)).toContain('"userId":"bad-utf8","x":"\ufffd("');
  });

  it('quarantines an event nested too deeply to serialize, and stores its neighbour, never a 500', async () => {
    // 200,000 levels: JSON.parse reads it, JSON.stringify runs out of stack.
    const deep = `{"type":"track","event":"Deep","userId":"deep-user","messageId":"too-deep","properties":{"p":${'['.repeat(200_000)}${']'.repeat(200_000)}}}`;
    const fine = JSON.stringify({ type: 'track', event: 'Fine', userId: 'deep-user', messageId: 'not-deep' });

    const single = await stack.send('/segment', undefined, { raw: deep });
    const batch = await stack.send('/webhook/' + stack.sourceId, undefined, { auth: stack.key, raw: `[${fine},${deep}]` });

    expect(single.status).toBe(400);
    expect(single.body.message).toBe('invalid event: the event nests too deeply to be serialized (thousands of levels)');
    expect(batch.body).toMatchObject({ accepted: 1, rejected: 1 });
    expect((await rejectedFor('/segment', 'nests too deeply')).length).toBeGreaterThan(0);
  });

  it('checks the signature of a webhook batch whose first event nests too deeply, and quarantines that event when it has no messageId to keep', async () => {
    // Without a messageId the id is derived from the content, which runs out of stack too; and the
    // first element cannot be printed for the signature Segment's batching would have made.
    const deep = `{"type":"track","event":"Deep","userId":"deep-signed","properties":{"p":${'['.repeat(200_000)}${']'.repeat(200_000)}}}`;
    const fine = JSON.stringify({ type: 'track', event: 'Fine', userId: 'deep-signed', messageId: 'deep-signed-fine' });
    const body = `[${deep},${fine}]`;

    const response = await stack.send('/webhook/' + stack.sourceId, undefined, {
      auth: null,
      headers: { 'x-signature': signWebhookPayload(stack.webhookSecret, body) },
      raw: body,
    });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      accepted: 1,
      rejected: 1,
      errors: [{ index: 0, message: 'the event nests too deeply to be serialized (thousands of levels)' }],
    });
    // The other deep test of this file quarantines an event at index 1 of its webhook batch.
    const quarantined = (await rejectedFor('/webhook', 'nests too deeply')).filter((r) => r.index === 0);
    expect(quarantined).toHaveLength(1);
    expect((await stack.scan('track')).filter((e) => e.messageId === 'deep-signed-fine')).toHaveLength(1);
  });

  it('answers 400 for an empty body', async () => {
    const response = await stack.send('/v1/track', undefined, { raw: '' });

    expect(response.status).toBe(400);
    expect(response.body).toEqual({ message: 'body is empty; send a JSON object' });
  });

  it('answers 413 for an event over 32 KB, before parsing it', async () => {
    const big = segmentEvent('track', { properties: { blob: 'x'.repeat(33 * 1024) } });

    const response = await stack.send('/v1/track', big);

    expect(response.status).toBe(413);
    expect(response.body.message).toMatch(/^request body is \d+ bytes; the limit for this route is 32768$/);
  });

  it('answers 413 for a batch over 500 KB', async () => {
    const batch = Array.from({ length: 60 }, () => segmentEvent('track', { properties: { blob: 'y'.repeat(9 * 1024) } }));

    const response = await stack.send('/v1/batch', { batch });

    expect(response.status).toBe(413);
    expect(response.body.message).toMatch(/^request body is \d+ bytes; the limit for this route is 512000$/);
  });

  it('quarantines a batch item over 32 KB and accepts its neighbours', async () => {
    const big = segmentEvent('track', { userId: 'big-item', properties: { blob: 'z'.repeat(40 * 1024) } });
    const small = segmentEvent('track', { userId: 'small-item' });

    const response = await stack.send('/v1/batch', { batch: [big, small] });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ accepted: 1, rejected: 1 });
    expect((response.body.errors as Array<{ message: string }>)[0]?.message).toMatch(/^event is \d+ bytes serialized; the limit is 32768$/);
  });

  it('answers 413 for gzip that inflates past the limit (a zip bomb)', async () => {
    const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x20));

    const response = await stack.send('/v1/track', undefined, { raw: bomb, headers: { 'content-encoding': 'gzip' } });

    expect(bomb.length).toBeLessThan(32 * 1024);
    expect(response.status).toBe(413);
    expect(response.body).toEqual({ message: 'request body inflates to more than 32768 bytes, the limit for this route' });
  });

  it('answers 400 naming the field for a track without event', async () => {
    const response = await stack.send('/v1/track', segmentEvent('track', { event: undefined }));

    expect(response.status).toBe(400);
    expect(response.body.message).toBe('invalid track: missing required field "event"');
    expect(response.body).toMatchObject({ success: false, accepted: 0, rejected: 1 });
  });

  it('answers 400 for an event with neither userId nor anonymousId, and quarantines it', async () => {
    const orphan = segmentEvent('screen', { userId: undefined, anonymousId: undefined });

    const response = await stack.send('/v1/screen', orphan);

    expect(response.status).toBe(400);
    expect(response.body.message).toBe('invalid screen: either "userId" or "anonymousId" is required');
    const quarantined = (await rejectedFor('/v1/screen', '"anonymousId" is required')).filter((r) => r.messageId === orphan.messageId);
    expect(quarantined).toHaveLength(1);
  });

  it('answers 400 for a body type that conflicts with the path', async () => {
    const response = await stack.send('/v1/track', segmentEvent('identify'));

    expect(response.status).toBe(400);
    expect(response.body.message).toBe('invalid track: "type" is "identify" but this route takes track events');
  });

  it('lists every reason when an event breaks several rules', async () => {
    const response = await stack.send(
      '/v1/group',
      segmentEvent('group', { groupId: undefined, properties: 'nope', messageId: 'm'.repeat(101) }),
    );

    expect(response.status).toBe(400);
    expect(response.body.message).toBe(
      'invalid group: missing required field "groupId"; "messageId" must be at most 100 characters; "properties" must be an object or null',
    );
  });

  it('reads a JSON body whatever its content type says, and answers 400 for a form that is not JSON', async () => {
    const event = segmentEvent('track');

    const json = await stack.send('/v1/track', event, { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const form = await stack.send('/v1/track', undefined, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      raw: 'a=1&b=2',
    });

    expect(json.status).toBe(200);
    expect(form.status).toBe(400);
    expect(form.body.message).toMatch(/^body is not valid JSON: /);
  });

  it('answers 415 for a charset it cannot read', async () => {
    const response = await stack.send('/v1/track', segmentEvent('track'), {
      headers: { 'content-type': 'text/plain; charset=windows-1252' },
    });

    expect(response.status).toBe(415);
    expect(response.body.message).toBe('charset "windows-1252" is not supported; send UTF-8');
  });

  it('answers 415 for an encoding it cannot read', async () => {
    const response = await stack.send('/v1/track', segmentEvent('track'), { headers: { 'content-encoding': 'br' } });

    expect(response.status).toBe(415);
    expect(response.body.message).toBe('Content-Encoding "br" is not supported; send gzip or no encoding');
  });

  it('answers 404 for an unknown route and 405 for a wrong method', async () => {
    const unknown = await stack.send('/v2/track', segmentEvent('track'));
    const unknownType = await stack.send('/v1/delete', segmentEvent('track'));
    const wrongMethod = await stack.send('/v1/batch', undefined, { method: 'GET' });

    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ message: 'no route for POST /v2/track' });
    expect(unknownType.status).toBe(404);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
  });

  it('never answers 500 to any of a range of malformed bodies', async () => {
    const bodies = ['null', '0', '"x"', '[]', '{"batch":null}', '{"type":null}', '{"userId":{}}', '\u0000', '{"context":[]}'];
    for (const path of ['/v1/track', '/v1/batch']) {
      for (const raw of bodies) {
        const response = await stack.send(path, undefined, { raw });
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        expect(typeof response.body.message).toBe('string');
      }
    }
  });
});
