/**
 * Reading request bodies: content types, encodings, limits, and the text the routes get back.
 */
import { gzipSync } from 'node:zlib';
import { parseJson, readBody, requestFromApiGateway, type HttpRequest } from '../../../lib/ingest/http';
import { httpApiEvent } from '../../support/events';

function request(body: string, options: { headers?: Record<string, string>; base64?: boolean } = {}): HttpRequest {
  return requestFromApiGateway(httpApiEvent({ body, headers: options.headers, isBase64Encoded: options.base64 }), 0, 1000);
}

describe('requestFromApiGateway', () => {
  it('lower-cases header names and keeps the body bytes, text or base64', () => {
    const text = request('{"a":"é"}', { headers: { 'X-Custom': 'v' } });
    const binary = request(Buffer.from([0xff, 0x00]).toString('base64'), { base64: true });

    expect(text.headers['x-custom']).toBe('v');
    expect(text.body).toEqual(Buffer.from('{"a":"é"}'));
    expect(binary.body).toEqual(Buffer.from([0xff, 0x00]));
  });

  it('gives an empty body when API Gateway sends none', () => {
    const event = httpApiEvent({ body: undefined });
    expect(requestFromApiGateway(event, 0, 1000).body).toEqual(Buffer.alloc(0));
  });
});

describe('readBody', () => {
  it('returns the text of a JSON or text/plain body, with or without charset', () => {
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'text/plain;charset="UTF-8"',
      'application/vnd.segment+json',
    ]) {
      expect(readBody(request('{"a":1}', { headers: { 'content-type': type } }), 100).text).toBe('{"a":1}');
    }
  });

  it('decodes base64 and gzip bodies', () => {
    const json = '{"type":"track","x":"ü"}';
    expect(readBody(request(Buffer.from(json).toString('base64'), { base64: true }), 100).text).toBe(json);
    expect(readBody(request(gzipSync(json).toString('base64'), { base64: true, headers: { 'content-encoding': 'gzip' } }), 100).text).toBe(
      json,
    );
  });

  it('strips a byte order mark and replaces lone surrogates as a UTF-8 round trip does', () => {
    expect(readBody(request('\uFEFF{"a":1}'), 100).text).toBe('{"a":1}');
    expect(readBody(request('{"a":"\uD800x"}'), 100).text).toBe('{"a":"\uFFFDx"}');
  });

  it('reads invalid UTF-8 lossily and names the problem, for the route to quarantine once it knows the sender', () => {
    expect(readBody(request(Buffer.from([0x22, 0xc3, 0x28, 0x22]).toString('base64'), { base64: true }), 100)).toEqual({
      text: '"\ufffd("',
      problem: { reason: 'unreadable-body', message: 'body is not valid UTF-8' },
    });
  });

  it('counts the limit in UTF-8 bytes, before and after inflating', () => {
    const body = `"${'é'.repeat(10)}"`; // 22 bytes, 12 characters
    expect(readBody(request(body), 22).text).toBe(body);
    expect(() => readBody(request(body), 21)).toThrow(
      expect.objectContaining({ status: 413, message: 'request body is 22 bytes; the limit for this route is 21' }),
    );
    const bomb = gzipSync('x'.repeat(5000)).toString('base64');
    expect(() => readBody(request(bomb, { base64: true, headers: { 'content-encoding': 'gzip' } }), 1000)).toThrow(
      expect.objectContaining({ status: 413 }),
    );
  });

  it('reads JSON whatever the content type says, including a form type and a missing one', () => {
    for (const type of [
      'application/x-www-form-urlencoded',
      'application/xml',
      'multipart/form-data; boundary=x',
      'text/plain; charset=ascii',
    ]) {
      expect(readBody(request('{"a":1}', { headers: { 'content-type': type } }), 100).text).toBe('{"a":1}');
    }
    expect(
      readBody(
        request(gzipSync('{"a":1}').toString('base64'), {
          base64: true,
          headers: { 'content-encoding': 'gzip', 'content-type': 'application/x-www-form-urlencoded' },
        }),
        100,
      ).text,
    ).toBe('{"a":1}');
  });

  it('refuses charsets and encodings it cannot read with 415', () => {
    expect(() => readBody(request('{}', { headers: { 'content-type': 'application/json; charset=latin1' } }), 100)).toThrow(
      expect.objectContaining({ status: 415 }),
    );
    expect(() =>
      readBody(request('{}', { headers: { 'content-type': 'application/x-www-form-urlencoded; charset=latin1' } }), 100),
    ).toThrow(expect.objectContaining({ status: 415 }));
    expect(() => readBody(request('{}', { headers: { 'content-encoding': 'br' } }), 100)).toThrow(expect.objectContaining({ status: 415 }));
  });
});

describe('parseJson', () => {
  it('parses, and describes what is wrong without throwing', () => {
    expect(parseJson(' {"a":1} ')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseJson('  ')).toEqual({ ok: false, problem: { reason: 'unreadable-body', message: 'body is empty; send a JSON object' } });
    expect(parseJson('{')).toMatchObject({
      ok: false,
      problem: { reason: 'unreadable-body', message: expect.stringMatching(/^body is not valid JSON: /) },
    });
  });
});
