/**
 * infra/routes.ts: serverless.yml's `httpApi` events are the ingest code's own route table
 * (lib/ingest/routes.ts), so every route API Gateway declares is one the function's router answers
 * with that method, and what API Gateway does not declare still reaches the router through `$default`.
 * The Webhooks route goes to the `webhooks` function (512 MB), every other route and `$default` to
 * `ingest` (256 MB).
 */
import { gatewayRouteKeys, ingestEvents, webhookEvents } from '../../../infra/routes';
import type { IngestDeps } from '../../../lib/ingest/accept';
import { jsonResponse, requestFromApiGateway } from '../../../lib/ingest/http';
import { createRouter } from '../../../lib/ingest/router';
import { ingestRoutes, ROUTE_TABLE } from '../../../lib/ingest/routes';
import { WEBHOOK_METHODS, WEBHOOK_ROUTE } from '../../../lib/ingest/webhook';
import { httpApiEvent } from '../../support/events';

/** The function's router with every handler replaced by one that names its route: dispatch only, no dependency is touched. */
const router = createRouter(
  // The handlers are never called: each is swapped for one answering with its path and methods.
  ingestRoutes({} as IngestDeps).map((route) => ({
    ...route,
    handler: async () => jsonResponse(200, { path: route.path, methods: route.methods }),
  })),
);

async function dispatch(method: string, path: string): Promise<{ path: string; methods: string[] }> {
  const response = await router(requestFromApiGateway(httpApiEvent({ method, path }), 0, 60_000));
  return JSON.parse(response.body) as { path: string; methods: string[] };
}

describe('the ingest function routes in API Gateway', () => {
  it('declares, for each route key, a route the router answers with that method', async () => {
    // Prepare
    const keys = gatewayRouteKeys();

    // Act
    const answered = await Promise.all(
      keys.map(async (key) => {
        const [method = '', pattern = ''] = key.split(' ');
        return { key, route: await dispatch(method, pattern.replace('{type}', 'track').replace(/\{\w+\}/g, 'x')) };
      }),
    );

    // Assess
    expect(keys.length).toBeGreaterThan(10);
    for (const { key, route } of answered) {
      const [method = '', pattern = ''] = key.split(' ');
      expect({ key, path: route.path, answers: route.methods.includes(method) }).toEqual({ key, path: pattern, answers: true });
    }
  });

  it('sends what it does not declare to the ingest function through $default, last', () => {
    // Act
    const events = ingestEvents().map((event) => event.httpApi);

    // Assess
    expect(events.at(-1)).toBe('*');
    expect(events).not.toContain('GET /v1/auth');
    expect(webhookEvents().map((event) => event.httpApi)).not.toContain('*');
  });

  it('sends every method of the Webhooks route and its preflight to the webhooks function, and every other route to ingest', () => {
    // Prepare
    const webhookPath = `${WEBHOOK_ROUTE}/{sourceId}`;

    // Act
    const toWebhooks = webhookEvents().map((event) => event.httpApi);
    const toIngest = ingestEvents()
      .map((event) => event.httpApi)
      .filter((key) => key !== '*');

    // Assess
    expect([...toWebhooks].sort()).toEqual([...WEBHOOK_METHODS, 'OPTIONS'].map((method) => `${method} ${webhookPath}`).sort());
    expect(WEBHOOK_METHODS).toEqual(expect.arrayContaining(['POST', 'PUT', 'PATCH']));
    expect(toIngest.filter((key) => key.endsWith(` ${webhookPath}`))).toEqual([]);
    expect(toIngest).toEqual(expect.arrayContaining(['POST /segment', 'POST /v1/batch', 'POST /v1/{type}', 'GET /health']));
    // Each declared route key goes to exactly one of the two functions.
    expect([...toIngest, ...toWebhooks].sort()).toEqual([...gatewayRouteKeys(ROUTE_TABLE)].sort());
  });

  it("declares every method of a webhooks route even when its entry's gatewayMethods leave some to $default", () => {
    // Prepare: a table whose Webhooks route declares only POST, and an ingest route that does the same.
    const table = [
      { path: '/w/{id}', methods: ['POST', 'PUT', 'PATCH'], receiver: 'webhook' as const, preflight: true, gatewayMethods: ['POST'] },
      { path: '/h', methods: ['GET', 'HEAD'], receiver: 'health' as const, preflight: false, gatewayMethods: ['GET'] },
    ];

    // Act
    const toWebhooks = webhookEvents(table).map((event) => event.httpApi);
    const toIngest = ingestEvents(table).map((event) => event.httpApi);

    // Assess
    expect(toWebhooks).toEqual(['POST /w/{id}', 'PUT /w/{id}', 'PATCH /w/{id}', 'OPTIONS /w/{id}']);
    expect(toIngest).toEqual(['GET /h', '*']);
  });

  it('answers a route API Gateway does not declare once $default delivers it', async () => {
    await expect(dispatch('GET', '/v1/auth')).resolves.toEqual({ path: '/v1/auth', methods: ['GET'] });
    await expect(dispatch('POST', '/v1/b')).resolves.toEqual({ path: '/v1/b', methods: ['POST'] });
    await expect(dispatch('HEAD', '/health')).resolves.toEqual({ path: '/health', methods: ['GET', 'HEAD'] });
  });

  it('declares a preflight only beside a route that has one', () => {
    const keys = gatewayRouteKeys([
      { path: '/a', methods: ['POST'], receiver: 'direct', preflight: true },
      { path: '/b', methods: ['GET', 'HEAD'], receiver: 'health', preflight: false, gatewayMethods: ['GET'] },
      { path: '/c', methods: ['GET'], receiver: 'keyCheck', preflight: true, gatewayMethods: [] },
    ]);
    expect(keys).toEqual(['POST /a', 'OPTIONS /a', 'GET /b']);
  });
});
