/**
 * `POST|PUT|PATCH /webhook/{sourceId}`: Segment's Webhooks destination, classic and Actions, with
 * batching on (a JSON array of up to `maxWebhookEvents` events) or off (one event). The sender
 * proves itself with `X-Signature`, the lowercase hex HMAC-SHA1 of the body keyed with the
 * source's shared secret, or with an API key of that source (Basic or Bearer).
 */
import { createHmac } from 'node:crypto';
import { constantTimeEqual, credentialsFromHeader, type Principal } from './auth';
import type { SourceRecord } from '../shared/source-records';
import { ForbiddenError, NotFoundError, PayloadTooLargeError, UnauthorizedError } from './http-errors';
import { decodeBody, parseJson, readBodyBytes, type HttpRequest, type HttpResponse, type JsonParse } from './http';
import { acceptEvents, authorizeDelivery, badShape, isObject, quarantineBody, type IngestDeps } from './accept';
import { describeJsonType } from '../spec/normalize';
import { SPEC_TYPES } from '../spec/event-types';

export const WEBHOOK_ROUTE = '/webhook';
export const WEBHOOK_METHODS = ['POST', 'PUT', 'PATCH'] as const;

const SOURCE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const HEX_SHA1 = /^[0-9a-f]{40}$/;

/** The signature Segment puts in `X-Signature` for `payload` (UTF-8 text or raw bytes). */
export function signWebhookPayload(secret: string, payload: string | Buffer): string {
  return createHmac('sha1', secret).update(payload).digest('hex');
}

/**
 * True when `signature` is the HMAC of one of `payloads` under one of `secrets`. Every pair is
 * computed and compared in constant time, so the time taken says nothing about which part matched
 * or how much of the signature was right.
 */
export function verifyWebhookSignature(signature: string, secrets: readonly string[], payloads: ReadonlyArray<string | Buffer>): boolean {
  let matched = false;
  for (const secret of secrets) {
    for (const payload of payloads) {
      const equal = constantTimeEqual(signWebhookPayload(secret, payload), signature);
      matched = equal || matched;
    }
  }
  return matched;
}

/** The current secret, and the previous one while its grace period lasts. */
export function acceptedSecrets(source: SourceRecord, atMs: number): string[] {
  const secrets: string[] = [];
  if (source.webhookSecret) secrets.push(source.webhookSecret);
  const until = source.previousWebhookSecretExpiresAt ? Date.parse(source.previousWebhookSecretExpiresAt) : NaN;
  if (source.previousWebhookSecret && until > atMs) secrets.push(source.previousWebhookSecret);
  return secrets;
}

/**
 * What Segment may have signed: the body as sent, the body after gzip, and, for a batched array,
 * its first element as `JSON.stringify` prints it (what Segment's batching webhooks sign).
 */
function signedPayloads(request: HttpRequest, inflated: Buffer, parsed: JsonParse): Array<string | Buffer> {
  const payloads: Array<string | Buffer> = [request.body];
  if (inflated !== request.body) payloads.push(inflated);
  if (parsed.ok && Array.isArray(parsed.value) && parsed.value.length > 0) {
    try {
      const first = JSON.stringify(parsed.value[0]);
      if (first !== undefined) payloads.push(first);
    } catch {
      // Too deeply nested to print: Segment could not have signed it this way either.
    }
  }
  return payloads;
}

/**
 * Every credential the request presents must hold: a valid `X-Signature`, and a key of this source
 * when an Authorization header is sent too. At least one of them is required.
 */
