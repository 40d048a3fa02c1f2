/**
 * The route table of the ingest function: every way Segment delivers (the Tracking API, the Direct
 * destination, the Webhooks destination), each with its CORS preflight, the health check
 * (`?deep=1`: health.ts) and the key check (`GET /v1/auth`: key-check.ts). The router is built from
 * it here, and serverless.yml's `httpApi` events from the same table (infra/routes.ts), so a route
 * is added in one place.
 */
import type { IngestDeps } from './accept';
import { preflightRoute } from './cors';
import { DIRECT_ROUTE, receiveDirect } from './direct';
import { answerHealth } from './health';
import type { HttpRequest, HttpResponse } from './http';
import { answerKeyCheck, KEY_CHECK_ROUTE } from './key-check';
import { createRouter, type Route, type RouteHandler } from './router';
import { receiveBatch, receiveSingle } from './tracking-api';
import { receiveWebhook, WEBHOOK_METHODS, WEBHOOK_ROUTE } from './webhook';

/** What answers a route; `ingestRoutes` binds each to the function's dependencies. */
type Receiver = 'health' | 'keyCheck' | 'batch' | 'import' | 'analyticsBatch' | 'single' | 'direct' | 'webhook';

export interface RouteEntry {
  /** Path pattern; `{name}` matches one non-empty segment (router.ts, and API Gateway's route keys). */
  path: string;
  methods: readonly string[];
  receiver: Receiver;
  /** Answers browsers' CORS preflights: an `OPTIONS` twin of the route (cors.ts). */
  preflight: boolean;
  /**
   * The methods API Gateway declares a route of its own for (its access log and metrics name the
   * route key); all of `methods` when absent. Any other request reaches the function through the
   * `$default` route, or through a declared route whose pattern it matches (`POST /v1/b` is API
   * Gateway's `POST /v1/{type}`).
   */
  gatewayMethods?: readonly string[];
}

/** In matching order: a fixed path before the pattern that would take it (`/v1/auth` before `/v1/{type}`). */
export const ROUTE_TABLE: readonly RouteEntry[] = [
  // HEAD rides on `$default`.
  { path: '/health', methods: ['GET', 'HEAD'], receiver: 'health', preflight: false, gatewayMethods: ['GET'] },
  // Which source a key sends for, writing nothing (key-check.ts); through `$default` in API Gateway.
  { path: KEY_CHECK_ROUTE, methods: ['GET'], receiver: 'keyCheck', preflight: true, gatewayMethods: [] },
  { path: '/v1/batch', methods: ['POST'], receiver: 'batch', preflight: true },
  { path: '/v1/import', methods: ['POST'], receiver: 'import', preflight: true },
  // analytics.js 2.0 in batching mode: `{"batch":[...], "writeKey", "sentAt"}`.
  { path: '/v1/b', methods: ['POST'], receiver: 'analyticsBatch', preflight: true, gatewayMethods: [] },
  // The six types by name, or by analytics.js's short form (`/v1/t`); the function answers 404 for any other type.
  { path: '/v1/{type}', methods: ['POST'], receiver: 'single', preflight: true },
  { path: DIRECT_ROUTE, methods: ['POST'], receiver: 'direct', preflight: true },
  { path: `${WEBHOOK_ROUTE}/{sourceId}`, methods: WEBHOOK_METHODS, receiver: 'webhook', preflight: true },
];

function receivers(deps: IngestDeps): Record<Receiver, RouteHandler> {
  return {
    health: (request) => answerHealth(request, deps.health),
    keyCheck: (request) => answerKeyCheck(deps, request),
    batch: (request) => receiveBatch(deps, request, '/v1/batch'),
    import: (request) => receiveBatch(deps, request, '/v1/import'),
    analyticsBatch: (request) => receiveBatch(deps, request, '/v1/batch'),
    single: (request, params) => receiveSingle(deps, request, params.type ?? ''),
    direct: (request) => receiveDirect(deps, request),
    webhook: (request, params) => receiveWebhook(deps, request, params.sourceId ?? ''),
  };
}

export function ingestRoutes(deps: IngestDeps): Route[] {
  const handlers = receivers(deps);
  const routes = ROUTE_TABLE.map((entry) => ({
    entry,
    route: { path: entry.path, methods: entry.methods, handler: handlers[entry.receiver] },
  }));
  // Every event route answers its browsers' preflight (cors.ts).
  return [...routes.map(({ route }) => route), ...routes.filter(({ entry }) => entry.preflight).map(({ route }) => preflightRoute(route))];
}

/** The ingest function's request handling: route, then the route's handler. Throws our errors for refusals. */
export function createIngest(deps: IngestDeps): (request: HttpRequest) => Promise<HttpResponse> {
  return createRouter(ingestRoutes(deps));
}
