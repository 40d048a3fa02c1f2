/**
 * The local API Gateway adapter answers HTTP that Node cannot parse with JSON, as API Gateway
 * does, instead of Node's bare 400 (issue 10, "Also"). Sent over a raw socket: fetch refuses to
 * send these requests at all.
 */
import { connect } from 'node:net';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
});

afterAll(async () => {
  await stack.stop();
});

function rawRequest(text: string): Promise<string> {
  const { port } = new URL(stack.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('malformed HTTP', () => {
  it.each([
    [
      'a bad Content-Length',
      'POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n{}',
      '400 Bad Request',
      'malformed HTTP request',
    ],
    [
      'a bare CR inside a header',
      'POST /v1/track HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\nContent-Length: 2\r\n\r\n{}',
      '400 Bad Request',
      'malformed HTTP request',
    ],
    [
      'a 20 KB header',
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      '431 Request Header Fields Too Large',
      'request headers are too large',
    ],
  ])('answers %s with JSON', async (_label, request, status, message) => {
    const answer = await rawRequest(request);

    const [head = '', body] = answer.split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toBe(`HTTP/1.1 ${status}`);
    expect(head.toLowerCase()).toContain('content-type: application/json');
    expect(JSON.parse(body ?? '')).toEqual({ message });
  });
});
