import { gzipSync } from 'node:zlib';
import { readBody, requestFromApiGateway, type HttpRequest } from '../../../lib/ingest/http';
import { httpApiEvent } from '../../support/events';

const request = (body: Buffer | string, headers: Record<string, string> = {}): HttpRequest => ({
  method: 'POST',
  path: '/v1/track',
  headers: { 'content-type': 'application/json', ...headers },
  body: Buffer.isBuffer(body) ? body : Buffer.from(body),
  requestId: 'r',
  deadline: Number.MAX_SAFE_INTEGER,
  receivedAtMs: 0,
});

describe('readBody', () => {
  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'text/plain;charset=UTF-8',
    'application/vnd.segment+json',
    'APPLICATION/JSON; charset="utf-8"',
    'application/x-www-form-urlencoded',
    'application/octet-stream',
  ])('reads %s', (contentType) => {
    expect(readBody(request('{"a":1}', { 'content-type': contentType }), 100).text).toBe('{"a":1}');
  });

  it('reads a body without a content type', () => {
    const req = request('{}');
    delete req.headers['content-type'];
    expect(readBody(req, 100).text).toBe('{}');
  });

  it('refuses a charset other than UTF-8', () => {
    expect(() => readBody(request('{}', { 'content-type': 'application/json; charset=iso-8859-1' }), 100)).toThrow(
      'charset "iso-8859-1" is not supported; send UTF-8',
    );
  });

  it('inflates gzip within the limit', () => {
    expect(readBody(request(gzipSync('{"x":"y"}'), { 'content-encoding': 'gzip' }), 100).text).toBe('{"x":"y"}');
  });

  it('refuses gzip that is not gzip', () => {
    expect(() => readBody(request('not gzip', { 'content-encoding': 'gzip' }), 100)).toThrow(
      'Content-Encoding is gzip but the body is not valid gzip data',
    );
  });

  it('names invalid UTF-8 as a problem, keeping the lossy text', () => {
    expect(readBody(request(Buffer.from([0x7b, 0xff, 0x7d])), 100)).toEqual({
      text: '{\ufffd}',
      problem: { reason: 'unreadable-body', message: 'body is not valid UTF-8' },
    });
  });

  it('checks the size before anything else is done with the body', () => {
    expect(() => readBody(request('x'.repeat(101)), 100)).toThrow('request body is 101 bytes; the limit for this route is 100');
  });
});

describe('requestFromApiGateway', () => {
  it('decodes a base64 body and lower-cases header names', () => {
    const event = httpApiEvent({
      body: Buffer.from('{"a":1}').toString('base64'),
      isBase64Encoded: true,
      headers: { 'X-Segment-Settings': 'e30=' },
    });

    const req = requestFromApiGateway(event, 5, 4005);

    expect(req.body.toString()).toBe('{"a":1}');
    expect(req.headers['x-segment-settings']).toBe('e30=');
    expect(req.receivedAtMs).toBe(5);
  });
});
