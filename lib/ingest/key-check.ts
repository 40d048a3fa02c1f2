/**
 * `GET /v1/auth`: tells a sender which source its key belongs to, and writes nothing. Segment's
 * Actions destination (integrations/segment-actions) calls it when a customer saves the settings
 * (`testAuthentication`), so a wrong key is refused there instead of at the first event, and its
 * batches learn the source id of the `/webhook/{sourceId}` route from it.
 */
import { credentialsFromHeader } from './auth';
import type { IngestDeps } from './accept';
import { UnauthorizedError } from './http-errors';
import { jsonResponse, type HttpRequest, type HttpResponse } from './http';

export const KEY_CHECK_ROUTE = '/v1/auth';

/**
 * 200 `{"sourceId", "keyPrefix", "scope"?}` for a valid key of an enabled source; 401 for no, an
 * unknown or a revoked key; 403 for a disabled source. The key comes from the Authorization header
 * only (Basic username or Bearer), as the event routes read it.
 */
export async function answerKeyCheck(deps: Pick<IngestDeps, 'auth'>, request: HttpRequest): Promise<HttpResponse> {
  const credentials = credentialsFromHeader(request.headers.authorization);
  if (credentials.kind === 'none') {
    throw new UnauthorizedError(credentials.problem ?? 'no credentials: send the API key as the Basic auth username or as a Bearer token');
  }
  const principal = await deps.auth.authenticateKey(credentials.key, request.deadline);
  // A key's scope is given once keys have scopes; a key made before them has none and keeps every power.
  const scope = 'scope' in principal && typeof principal.scope === 'string' ? { scope: principal.scope } : {};
  return jsonResponse(200, { sourceId: principal.sourceId, keyPrefix: principal.keyPrefix, ...scope }, { 'cache-control': 'no-store' });
}
