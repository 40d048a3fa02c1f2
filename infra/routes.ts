/**
 * serverless.yml's `httpApi` events of the ingest function, built from the function's own route
 * table (lib/ingest/routes.ts `ROUTE_TABLE`), so a route exists once: each declared method of a
 * route, its `OPTIONS` preflight when it has one, and `$default` (`*`) last, which sends everything
 * else to the function too (it answers its own JSON 404 and 405). Browsers' CORS preflights are
 * answered by the function (lib/ingest/cors.ts): API Gateway's own CORS (provider.httpApi.cors)
 * must stay off, or it answers them itself without X-Retry-Count.
 */
import { ROUTE_TABLE, type RouteEntry } from '../lib/ingest/routes';

/** API Gateway route keys (`POST /segment`) of the table, `$default` aside. */
export function gatewayRouteKeys(table: readonly RouteEntry[] = ROUTE_TABLE): string[] {
  return table.flatMap((entry) => {
    const methods = entry.gatewayMethods ?? entry.methods;
    const preflight = entry.preflight && methods.length > 0 ? ['OPTIONS'] : [];
    return [...methods, ...preflight].map((method) => `${method} ${entry.path}`);
  });
}

/** The events serverless.yml gives the ingest function. */
export function ingestEvents(): Array<{ httpApi: string }> {
  return [...gatewayRouteKeys().map((key) => ({ httpApi: key })), { httpApi: '*' }];
}
