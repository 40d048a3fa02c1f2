/**
 * serverless.yml's `httpApi` events, built from the ingest code's own route table
 * (lib/ingest/routes.ts `ROUTE_TABLE`), so a route exists once: each declared method of a route,
 * its `OPTIONS` preflight when it has one, and `$default` (`*`) last, which sends everything else
 * to the `ingest` function too (it answers its own JSON 404 and 405). Browsers' CORS preflights are
 * answered by the function (lib/ingest/cors.ts): API Gateway's own CORS (provider.httpApi.cors)
 * must stay off, or it answers them itself without X-Retry-Count.
 *
 * Two functions run the same bundle (dist/ingest): `webhooks` (512 MB) takes the Webhooks route,
 * whose 5 MiB arrays need the memory, and `ingest` (256 MB) every other route and `$default`
 * (docs/operations.md, function memory). Every method of a webhooks route is declared, whatever
 * its `gatewayMethods`, so no webhook body reaches the 256 MB function through `$default`.
 */
import { ROUTE_TABLE, type RouteEntry } from '../lib/ingest/routes';

/** The receivers whose routes the `webhooks` function serves; every other route is `ingest`'s. */
export const WEBHOOKS_RECEIVERS: ReadonlySet<RouteEntry['receiver']> = new Set(['webhook']);

const servedByWebhooks = (entry: RouteEntry): boolean => WEBHOOKS_RECEIVERS.has(entry.receiver);

/** An entry's route keys: `methods` (the declared ones) and its `OPTIONS` preflight when it has one. */
function routeKeys(entry: RouteEntry, methods: readonly string[]): string[] {
  const preflight = entry.preflight && methods.length > 0 ? ['OPTIONS'] : [];
  return [...methods, ...preflight].map((method) => `${method} ${entry.path}`);
}

/**
 * API Gateway route keys (`POST /segment`) of the table, `$default` aside: an `ingest` route's
 * `gatewayMethods` (all of `methods` when absent), and all the methods of a `webhooks` route.
 */
export function gatewayRouteKeys(table: readonly RouteEntry[] = ROUTE_TABLE): string[] {
  return table.flatMap((entry) => routeKeys(entry, servedByWebhooks(entry) ? entry.methods : (entry.gatewayMethods ?? entry.methods)));
}

/** The events serverless.yml gives the `ingest` function: every route but the webhooks', and `$default`. */
export function ingestEvents(table: readonly RouteEntry[] = ROUTE_TABLE): Array<{ httpApi: string }> {
  const keys = gatewayRouteKeys(table.filter((entry) => !servedByWebhooks(entry)));
  return [...keys.map((key) => ({ httpApi: key })), { httpApi: '*' }];
}

/** The events serverless.yml gives the `webhooks` function: each method and the preflight of the Webhooks route. */
export function webhookEvents(table: readonly RouteEntry[] = ROUTE_TABLE): Array<{ httpApi: string }> {
  return gatewayRouteKeys(table.filter(servedByWebhooks)).map((key) => ({ httpApi: key }));
}
