/**
 * The route table of the ingest function: every way Segment delivers (the Tracking API, the Direct
 * destination, the Webhooks destination), each with its CORS preflight, the health check
 * (`?deep=1`: health.ts) and the key check (`GET /v1/auth`: key-check.ts).
 */
import type { IngestDeps } from './accept';
import { preflightRoute } from './cors';
import { DIRECT_ROUTE, receiveDirect } from './direct';
import { answerHealth } from './health';
import type { HttpRequest, HttpResponse } from './http';
import { answerKeyCheck, KEY_CHECK_ROUTE } from './key-check';
import { createRouter, type Route } from './router';
import { receiveBatch, receiveSingle } from './tracking-api';
import { receiveWebhook, WEBHOOK_METHODS, WEBHOOK_ROUTE } from './webhook';

export function ingestRoutes(deps: IngestDeps): Route[] {
  const routes: Route[] = [
    { path: '/health', methods: ['GET', 'HEAD'], handler: (request) => answerHealth(request, deps.health) },
    // Which source a key sends for, writing nothing (key-check.ts); before `/v1/{type}`, which would take it for a type.
    { path: KEY_CHECK_ROUTE, methods: ['GET'], handler: (request) => answerKeyCheck(deps, request) },
    { path: '/v1/batch', methods: ['POST'], handler: (request) => receiveBatch(deps, request, '/v1/batch') },
    { path: '/v1/import', methods: ['POST'], handler: (request) => receiveBatch(deps, request, '/v1/import') },
    // analytics.js 2.0 in batching mode: `{"batch":[...], "writeKey", "sentAt"}`.
    { path: '/v1/b', methods: ['POST'], handler: (request) => receiveBatch(deps, request, '/v1/batch') },
    // The six types by name, or by analytics.js's short form (`/v1/t`).
    { path: '/v1/{type}', methods: ['POST'], handler: (request, params) => receiveSingle(deps, request, params.type ?? '') },
    { path: DIRECT_ROUTE, methods: ['POST'], handler: (request) => receiveDirect(deps, request) },
    {
      path: `${WEBHOOK_ROUTE}/{sourceId}`,
      methods: WEBHOOK_METHODS,
      handler: (request, params) => receiveWebhook(deps, request, params.sourceId ?? ''),
    },
  ];
  // Every event route answers its browsers' preflight (cors.ts).
  return [...routes, ...routes.filter((route) => route.path !== '/health').map(preflightRoute)];
}

/** The ingest function's request handling: route, then the route's handler. Throws our errors for refusals. */
export function createIngest(deps: IngestDeps): (request: HttpRequest) => Promise<HttpResponse> {
  return createRouter(ingestRoutes(deps));
}
