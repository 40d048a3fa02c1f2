/**
 * HTTP plumbing shared by every route: the request as the handlers see it, reading a body within
 * the limits (charset, gzip, size), and the one mapping from errors to answers.
 */
import { gunzipSync } from 'node:zlib';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DependencyError } from '../shared/errors';
import type { Problem } from '../shared/reasons';
import { DeadlineError } from '../shared/retry';
import { PayloadTooLargeError, ServiceError, UnsupportedMediaTypeError, BadRequestError } from './http-errors';

export interface HttpRequest {
  method: string;
  path: string;
  /** Query string parameters (repeated names joined by commas, as API Gateway does); absent when there are none. */
  query?: Readonly<Record<string, string | undefined>>;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** The body's bytes (for signatures, gzip). Built on first use: a JSON request never needs them. */
  readonly body: Buffer;
  /** The body as API Gateway delivered it when it came as text (not base64); `readBody` reads it directly. */
  text?: string;
  requestId: string;
  /** The address API Gateway saw the request come from: an event's `context.ip` when the sender sent none. */
  sourceIp?: string;
  receivedAtMs: number;
  /**
   * Epoch ms by which the answer must be on its way: the request budget from receipt, cut to the
   * invocation's remaining time. Every call to DynamoDB and SQS for this request ends by then.
   */
  deadline: number;
}

export type HttpResponse = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

