/**
 * Serves a Lambda handler over plain HTTP the way API Gateway HTTP API (payload 2.0) would: each
 * request becomes an `APIGatewayProxyEventV2`, the handler's result becomes the response.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { LAMBDA_PAYLOAD_BYTES } from '../lib/shared/config';

export type HttpApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** API Gateway's own limit on a request body (HTTP APIs: 10 MB). */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * The size of the invocation Lambda would be handed for `event`: the event as JSON, with the body
 * JSON-escaped or base64-encoded. Over `LAMBDA_PAYLOAD_BYTES`, AWS refuses the request before the
 * function runs, so the local adapter does too.
 */
export function lambdaPayloadBytes(event: APIGatewayProxyEventV2): number {
  // Escaping makes a text body at most 6 times larger (\u00XX), base64 4/3: measure only near the limit.
  if ((event.body?.length ?? 0) * 6 + 64 * 1024 < LAMBDA_PAYLOAD_BYTES) return 0;
  return Buffer.byteLength(JSON.stringify(event));
}

const TEXT_TYPES = /^(text\/|application\/(json|[\w.+-]*\+json|xml|javascript|x-www-form-urlencoded))/i;

export function toHttpApiEvent(request: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  // Like API Gateway: text bodies arrive as text, anything else (gzip, binary) base64-encoded.
  const isText = !headers['content-encoding'] && (!headers['content-type'] || TEXT_TYPES.test(headers['content-type']));
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body: body.length === 0 ? undefined : isText ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !isText,
  };
}

/**
 * Requests Node cannot parse (a bad Content-Length, CR or LF inside a header, headers over 16 KB)
 * never reach the handler; API Gateway answers those itself, with JSON. So does this.
 */
function answerMalformed(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) return void socket.destroy();
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  const body = JSON.stringify({ message: tooLarge ? 'request headers are too large' : 'malformed HTTP request' });
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

export interface ApiServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** The request's path for the request lines: never its query string, which may hold a key (`?writeKey=`). */
function pathOnly(url: string | undefined): string {
  const path = url ?? '/';
  const query = path.indexOf('?');
  return query === -1 ? path : `${path.slice(0, query)}?…`;
}

export async function startApiServer(handler: HttpApiHandler, port: number, onResponse?: (line: string) => void): Promise<ApiServer> {
  const server = createServer((request, response) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => {
      // API Gateway's answers for requests it cannot hand to the function.
      const refuse = (message: string) => {
        response.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify({ message }));
        onResponse?.(`${request.method} ${pathOnly(request.url)} 413 ${Date.now() - started}ms`);
      };
      if (size > MAX_BODY_BYTES) return refuse('Request Entity Too Large');
      const event = toHttpApiEvent(request, Buffer.concat(chunks));
      const payloadBytes = lambdaPayloadBytes(event);
      if (payloadBytes > LAMBDA_PAYLOAD_BYTES) {
        return refuse(
          `Request Too Long: the request reaches Lambda as a ${payloadBytes}-byte event, over Lambda's ${LAMBDA_PAYLOAD_BYTES}-byte limit`,
        );
      }
      handler(event)
        .then((result) => {
          const status = result.statusCode ?? 200;
          const headers = Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k, String(v)]));
          response.writeHead(status, headers).end(result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : (result.body ?? ''));
          onResponse?.(`${request.method} ${pathOnly(request.url)} ${status} ${Date.now() - started}ms`);
        })
        .catch(() => {
          // API Gateway answers this way when the function itself crashes.
          response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Internal Server Error' }));
        });
    });
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => answerMalformed(error, socket));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${actualPort}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
