/**
 * `GET /health` stays free; `GET /health?deep=1` probes the queue and the keys table within a short
 * timeout and caches its answer. The outage is real: the SQS emulator stops listening. A probe that
 * hangs is forced with a TCP server that accepts connections and never answers, a fault the
 * emulator cannot produce.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSqsClient } from '../../lib/shared/clients';
import { createIngestHandler } from '../../lib/ingest/handler';
import { createHealthCheck, HEALTH_TIMEOUT_MS } from '../../lib/ingest/health';
import { silentLog } from '../../lib/shared/log';
import { startSqsEmulator, type SqsEmulator } from '../../local/emulators';
import { httpApiEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

let sqs: SqsEmulator;
let stack: TestStack;

beforeAll(async () => {
  sqs = await startSqsEmulator(0);
  stack = await startTestStack({ sqsEndpoint: sqs.endpoint });
});

afterAll(async () => {
  await stack.stop();
  await sqs.stop();
});

const deepHealth = () => httpApiEvent({ method: 'GET', path: '/health', headers: {} });
const withQuery = (query: Record<string, string>) => ({
  ...deepHealth(),
  rawQueryString: new URLSearchParams(query).toString(),
  queryStringParameters: query,
});

/** The stack's ingest handler with a deep check of its own (no cache unless asked), as Lambda wires it. */
function handlerWith(options: { sqsEndpoint?: string; cacheMs?: number } = {}) {
  const client = options.sqsEndpoint
    ? createSqsClient({ region: 'us-east-1', dynamodbEndpoint: undefined, sqsEndpoint: options.sqsEndpoint })
    : stack.clients.sqs;
  const health = createHealthCheck({
    sqs: client,
    queueUrl: stack.queues.queueUrl,
    documents: stack.clients.documents,
    keysTable: stack.config.tables.keys,
    log: silentLog,
    cacheMs: options.cacheMs ?? 0,
  });
  return { handler: createIngestHandler({ ...stack.ingestDeps, health }), client };
}

describe('GET /health', () => {
  it('answers deep=1 over HTTP with both probes passed', async () => {
    // Act
    const response = await stack.send('/health?deep=1', undefined, { method: 'GET', auth: null });

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.body).toMatchObject({
      status: 'ok',
      checks: { queue: { ok: true }, keys: { ok: true } },
      cached: false,
    });
  });

  it('reports a stopped SQS emulator as unhealthy (503), within its timeout, while plain /health stays 200', async () => {
    // Prepare
    const { handler } = handlerWith();
    await sqs.pause();
    try {
      // Act
      const started = Date.now();
      const deep = await handler(withQuery({ deep: '1' }));
      const elapsed = Date.now() - started;
      const plain = await handler(deepHealth());

      // Assess
      const body = JSON.parse(deep.body) as Record<string, unknown>;
      expect(deep.statusCode).toBe(503);
      expect(body).toMatchObject({
        status: 'unhealthy',
        // The wording depends on how lib/shared/errors.ts classifies the SDK's error; the probe that failed does not.
        message: expect.stringMatching(/^unhealthy: queue: SQS /),
        checks: { queue: { ok: false }, keys: { ok: true } },
      });
      expect(elapsed).toBeLessThan(HEALTH_TIMEOUT_MS + 1000);
      expect(plain.statusCode).toBe(200);
      expect(JSON.parse(plain.body)).toEqual({ status: 'ok' });
    } finally {
      await sqs.resume();
    }
  });

  it('answers by its timeout when the queue accepts connections and never answers', async () => {
    // Prepare
    const sockets = new Set<Socket>();
    const blackHole: Server = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const port = (blackHole.address() as { port: number }).port;
    const { handler, client } = handlerWith({ sqsEndpoint: `http://127.0.0.1:${port}` });
    try {
      // Act
      const started = Date.now();
      const response = await handler(withQuery({ deep: '1' }));
      const elapsed = Date.now() - started;

      // Assess: it waited for the timeout, and not much longer (the SDK alone would wait for its own).
      expect(response.statusCode).toBe(503);
      expect(JSON.parse(response.body)).toMatchObject({
        message: `unhealthy: queue: no answer within ${HEALTH_TIMEOUT_MS} ms`,
        checks: { queue: { ok: false }, keys: { ok: true } },
      });
      expect(elapsed).toBeGreaterThanOrEqual(HEALTH_TIMEOUT_MS - 50);
      expect(elapsed).toBeLessThan(HEALTH_TIMEOUT_MS + 1000);
    } finally {
      client.destroy();
      sockets.forEach((socket) => socket.destroy());
      await new Promise<void>((resolve) => blackHole.close(() => resolve()));
    }
  });

  it('serves one result for the cache period, so a flood of deep checks probes once', async () => {
    // Prepare
    const { handler } = handlerWith({ cacheMs: 60_000 });
    const first = await handler(withQuery({ deep: '1' }));
    await sqs.pause();
    try {
      // Act: the queue is down, yet the cached (healthy) result is served to a burst.
      const burst = await Promise.all(Array.from({ length: 20 }, () => handler(withQuery({ deep: 'true' }))));

      // Assess
      expect(JSON.parse(first.body)).toMatchObject({ status: 'ok', cached: false });
      for (const response of burst) {
        expect(response.statusCode).toBe(200);
        expect(JSON.parse(response.body)).toMatchObject({ status: 'ok', cached: true });
      }
    } finally {
      await sqs.resume();
    }
  });

  it('treats deep=0 as the plain check', async () => {
    const { handler } = handlerWith();
    await sqs.pause();
    try {
      const response = await handler(withQuery({ deep: '0' }));
      expect(response.statusCode).toBe(200);
      expect(JSON.parse(response.body)).toEqual({ status: 'ok' });
    } finally {
      await sqs.resume();
    }
  });
});
