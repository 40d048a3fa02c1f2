/**
 * The local API adapter refuses what API Gateway could not hand to Lambda: a request whose event
 * (the body JSON-escaped, or base64-encoded for gzip) is over Lambda's 6 MB synchronous payload.
 * Below that, the function's own limits answer, as in AWS.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { MAX_BASE64_BODY_BYTES } from '../../lib/shared/config';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.stop();
});

/** Incompressible bytes, gzip'd: the compressed body is about as large as the input. */
const gzipOf = (bytes: number) => gzipSync(randomBytes(bytes), { level: 1 });

describe('Lambda payload ceiling on the local stack', () => {
  it('answers 413 JSON for a text body that, JSON-escaped in the event, is over 6 MB', async () => {
    // Prepare: 4 MB of quotes-heavy JSON, under MAX_REQUEST_BYTES, but 7.2 MB once escaped in the event.
    const body = JSON.stringify({ batch: Array.from({ length: 800_000 }, () => '"') });

    // Act
    const response = await stack.send('/segment', undefined, { raw: body });

    // Assess
    expect(Buffer.byteLength(body)).toBeLessThan(stack.config.limits.maxRequestBytes);
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(String(response.body.message)).toMatch(
      /^Request Too Long: the request reaches Lambda as a \d+-byte event, over Lambda's 6291456-byte limit$/,
    );
  });

  it('answers 413 for a gzip body under MAX_REQUEST_BYTES whose base64 form is over 6 MB', async () => {
    // Prepare
    const body = gzipOf(MAX_BASE64_BODY_BYTES + 64 * 1024);

    // Act
    const response = await stack.send('/segment', undefined, { raw: body, headers: { 'content-encoding': 'gzip' } });

    // Assess
    expect(body.length).toBeLessThan(stack.config.limits.maxRequestBytes);
    expect(response.status).toBe(413);
    expect(String(response.body.message)).toMatch(/^Request Too Long/);
  });

  it('hands a gzip body just under the base64 ceiling to the function, which answers for itself', async () => {
    // Prepare
    const body = gzipOf(MAX_BASE64_BODY_BYTES - 64 * 1024);

    // Act
    const response = await stack.send('/segment', undefined, { raw: body, headers: { 'content-encoding': 'gzip' } });

    // Assess: random bytes are no UTF-8; the function says so (it read the request).
    expect(body.length).toBeLessThan(MAX_BASE64_BODY_BYTES);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ message: 'body is not valid UTF-8' });
  });
});
