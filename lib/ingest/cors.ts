/**
 * CORS for browsers (docs/spec.md section 3). analytics.js 2.0 sends `Authorization` on every request
 * and `X-Retry-Count` on retries, so the browser preflights each one. API Gateway's own CORS
 * would answer preflights for the whole API with one setting and drop the function's headers, so
 * it stays off and the function answers: a preflight on every event route, and the origin
 * headers on every answer, errors included. Without them the browser hides the answer from the
 * page, and analytics.js retries a refusal it should have dropped.
 *
 * A preflight carries no credentials, so it cannot know the source and is answered for any
 * origin. A source's allowed origins are enforced on the real request, after authentication
 * (`assertOriginAllowed`), with a 403 the page can read.
 */
import { isOriginAllowed } from '../shared/origins';
import type { SourceRecord } from '../tables/sources';
import { ForbiddenError } from './http-errors';
import type { HttpRequest, HttpResponse } from './http';
import type { Route } from './router';

/** What analytics.js, the Tracking API and the Webhooks routes may send from a page. */
const ALLOWED_HEADERS = ['authorization', 'content-type', 'content-encoding', 'x-retry-count', 'x-signature'];
/** Browsers cap it (Chrome at 2 hours, Firefox at 24). */
const MAX_AGE_SECONDS = 86_400;
/** A header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]{1,64}$/;
const MAX_REQUESTED_HEADERS = 32;
/** What a browser can send as `Origin`; anything else is not a page, and gets `*`. */
const ORIGIN_TEXT = /^[\x21-\x7e]{1,1024}$/;

/** The `OPTIONS` twin of an event route: a preflight answer listing the route's methods. */
export function preflightRoute(route: Route): Route {
  return { path: route.path, methods: ['OPTIONS'], handler: async (request) => preflightResponse(request, route.methods) };
}

/**
 * 204 with the methods, the headers a page may send (ours, plus the ones the browser asks for
 * when they are well-formed header names: we read none of them, so allowing them costs nothing),
 * and how long the browser may cache it. `withCorsHeaders` adds the origin.
 */
export function preflightResponse(request: HttpRequest, methods: readonly string[]): HttpResponse {
  return {
    statusCode: 204,
    headers: {
      'Access-Control-Allow-Methods': [...methods, 'OPTIONS'].join(', '),
      'Access-Control-Allow-Headers': allowedHeaders(request.headers['access-control-request-headers']).join(', '),
      'Access-Control-Max-Age': String(MAX_AGE_SECONDS),
    },
    body: '',
  };
}

function allowedHeaders(requested: string | undefined): string[] {
  const names = new Set(ALLOWED_HEADERS);
  if (requested === undefined) return [...names];
  const asked = requested
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  if (asked.length <= MAX_REQUESTED_HEADERS && asked.every((name) => HEADER_NAME.test(name))) asked.forEach((name) => names.add(name));
  return [...names];
}

/**
 * Adds the CORS headers every answer carries: the request's `Origin` (or `*` without one) as
 * `Access-Control-Allow-Origin`, `Vary: Origin`, and `Retry-After` exposed to the page, which
 * analytics.js reads on a 429.
 */
export function withCorsHeaders(request: HttpRequest, response: HttpResponse): HttpResponse {
  const origin = request.headers.origin;
  response.headers = {
    ...response.headers,
    'Access-Control-Allow-Origin': origin !== undefined && ORIGIN_TEXT.test(origin) ? origin : '*',
    'Access-Control-Expose-Headers': 'Retry-After',
    Vary: 'Origin',
  };
  return response;
}

/**
 * Throws 403 when the request comes from a page whose origin the source does not allow. Requests
 * without `Origin` (servers, SDKs) and sources without a list pass.
 */
export function assertOriginAllowed(request: HttpRequest, source: SourceRecord | undefined): void {
  const origin = request.headers.origin;
  const allowed = source?.allowedOrigins;
  if (origin === undefined || allowed === undefined || isOriginAllowed(origin, allowed)) return;
  const shown = origin.length > 200 ? `${origin.slice(0, 200)}…` : origin;
  throw new ForbiddenError(
    allowed.length === 0
      ? `source "${source?.sourceId}" accepts no browser origin, so this page (origin "${shown}") may not send to it`
      : `origin "${shown}" is not allowed to send to source "${source?.sourceId}"; add it to the source's allowed origins (segment-ingest sources allow-origin ${source?.sourceId} ORIGIN)`,
  );
}
