/**
 * The CORS answers of the ingest function (lib/ingest/cors.ts), as pure functions; the conformance
 * test (tests/conformance/section-3-browsers.test.ts) checks them over HTTP on every route, and the
 * browser test (tests/integration/browser-analytics-next.test.ts) in Chromium.
 */
import { assertOriginAllowed, preflightResponse, withCorsHeaders } from '../../../lib/ingest/cors';
import type { HttpRequest } from '../../../lib/ingest/http';
import type { SourceRecord } from '../../../lib/tables/sources';

function request(headers: Record<string, string>): HttpRequest {
  return {
    method: 'OPTIONS',
    path: '/v1/t',
    headers,
    body: Buffer.alloc(0),
    requestId: 'r',
    receivedAtMs: 0,
    deadline: Number.MAX_SAFE_INTEGER,
  };
}

describe('preflightResponse', () => {
  it("answers 204 with the route's methods, our headers and a max age", () => {
    const response = preflightResponse(request({ origin: 'https://shop.example' }), ['POST']);

    expect(response).toEqual({
      statusCode: 204,
      headers: {
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'authorization, content-type, content-encoding, x-retry-count, x-signature',
        'Access-Control-Max-Age': '86400',
      },
      body: '',
    });
  });

  it('adds the well-formed headers the browser asks for', () => {
    const response = preflightResponse(request({ 'access-control-request-headers': 'Authorization, X-Retry-Count,x-custom-thing' }), [
      'POST',
      'PUT',
      'PATCH',
    ]);

    expect(response.headers?.['Access-Control-Allow-Methods']).toBe('POST, PUT, PATCH, OPTIONS');
    expect(response.headers?.['Access-Control-Allow-Headers']).toBe(
      'authorization, content-type, content-encoding, x-retry-count, x-signature, x-custom-thing',
    );
  });

  it.each([
    ['a name that is not a token', 'authorization, bad header'],
    ['a line break', 'x-a\r\nset-cookie: a=b'],
    ['too many names', Array.from({ length: 40 }, (_, i) => `x-h${i}`).join(',')],
  ])('reflects nothing of a request with %s', (_case, requested) => {
    const response = preflightResponse(request({ 'access-control-request-headers': requested }), ['POST']);

    expect(response.headers?.['Access-Control-Allow-Headers']).toBe(
      'authorization, content-type, content-encoding, x-retry-count, x-signature',
    );
  });
});

describe('withCorsHeaders', () => {
  it("reflects the request's origin, varies on it, and exposes Retry-After", () => {
    const response = withCorsHeaders(request({ origin: 'https://shop.example' }), {
      statusCode: 429,
      headers: { 'Retry-After': '2' },
      body: '{}',
    });

    expect(response.headers).toEqual({
      'Retry-After': '2',
      'Access-Control-Allow-Origin': 'https://shop.example',
      'Access-Control-Expose-Headers': 'Retry-After',
      Vary: 'Origin',
    });
  });

  it.each([
    ['no Origin', {}],
    ['an Origin with spaces', { origin: 'https://a b' }],
    ['an empty Origin', { origin: '' }],
  ])('answers * for %s', (_case, headers: Record<string, string>) => {
    const response = withCorsHeaders(request(headers), { statusCode: 200, body: '{}' });

    expect(response.headers?.['Access-Control-Allow-Origin']).toBe('*');
    expect(response.headers?.Vary).toBe('Origin');
  });
});

describe('assertOriginAllowed', () => {
  const listed: SourceRecord = { sourceId: 'shop-web', allowedOrigins: ['https://shop.example'] };

  it('lets requests without Origin through, whatever the list', () => {
    expect(() => assertOriginAllowed(request({}), listed)).not.toThrow();
    expect(() => assertOriginAllowed(request({}), { sourceId: 'server', allowedOrigins: [] })).not.toThrow();
  });

  it('lets every origin through when the source has no list', () => {
    expect(() => assertOriginAllowed(request({ origin: 'https://anything.example' }), { sourceId: 'open' })).not.toThrow();
  });

  it('lets a listed origin through', () => {
    expect(() => assertOriginAllowed(request({ origin: 'https://shop.example' }), listed)).not.toThrow();
  });

  it('refuses another origin with a 403 that names it and the source', () => {
    expect(() => assertOriginAllowed(request({ origin: 'https://evil.example' }), listed)).toThrow(
      expect.objectContaining({
        status: 403,
        reason: 'forbidden',
        message:
          'origin "https://evil.example" is not allowed to send to source "shop-web"; add it to the source\'s allowed origins (segment-ingest sources allow-origin shop-web ORIGIN)',
      }),
    );
  });

  it('refuses every page when the list is empty', () => {
    expect(() => assertOriginAllowed(request({ origin: 'https://shop.example' }), { sourceId: 'server', allowedOrigins: [] })).toThrow(
      'source "server" accepts no browser origin, so this page (origin "https://shop.example") may not send to it',
    );
  });

  it('cuts a long origin in the message', () => {
    const origin = `https://${'a'.repeat(400)}.example`;
    expect(() => assertOriginAllowed(request({ origin }), listed)).toThrow(`origin "${origin.slice(0, 200)}…" is not allowed`);
  });
});
