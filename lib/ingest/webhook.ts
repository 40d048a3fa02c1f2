/**
 * `POST|PUT|PATCH /webhook/{sourceId}`: Segment's Webhooks destination, classic and Actions, with
 * batching on (a JSON array of up to `maxWebhookEvents` events) or off (one event). The sender
 * proves itself with `X-Signature`, the lowercase hex HMAC-SHA1 of the body keyed with the
 * source's shared secret, or with an API key of that source (Basic or Bearer). A `delete` is
 * accepted only when those credentials cover it (docs/keys-and-scopes.md).
 */
import { createHmac } from 'node:crypto';
import { constantTimeEqual, credentialsFromHeader, type Principal } from './auth';
import type { SourceRecord } from '../tables/sources';
import { ForbiddenError, NotFoundError, PayloadTooLargeError, UnauthorizedError } from './http-errors';
import { decodeBody, parseJson, readBodyBytes, type HttpRequest, type HttpResponse } from './http';
import {
  acceptEvents,
  authorizeDelivery,
  badShape,
  isObject,
  keyDeletePermission,
  quarantineBody,
  type DeletePermission,
  type IngestDeps,
} from './accept';
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
 * What Segment may have signed, cheapest first, each made only when the ones before did not match:
 * the body as sent and the body after gzip (`whole`), and, for a batched array when the source
 * allows that form, its first element as `JSON.stringify` prints it (`first`: what Segment's
 * batching webhooks sign). Only that element is parsed: nobody's whole body is inflated or parsed
 * before it is authenticated.
 */
function* signedPayloads(request: HttpRequest, inflate: () => Buffer, source: SourceRecord): Generator<SignedPayload> {
  yield { payload: request.body, cover: 'whole' };
  const inflated = inflate();
  if (inflated !== request.body) yield { payload: inflated, cover: 'whole' };
  if (source.webhookBatching === false) return;
  const first = firstElementText(inflated);
  if (first !== undefined) yield { payload: first, cover: 'first' };
}

interface SignedPayload {
  payload: string | Buffer;
  cover: SignatureCover;
}

/** What a valid signature covers: the whole body, or only an array's first element. */
type SignatureCover = 'whole' | 'first';

/**
 * Checks `X-Signature` against the source's secrets; throws `UnauthorizedError` when it matches
 * nothing the source accepts. Each comparison is in constant time.
 */
function verifySignature(request: HttpRequest, signature: string, source: SourceRecord, inflate: () => Buffer): SignatureCover {
  const secrets = acceptedSecrets(source, request.receivedAtMs);
  if (secrets.length === 0) {
    throw new UnauthorizedError(
      `source "${source.sourceId}" has no webhook shared secret, so X-Signature cannot be checked; set one for the source, or authenticate with an API key`,
    );
  }
  const given = signature.trim().toLowerCase();
  if (!HEX_SHA1.test(given)) throw new UnauthorizedError('X-Signature must be the 40-character hex HMAC-SHA1 of the body');
  for (const { payload, cover } of signedPayloads(request, inflate, source)) {
    if (verifyWebhookSignature(given, secrets, [payload])) return cover;
  }
  const batching =
    source.webhookBatching === false ? ' (batching is off for this source: only a signature over the whole body counts)' : '';
  throw new UnauthorizedError(
    `X-Signature does not match the body${batching}: the shared secret in Segment's Webhooks settings differs from the one of source "${source.sourceId}"`,
  );
}

/**
 * Which deletes the credentials cover: a key that may erase, or a whole-body signature, covers
 * all; a first-element signature only that element; a key of scope `events` alone, none.
 */
function webhookDeletePermission(principal: Principal | undefined, cover: SignatureCover | undefined): DeletePermission {
  const byKey = principal ? keyDeletePermission(principal) : undefined;
  if (byKey?.allowed === 'all' || cover === 'whole') return { allowed: 'all' };
  const refusal =
    cover === 'first'
      ? 'a delete in a batched webhook is accepted only as the signed first element: X-Signature covers the first element alone, so a delete elsewhere in the array could have been added by anyone; sign the whole body (batching off) or send deletes with a key of scope "destination"'
      : (byKey?.refusal ?? 'a delete needs a webhook signature that covers it or a key of scope "destination"');
  return { allowed: cover === 'first' ? 'first' : 'none', refusal };
}

/**
 * The first element of a JSON array as `JSON.stringify` prints it, read without parsing the rest:
 * a scan to the element's end (strings and nesting followed, structural characters are ASCII in
 * UTF-8), then that slice alone parsed. `undefined` when the body does not start an array with one.
 */
export function firstElementText(bytes: Buffer): string | undefined {
  let i = skipJsonSpace(bytes, bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0);
  if (bytes[i] !== 0x5b) return undefined;
  const start = (i = skipJsonSpace(bytes, i + 1));
  let depth = 0;
  let inString = false;
  for (; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) break;
      depth--;
    } else if (depth === 0 && (c === 0x2c || isJsonSpace(c))) break;
  }
  try {
    return JSON.stringify(JSON.parse(bytes.subarray(start, i).toString('utf8')) as unknown);
  } catch {
    // Not JSON, or too deeply nested to print: Segment could not have signed it this way either.
    return undefined;
  }
}

function isJsonSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipJsonSpace(bytes: Buffer, from: number): number {
  let i = from;
  while (isJsonSpace(bytes[i])) i++;
  return i;
}

/**
 * Every credential the request presents must hold: a valid `X-Signature`, and a key of this source
 * when an Authorization header is sent too. At least one of them is required. Returns the
 * principal and which deletes the credentials cover.
 */
async function authenticateWebhook(
  deps: IngestDeps,
  request: HttpRequest,
  source: SourceRecord,
  inflate: () => Buffer,
): Promise<{ principal: Principal; deletes: DeletePermission }> {
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

  const cover = signature === undefined ? undefined : verifySignature(request, signature, source, inflate);
  const deletes = webhookDeletePermission(principal, cover);
  if (source.disabled) throw new ForbiddenError(`source "${source.sourceId}" is disabled`);
  // No key was used: the principal names the signature, which is what logs may show.
  return { principal: principal ?? { sourceId: source.sourceId, keyPrefix: 'x-signature' }, deletes };
}

/** `POST|PUT|PATCH /webhook/{sourceId}`: one event or an array of events. */
export async function receiveWebhook(deps: IngestDeps, request: HttpRequest, sourceId: string): Promise<HttpResponse> {
  const { limits } = deps.config;
  if (!SOURCE_ID.test(sourceId)) throw new NotFoundError('no such source: a source id is 1-64 letters, digits, "-" or "_"');

  // An unknown source is a 404 whoever asks: a source id is not a secret (it is in the URL Segment
  // shows), and "no such source" is what someone who mistyped the URL needs to read. It comes
  // before the body is inflated: nothing of a request nobody can be credited with is inflated.
  const source = await deps.auth.getSource(sourceId, request.deadline);
  if (!source) throw new NotFoundError(`no source "${sourceId}": check the source id in the webhook URL`);

  // Inflated once, when first needed: by a signature that does not cover the body as sent, or after authentication.
  let inflated: Buffer | undefined;
  const inflate = () => (inflated ??= readBodyBytes(request, limits.maxRequestBytes));
  const { principal, deletes } = await authenticateWebhook(deps, request, source, inflate);
  const delivery = await authorizeDelivery(deps, request, principal, WEBHOOK_ROUTE, deletes);
  const { text, problem } = decodeBody(inflate());
  const parsed = parseJson(text);

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
