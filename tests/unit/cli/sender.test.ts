/**
 * The batch sender against a real HTTP server that answers what each test scripts: the retry rules
 * need answers (429, 503, resets) the local service does not give on its own.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { backoffMs, checkEndpoint, createBatchSender, parseRetryAfter } from '../../../cli/replay/sender';
import { CliError } from '../../../cli/core/errors';
import { freePort } from '../../support/ports';

type Script = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let url: string;
let script: Script[] = [];
const seen: Array<{ url: string; authorization: string; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization ?? '', body });
      (script.shift() ?? ((_q, r) => r.writeHead(500).end()))(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  script = [];
  seen.length = 0;
});

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Script =>
  (_req, res) =>
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter('Sun, 01 Nov 2026 00:00:10 GMT', Date.UTC(2026, 10, 1, 0, 0, 0))).toBe(10_000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('backoffMs', () => {
  it('grows exponentially with jitter, capped at 30 s', () => {
    expect(backoffMs(1, () => 1)).toBe(500);
    expect(backoffMs(3, () => 1)).toBe(2000);
    expect(backoffMs(3, () => 0)).toBe(1000);
    expect(backoffMs(20, () => 1)).toBe(30_000);
  });
});

describe('createBatchSender', () => {
  const sender = (overrides: Partial<Parameters<typeof createBatchSender>[0]> = {}) => {
    const delays: number[] = [];
    const send = createBatchSender({
      endpoint: url,
      key: 'sk_test',
      maxRetries: 3,
      timeoutMs: 2000,
      random: () => 0,
      onRetry: ({ delayMs }) => delays.push(delayMs),
      ...overrides,
    });
    return { send, delays };
  };

  it('posts to /v1/batch with the key as Basic username and returns the answer', async () => {
    script.push(json(200, { success: true, accepted: 2, rejected: 1, errors: [{ index: 1, message: 'bad' }] }));

    const answer = await sender().send('{"batch":[{},{},{}]}', 3);

    expect(answer).toEqual({ accepted: 2, errors: [{ index: 1, message: 'bad' }], retries: 0 });
    expect(seen[0]).toEqual({
      url: '/v1/batch',
      authorization: `Basic ${Buffer.from('sk_test:').toString('base64')}`,
      body: '{"batch":[{},{},{}]}',
    });
  });

  it('honours Retry-After on 503 and 429, and backs off on other 5xx', async () => {
    script.push(
      json(503, { message: 'queue busy' }, { 'retry-after': '0.05' }),
      json(429, { message: 'slow down' }, { 'retry-after': '0.02' }),
      json(500, {}),
      json(200, { accepted: 1, errors: [] }),
    );
    const { send, delays } = sender();

    const answer = await send('{"batch":[{}]}', 1);

    expect(answer).toEqual({ accepted: 1, errors: [], retries: 3 });
    expect(delays).toEqual([50, 20, 1000]);
  });

  it('treats a 400 that lists every event as all rejected, not as a failure', async () => {
    script.push(
      json(400, {
        message: 'every event in the batch is invalid (2 of 2); see errors',
        errors: [
          { index: 0, message: 'a' },
          { index: 1, message: 'b' },
        ],
      }),
    );

    expect(await sender().send('{"batch":[{},{}]}', 2)).toEqual({
      accepted: 0,
      errors: [
        { index: 0, message: 'a' },
        { index: 1, message: 'b' },
      ],
      retries: 0,
    });
  });

  it('stops at once on 401, 403, 404 and 413, with the message the endpoint gave', async () => {
    script.push(json(401, { message: 'unknown API key' }));

    await expect(sender().send('{"batch":[{}]}', 1)).rejects.toThrow(
      new CliError(
        'the endpoint refused the batch: 401 unknown API key. Check the key (--key, or SEGMENT_INGEST_KEY): it must be an active key of the source.',
      ),
    );
    expect(seen).toHaveLength(1);
  });

  it('gives up after its retries, naming the last problem', async () => {
    const { send } = sender({ endpoint: `http://127.0.0.1:${await freePort()}`, maxRetries: 1 });

    await expect(send('{"batch":[{}]}', 1)).rejects.toThrow('gave up on a batch after 2 attempts; the last problem: connection refused');
  });

  it('stops waiting when the replay is interrupted', async () => {
    script.push(json(503, {}, { 'retry-after': '30' }));
    const controller = new AbortController();
    const { send } = sender({ onRetry: () => controller.abort(new Error('SIGINT')) });

    await expect(send('{"batch":[{}]}', 1, controller.signal)).rejects.toThrow('SIGINT');
  });
});

describe('checkEndpoint', () => {
  it('passes a healthy endpoint and refuses one that is not segment-ingest', async () => {
    script.push(json(200, { status: 'ok' }), json(404, { message: 'no route' }));

    await expect(checkEndpoint(url)).resolves.toBeUndefined();
    await expect(checkEndpoint(url)).rejects.toThrow(`GET ${url}/health answered 404: is ${url} the base URL of segment-ingest?`);
  });
});