/** Translates an API Gateway HTTP API (payload 2.0) event into our request. */
export function requestFromApiGateway(event: APIGatewayProxyEventV2, receivedAtMs: number, deadline: number): HttpRequest {
  const headers: Record<string, string> = {};
  const source = event.headers ?? {};
  for (const name in source) {
    const value = source[name];
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  const raw = event.body ?? '';
  const base64 = event.isBase64Encoded;
  let bytes: Buffer | undefined;
  return {
    method: event.requestContext.http.method.toUpperCase(),
    path: event.rawPath,
    query: event.queryStringParameters,
    headers,
    get body() {
      return (bytes ??= base64 ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8'));
    },
    text: base64 ? undefined : raw,
    requestId: event.requestContext.requestId,
    sourceIp: event.requestContext.http.sourceIp || undefined,
    receivedAtMs,
    deadline,
  };
}

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** How long a sender should wait before retrying after a 503 of ours. */
const RETRY_AFTER_SECONDS = '5';

/**
 * The one place errors become answers. Our errors keep their status and message. A dependency we
 * could not reach (or that refused us), a deadline, and anything unexpected become a 503 with
 * `Retry-After`: nothing of the request was accepted, and the sender's retry is safe. Never a 500,
 * and never the error's own text.
 */
export function errorResponse(error: unknown): HttpResponse {
  if (error instanceof ServiceError) {
    return jsonResponse(error.status, { message: error.message, ...error.details }, error.headers);
  }
  const message =
    error instanceof DependencyError || error instanceof DeadlineError
      ? `${error instanceof DependencyError ? error.service : 'a dependency'} did not answer in time or refused the request; nothing was accepted, retry it`
      : 'internal error; nothing was accepted, retry it';
  return jsonResponse(503, { message }, { 'Retry-After': RETRY_AFTER_SECONDS });
}

const READABLE_CHARSETS = /^(utf-?8|us-ascii|ascii)$/i;

/**
 * Throws 415 for a charset we cannot read. The media type itself is not checked: every body is
 * read as JSON, whatever it is labelled (`text/plain` from browsers, none, or a client library's
 * wrong default such as axios' `application/x-www-form-urlencoded` on RudderStack's gzip bodies);
 * one that is not JSON gets the parser's 400.
 */
function checkContentType(request: HttpRequest): void {
  const contentType = request.headers['content-type'];
  if (!contentType || contentType === 'application/json' || !contentType.includes(';')) return;
  const charset = contentType
    .split(';')
    .slice(1)
    .map((part) => part.trim())
    .find((p) => /^charset=/i.test(p))
    ?.slice(8)
    .replace(/"/g, '');
  if (charset && !READABLE_CHARSETS.test(charset)) {
    throw new UnsupportedMediaTypeError(`charset "${charset}" is not supported; send UTF-8`);
  }
}

function contentEncoding(request: HttpRequest): string {
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  return encoding === '' ? 'identity' : encoding;
}

/**
 * Checks the charset and encoding, the size before and after decompression, and decodes UTF-8.
 * `limitBytes` is the route's limit; it applies to the body as sent and as inflated.
 */
export function readBody(request: HttpRequest, limitBytes: number): BodyText {
  if (request.text !== undefined && contentEncoding(request) === 'identity') {
    checkContentType(request);
    return { text: readText(request.text, limitBytes) };
  }
  return decodeBody(readBodyBytes(request, limitBytes));
}

/**
 * A body as text. `problem` is set when the bytes were not UTF-8: `text` is then their lossy
 * decoding (U+FFFD for what is not UTF-8), which the route quarantines once it knows the sender.
 */
export interface BodyText {
  text: string;
  problem?: Problem;
}

/**
 * `readBody` without the UTF-8 decoding: the body's bytes after gzip, for routes that must check
 * a signature over exactly what was sent. Throws 413, 415 or 400 like `readBody`.
 */
export function readBodyBytes(request: HttpRequest, limitBytes: number): Buffer {
  checkContentType(request);
  if (request.body.length > limitBytes) {
    throw new PayloadTooLargeError(`request body is ${request.body.length} bytes; the limit for this route is ${limitBytes}`);
  }
  const encoding = contentEncoding(request);
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    try {
      // maxOutputLength stops a zip bomb before it is inflated in memory.
      return gunzipSync(request.body, { maxOutputLength: limitBytes });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
        throw new PayloadTooLargeError(`request body inflates to more than ${limitBytes} bytes, the limit for this route`);
      }
      throw new BadRequestError('Content-Encoding is gzip but the body is not valid gzip data', 'unreadable-body');
    }
  }
  if (encoding !== 'identity') {
    throw new UnsupportedMediaTypeError(`Content-Encoding "${encoding}" is not supported; send gzip or no encoding`);
  }
  return request.body;
}

/** `fatal`: invalid UTF-8 is an error, not replacement characters. Reusable: `decode` keeps no state between calls. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const LOSSY_UTF8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

/** Decodes UTF-8 strictly (a leading BOM is dropped); bytes that are not UTF-8 give a problem and their lossy text. */
export function decodeBody(body: Buffer): BodyText {
  try {
    return { text: UTF8.decode(body) };
  } catch {
    return { text: LOSSY_UTF8.decode(body), problem: { reason: 'unreadable-body', message: 'body is not valid UTF-8' } };
  }
}

/**
 * A text body as `readBody` would return it after a round trip through UTF-8 bytes, without making
 * the bytes: the size counted in UTF-8, lone surrogates replaced by U+FFFD, a byte order mark dropped.
 */
function readText(text: string, limitBytes: number): string {
  // n UTF-16 units are at most 3n UTF-8 bytes: count exactly only near the limit.
  if (text.length * 3 > limitBytes) {
    const bytes = Buffer.byteLength(text);
    if (bytes > limitBytes) throw new PayloadTooLargeError(`request body is ${bytes} bytes; the limit for this route is ${limitBytes}`);
  }
  const es2024 = text as unknown as WellFormedString;
  const wellFormed = es2024.isWellFormed() ? text : es2024.toWellFormed();
  return wellFormed.charCodeAt(0) === 0xfeff ? wellFormed.slice(1) : wellFormed;
}

/** ES2024 string methods (Node 20 has them; the project's TypeScript lib is ES2023). */
interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

export type JsonParse = { ok: true; value: unknown } | { ok: false; problem: Problem };

/** Parses JSON without throwing, keeping the parser's description of what is wrong. */
export function parseJson(text: string): JsonParse {
  if (text.trim() === '') return { ok: false, problem: { reason: 'unreadable-body', message: 'body is empty; send a JSON object' } };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    // V8 quotes part of the body in its message (', "not json" is not valid JSON', or with "..."
    // around a cut); the problem is logged and stored as a reason, and bodies never reach the logs.
    const reason = (error as Error).message.replace(/,? (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '');
    return { ok: false, problem: { reason: 'unreadable-body', message: `body is not valid JSON: ${reason}` } };
  }
}
