/**
 * `POST /segment`: Segment's Direct (partner) destination. Segment posts one event per request,
 * of any of the seven types (including `delete`, an erasure request), with the API key of this
 * service as the Basic username and the destination's settings in `X-Segment-Settings`.
 */
import { credentialsFromHeader, type Principal } from './auth';
import { UnauthorizedError } from './http-errors';
import { parseJson, readBody, type HttpRequest, type HttpResponse } from './http';
import { acceptEvents, authorizeDelivery, badShape, isObject, quarantineBody, type IngestDeps } from './accept';
import { describeJsonType } from '../spec/normalize';
import { SPEC_TYPES } from '../spec/event-types';

export const DIRECT_ROUTE = '/segment';

export type SegmentSettings = { present: false } | { present: true; names: string[] } | { present: true; problem: string };

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Decodes `X-Segment-Settings` (base64 of a JSON object). Never throws: an unreadable header is a
 * problem to report, not a reason to refuse the event. Returns only the settings' names, because
 * nothing here uses their values and values (API keys among them) must not travel further.
 */
export function decodeSegmentSettings(header: string | undefined): SegmentSettings {
  if (header === undefined || header.trim() === '') return { present: false };
  const compact = header.replace(/\s+/g, '');
  if (!BASE64.test(compact)) return { present: true, problem: 'X-Segment-Settings is not base64; ignored' };
  let value: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64'));
    value = JSON.parse(text);
  } catch {
    return { present: true, problem: 'X-Segment-Settings is not base64-encoded UTF-8 JSON; ignored' };
  }
  if (!isObject(value))
    return { present: true, problem: `X-Segment-Settings must encode a JSON object, got ${describeJsonType(value)}; ignored` };
  return { present: true, names: Object.keys(value).sort() };
}

/**
 * The key comes from the Authorization header only (Basic as Segment sends it, or Bearer). A
 * `writeKey` in a Direct event is the Segment source's own write key, not a key of this service.
 */
async function authenticateDirect(deps: IngestDeps, request: HttpRequest): Promise<Principal> {
  const credentials = credentialsFromHeader(request.headers.authorization);
  if (credentials.kind === 'none') {
    throw new UnauthorizedError(
      credentials.problem ??
        "no credentials: set this service's API key as the destination's API key in Segment (sent as the Basic auth username)",
    );
  }
  return deps.auth.authenticateKey(credentials.key, request.deadline);
}

/** `POST /segment`: one event of any type. */
export async function receiveDirect(deps: IngestDeps, request: HttpRequest): Promise<HttpResponse> {
  // The whole request limit, not the one-event limit: an event that Segment enriched past 32 KB is
  // quarantined with its reason (and a 400), where a 413 would leave no trace of it.
  // The key first: nothing of a body nobody can be credited with is inflated (docs/limits.md).
  const principal = await authenticateDirect(deps, request);
  const { text, problem } = readBody(request, deps.config.limits.maxRequestBytes);
  const delivery = await authorizeDelivery(deps, request, principal, DIRECT_ROUTE);

  const settings = decodeSegmentSettings(request.headers['x-segment-settings']);
  const warnings: string[] = [];
  if (settings.present && 'problem' in settings) {
    warnings.push(settings.problem);
    deps.log.warn('unreadable X-Segment-Settings ignored', {
      requestId: request.requestId,
      sourceId: principal.sourceId,
      reason: settings.problem,
    });
  } else if (settings.present) {
    deps.log.debug('X-Segment-Settings received', {
      requestId: request.requestId,
      sourceId: principal.sourceId,
      settings: settings.names.slice(0, 20).map((n) => n.slice(0, 64)),
    });
  }

  if (problem) return quarantineBody(deps, delivery, text, problem);
  const parsed = parseJson(text);
  if (!parsed.ok) return quarantineBody(deps, delivery, text, parsed.problem);
  if (!isObject(parsed.value))
    return quarantineBody(
      deps,
      delivery,
      text,
      badShape(`body must be one JSON object (one event), got ${describeJsonType(parsed.value)}`),
    );
  return acceptEvents(deps, delivery, [parsed.value], { single: true, allowedTypes: SPEC_TYPES, clock: 'segment', warnings });
}
