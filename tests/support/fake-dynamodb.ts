/**
 * A DynamoDB HTTP layer in process for unit tests: the real DynamoDB and document clients over it,
 * every request kept as sent on the wire, and answers a test chooses per request. An answer may
 * take (real) time; a request whose abort signal fires meanwhile fails with AbortError, as the
 * SDK's own HTTP handler makes it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface WireRequest {
  operation: string;
  body: Record<string, unknown>;
  text: string;
}

export type Answer = { status?: number; body?: unknown } | undefined;

export function fakeDynamoDb(answer: (request: WireRequest, index: number) => Answer | Promise<Answer> = () => undefined) {
  const requests: WireRequest[] = [];
  const requestHandler = {
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
    async handle(request: { headers: Record<string, string>; body?: unknown }, options: { abortSignal?: AbortSignal } = {}) {
      const raw = request.body;
      const text =
        typeof raw === 'string'
          ? raw
          : Buffer.from((raw as Uint8Array).buffer, (raw as Uint8Array).byteOffset, (raw as Uint8Array).byteLength).toString('utf8');
      const wire: WireRequest = {
        operation: (request.headers['x-amz-target'] ?? '').split('.')[1] ?? '',
        body: JSON.parse(text) as Record<string, unknown>,
        text,
      };
      requests.push(wire);
      const chosen = (await answer(wire, requests.length - 1)) ?? {};
      if (options.abortSignal?.aborted) throw Object.assign(new Error('Request aborted'), { name: 'AbortError' });
      const status = chosen.status ?? 200;
      const body = chosen.body ?? (wire.operation === 'BatchWriteItem' ? { UnprocessedItems: {} } : {});
      return {
        response: {
          statusCode: status,
          headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'test' },
          body: new TextEncoder().encode(JSON.stringify(body)),
        },
      };
    },
  };
  const dynamodb = new DynamoDBClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler,
  });
  const documents = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  // Like lib/shared/clients.ts createWriteClient: a client of its own with cached middleware.
  const writer = new DynamoDBClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    cacheMiddleware: true,
    requestHandler,
  });
  return { documents, writer, requests };
}

/** Answers by operation (`UpdateItem`, `BatchGetItem`, ...); an operation without a handler gets the default answer. */
export function byOperation(handlers: Partial<Record<string, (request: WireRequest, index: number) => Answer | Promise<Answer>>>) {
  return (request: WireRequest, index: number): Answer | Promise<Answer> => handlers[request.operation]?.(request, index);
}

/** DynamoDB's answer for the error `code` (`ConditionalCheckFailedException`, `InternalServerError`, ...). */
export function dynamoError(code: string, status = code === 'InternalServerError' ? 500 : 400): Answer {
  return { status, body: { __type: `com.amazonaws.dynamodb.v20120810#${code}`, message: `${code} from the fake` } };
}