async function authenticateWebhook(
  deps: IngestDeps,
  request: HttpRequest,
  source: SourceRecord,
  inflated: Buffer,
  parsed: JsonParse,
): Promise<Principal> {
  const signature = request.headers['x-signature'];
  const authorization = request.headers.authorization;
  if (signature === undefined && !authorization) {
    throw new UnauthorizedError(
      "no credentials: set the shared secret of this source in Segment's Webhooks settings (sent as X-Signature), or send an API key of this source as the Basic auth username",
    );
  }

  let principal: Principal | undefined;
  if (authorization) {
    const credentials = credentialsFromHeader(authorization);
    if (credentials.kind === 'none') throw new UnauthorizedError(credentials.problem ?? 'the Authorization header holds no API key');
    principal = await deps.auth.authenticateKey(credentials.key, request.deadline);
    if (principal.sourceId !== source.sourceId) {
      throw new ForbiddenError(
        `this API key belongs to a different source; use a key of source "${source.sourceId}" or its webhook shared secret`,
      );
    }
  }

  if (signature !== undefined) {
    const secrets = acceptedSecrets(source, request.receivedAtMs);
    if (secrets.length === 0) {
      throw new UnauthorizedError(
        `source "${source.sourceId}" has no webhook shared secret, so X-Signature cannot be checked; set one for the source, or authenticate with an API key`,
      );
    }
    const given = signature.trim().toLowerCase();
    if (!HEX_SHA1.test(given)) throw new UnauthorizedError('X-Signature must be the 40-character hex HMAC-SHA1 of the body');
    if (!verifyWebhookSignature(given, secrets, signedPayloads(request, inflated, parsed))) {
      throw new UnauthorizedError(
        `X-Signature does not match the body: the shared secret in Segment's Webhooks settings differs from the one of source "${source.sourceId}"`,
      );
    }
    // No key was used: the principal names the signature, which is what logs may show.
    principal ??= { sourceId: source.sourceId, keyPrefix: 'x-signature' };
  }

  if (source.disabled) throw new ForbiddenError(`source "${source.sourceId}" is disabled`);
  // Unreachable without a principal: one of the two branches above set it or threw.
  if (!principal) throw new UnauthorizedError('no credentials');
  return principal;
}

/** `POST|PUT|PATCH /webhook/{sourceId}`: one event or an array of events. */
export async function receiveWebhook(deps: IngestDeps, request: HttpRequest, sourceId: string): Promise<HttpResponse> {
  const { limits } = deps.config;
  if (!SOURCE_ID.test(sourceId)) throw new NotFoundError('no such source: a source id is 1-64 letters, digits, "-" or "_"');
  const inflated = readBodyBytes(request, limits.maxRequestBytes);
  const { text, problem } = decodeBody(inflated);

  // An unknown source is a 404 whoever asks: a source id is not a secret (it is in the URL Segment
  // shows), and "no such source" is what someone who mistyped the URL needs to read.
  const source = await deps.auth.getSource(sourceId, request.deadline);
  if (!source) throw new NotFoundError(`no source "${sourceId}": check the source id in the webhook URL`);

  const parsed = parseJson(text);
  const principal = await authenticateWebhook(deps, request, source, inflated, parsed);
  const delivery = await authorizeDelivery(deps, request, principal, WEBHOOK_ROUTE);

  if (problem) return quarantineBody(deps, delivery, text, problem);
  if (!parsed.ok) return quarantineBody(deps, delivery, text, parsed.problem);
  const body = parsed.value;
  if (Array.isArray(body)) {
    if (body.length === 0)
      return quarantineBody(deps, delivery, text, { reason: 'empty-batch', message: 'the array is empty; send at least one event' });
    if (body.length > limits.maxWebhookEvents) {
      throw new PayloadTooLargeError(
        `the array has ${body.length} events; the limit is ${limits.maxWebhookEvents} (set Segment's batch size at or below it)`,
      );
    }
    return acceptEvents(deps, delivery, body, { single: false, allowedTypes: SPEC_TYPES, clock: 'segment' });
  }
  if (!isObject(body))
    return quarantineBody(
      deps,
      delivery,
      text,
      badShape(`body must be one event object or an array of events, got ${describeJsonType(body)}`),
    );
  return acceptEvents(deps, delivery, [body], { single: true, allowedTypes: SPEC_TYPES, clock: 'segment' });
}
