/**
 * The destination's settings, what every request of it shares: the stage's URL and a key of this
 * service, sent as the Basic auth username (the password is empty), as every route reads it.
 */
import type { ModifiedResponse, RequestClient } from '@segment/actions-core';
import { IntegrationError, InvalidAuthenticationError } from '@segment/actions-core';

export interface Settings {
  /** The stage's URL (its stack's `HttpApiUrl` output, the `endpoint` line of `segment-ingest status`), e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com`. */
  endpoint: string;
  /** A destination-scoped key of this service (`segment-ingest keys create --source <id> --scope destination`). */
  apiKey: string;
}

/** What `GET /v1/auth` answers for a valid key. */
export interface KeyCheck {
  sourceId: string;
  keyPrefix: string;
  /** Absent for a key made before keys had scopes (it keeps every power). */
  scope?: string;
}

/** `path` on the stage, whether or not the endpoint was pasted with a trailing slash or a base path. */
export function routeUrl(endpoint: string, path: string): string {
  return `${endpoint.replace(/\/+$/, '')}${path}`;
}

/** The `message` of one of the service's JSON answers, else what the answer was. */
export function answerMessage(status: number, body: unknown): string {
  const message = typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : undefined;
  return typeof message === 'string' && message !== '' ? message : `HTTP ${status}`;
}

/**
 * Returns an answer of 200; throws for any other, with the service's message (which names the
 * problem) instead of the status text, and its status, which decides whether Segment retries.
 */
export function expectAccepted<T>(response: ModifiedResponse<T>): ModifiedResponse<T> {
  if (response.status === 200) return response;
  throw new IntegrationError(answerMessage(response.status, response.data), `HTTP_${response.status}`, response.status);
}

/**
 * Asks the service which source the key sends for (`GET /v1/auth`, which writes nothing). Throws
 * `InvalidAuthenticationError` with the service's own words for a refused key (401, 403), and
 * for any other failure what `expectAccepted` throws, so a stage that is down is retried, not
 * taken for a bad key.
 */
export async function checkKey(request: RequestClient, settings: Settings): Promise<KeyCheck> {
  const response = await request<KeyCheck>(routeUrl(settings.endpoint, '/v1/auth'), { method: 'GET', throwHttpErrors: false });
  if (response.status === 401 || response.status === 403) {
    throw new InvalidAuthenticationError(`the API key was refused: ${answerMessage(response.status, response.data)}`);
  }
  const { data } = expectAccepted(response);
  if (typeof data?.sourceId !== 'string') {
    throw new IntegrationError(
      `${settings.endpoint}/v1/auth answered without a source id: is it a segment-ingest stage?`,
      'UNEXPECTED_ANSWER',
      502,
    );
  }
  return data;
}

/**
 * Source ids by endpoint and key, so a batch costs one request: a key never moves to another
 * source, and a revoked one is refused by the batch's own request. Bounded, oldest out first.
 */
const knownSources = new Map<string, string>();
const KNOWN_SOURCES_LIMIT = 100;

/** The source id of the settings' key, asked once per endpoint and key. */
export async function sourceIdOf(request: RequestClient, settings: Settings): Promise<string> {
  const cacheKey = `${settings.endpoint}\n${settings.apiKey}`;
  const known = knownSources.get(cacheKey);
  if (known !== undefined) return known;
  const { sourceId } = await checkKey(request, settings);
  if (knownSources.size >= KNOWN_SOURCES_LIMIT) knownSources.delete(knownSources.keys().next().value ?? '');
  knownSources.set(cacheKey, sourceId);
  return sourceId;
}

/**
 * What `testAuthentication` checks when a customer saves the settings: the stage answers its deep
 * health check (it can queue and read keys), and the key is valid and may send `delete`.
 */
export async function testSettings(request: RequestClient, settings: Settings): Promise<void> {
  const health = await request(routeUrl(settings.endpoint, '/health?deep=1'), { method: 'GET', throwHttpErrors: false });
  if (health.status !== 200) {
    throw new InvalidAuthenticationError(`${settings.endpoint} is not healthy: ${answerMessage(health.status, health.data)}`);
  }
  const key = await checkKey(request, settings);
  if (key.scope === 'events') {
    throw new InvalidAuthenticationError(
      `key ${key.keyPrefix}… may send events but not deletions; create a destination key: segment-ingest keys create --source ${key.sourceId} --scope destination`,
    );
  }
}
