/**
 * Segment's HTTP Tracking API, as the official SDKs and other clients speak it: `POST /v1/{type}`
 * with one event, `POST /v1/batch` and `/v1/import` with `{"batch":[...]}`. The key comes as the
 * Basic username, as a Bearer token, or as `writeKey` in the body.
 */
import { EVENT_TYPES, isEventType, type EventType } from '../spec/event-types';
import { describeJsonType } from '../spec/normalize';
import { acceptEvents, authorizeDelivery, badShape, isObject, quarantineBody, type IngestDeps } from './accept';
import { credentialsFromHeader, type Principal } from './auth';
import { NotFoundError, PayloadTooLargeError, UnauthorizedError } from './http-errors';
import { parseJson, readBody, type BodyText, type HttpRequest, type HttpResponse, type JsonParse } from './http';

/**
 * Authenticates a Tracking API request and reads its body within `limitBytes`: a Basic or Bearer
 * key in the header is checked before the body is inflated or parsed; without one, the body is
 * read and parsed once to find its `writeKey`. Returns the principal, the body and its parse.
 */
export async function authenticateTrackingRequest(
  deps: IngestDeps,
  request: HttpRequest,
  limitBytes: number,
): Promise<{ principal: Principal; body: BodyText; parsed: JsonParse }> {
  const header = credentialsFromHeader(request.headers.authorization);
  if (header.kind === 'key') {
    const principal = await deps.auth.authenticateKey(header.key, request.deadline);
    const body = readBody(request, limitBytes);
    return { principal, body, parsed: parseJson(body.text) };
  }
  if (header.problem !== undefined) throw new UnauthorizedError(header.problem);
  const body = readBody(request, limitBytes);
  const parsed = parseJson(body.text);
  const key = parsed.ok && isObject(parsed.value) ? parsed.value.writeKey : undefined;
  if (typeof key !== 'string' || key === '') {
    throw new UnauthorizedError(
      'no credentials: send the API key as the Basic auth username, as a Bearer token, or as "writeKey" in the body',
    );
  }
  return { principal: await deps.auth.authenticateKey(key, request.deadline), body, parsed };
}

/** analytics.js 2.0 posts to the first letter of the type: `/v1/t` is `/v1/track`. A Map: a path is no key of an object's prototype. */
const SHORT_TYPES: ReadonlyMap<string, EventType> = new Map(EVENT_TYPES.map((type) => [type.charAt(0), type]));

/** `POST /v1/{type}`: one event of the type the path names, in full or by its first letter. */
export async function receiveSingle(deps: IngestDeps, request: HttpRequest, name: string): Promise<HttpResponse> {
  const type = SHORT_TYPES.get(name) ?? name;
  if (!isEventType(type)) {
    throw new NotFoundError(
      `no route for POST /v1/${type}; event routes are ${EVENT_TYPES.map((t) => `/v1/${t}`).join(', ')} and /v1/batch`,
    );
  }
  const { principal, body, parsed } = await authenticateTrackingRequest(deps, request, deps.config.limits.maxEventBytes);
  const { text, problem } = body;
  const delivery = await authorizeDelivery(deps, request, principal, `/v1/${type}`);
  if (problem) return quarantineBody(deps, delivery, text, problem);
  if (!parsed.ok) return quarantineBody(deps, delivery, text, parsed.problem);
  if (!isObject(parsed.value))
    return quarantineBody(
      deps,
      delivery,
      text,
      badShape(`body must be a JSON object (one ${type} event), got ${describeJsonType(parsed.value)}`),
    );
  return acceptEvents(deps, delivery, [parsed.value], {
    single: true,
    routeType: type as EventType,
    allowedTypes: EVENT_TYPES,
    clock: 'library',
  });
}

/** `POST /v1/batch` and `/v1/import`: `{"batch":[...], "context"?, "integrations"?}`. */
export async function receiveBatch(deps: IngestDeps, request: HttpRequest, route: string): Promise<HttpResponse> {
  const { limits } = deps.config;
  const { principal, body: read, parsed } = await authenticateTrackingRequest(deps, request, limits.maxBatchBytes);
  const { text, problem } = read;
  const delivery = await authorizeDelivery(deps, request, principal, route);
  if (problem) return quarantineBody(deps, delivery, text, problem);
  if (!parsed.ok) return quarantineBody(deps, delivery, text, parsed.problem);
  const body = parsed.value;
  if (!isObject(body))
    return quarantineBody(deps, delivery, text, badShape(`body must be a JSON object with a "batch" array, got ${describeJsonType(body)}`));
  if (!Array.isArray(body.batch)) {
    return quarantineBody(
      deps,
      delivery,
      text,
      badShape(body.batch === undefined ? 'body has no "batch" array' : `"batch" must be an array, got ${describeJsonType(body.batch)}`),
    );
  }
  if (body.batch.length === 0)
    return quarantineBody(deps, delivery, text, { reason: 'empty-batch', message: '"batch" is empty; send at least one event' });
  if (body.batch.length > limits.maxBatchEvents) {
    throw new PayloadTooLargeError(`"batch" has ${body.batch.length} events; the limit is ${limits.maxBatchEvents}`);
  }
  return acceptEvents(deps, delivery, body.batch, {
    single: false,
    allowedTypes: EVENT_TYPES,
    clock: 'library',
    defaults: { context: body.context, integrations: body.integrations, sentAt: body.sentAt },
  });
}
