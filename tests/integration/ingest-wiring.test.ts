/**
 * The ingest function as Lambda builds it (lib/ingest/handler.ts `loadIngestDeps`, from the
 * environment) against the emulators, and what its wiring answers and logs when a dependency is
 * misconfigured: a keys table that does not exist is a real ResourceNotFoundException from
 * DynamoDB Local, answered 503 (the sender retries), counted as a configuration error, and named by
 * the deep health check.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { IngestDeps } from '../../lib/ingest/accept';
import { createIngestHandler, ingestDepsFrom, loadIngestDeps } from '../../lib/ingest/handler';
import { createHealthCheck } from '../../lib/ingest/health';
import type { Log } from '../../lib/shared/log';
import type { Meter, MetricName } from '../../lib/shared/metrics';
import { httpApiEvent, segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
});

afterAll(async () => {
  await stack.stop();
});

type Line = [level: string, message: string, extra: Record<string, unknown> | undefined];

function recordingLog(): Log & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (message: string, extra?: Record<string, unknown>) => void lines.push([level, message, extra]);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function countingMeter(): Meter & { counts: Map<string, number> } {
  const counts = new Map<string, number>();
  return {
    counts,
    count(name: MetricName, value: number, dimension?: readonly [string, string]) {
      const key = dimension ? `${name}:${dimension[0]}=${dimension[1]}` : name;
      counts.set(key, (counts.get(key) ?? 0) + value);
    },
    latency() {},
    flush() {},
  };
}

const authorization = () => `Basic ${Buffer.from(`${stack.key}:`).toString('base64')}`;

function trackRequest(event: Record<string, unknown>) {
  return httpApiEvent({ path: '/v1/track', headers: { authorization: authorization() }, body: JSON.stringify(event) });
}

/** The stack's configuration with the keys table renamed to one that does not exist. */
function withoutKeysTable(log: Log, meter: Meter): IngestDeps {
  const config = { ...stack.config, tables: { ...stack.config.tables, keys: `${stack.config.tables.keys}-missing` } };
  return ingestDepsFrom(config, stack.clients, log, meter);
}

/** Builds with Powertools' metrics disabled (it reads process.env), so no EMF line lands in the test output. */
function quietly<T>(build: () => T): T {
  const before = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  try {
    return build();
  } finally {
    if (before === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = before;
  }
}

describe('loadIngestDeps', () => {
  it('refuses to start without QUEUE_URL, naming it', () => {
    const { QUEUE_URL: _, ...env } = stack.env;

    const load = () => loadIngestDeps(env);

    expect(load).toThrow('QUEUE_URL is required by the ingest function');
  });

  it('builds, from the environment Lambda gives the function, a handler that answers 200 once SQS holds the event', async () => {
    const handler = createIngestHandler(quietly(() => loadIngestDeps({ ...stack.env, LOG_LEVEL: 'silent' })));
    const event = segmentEvent('track', { event: 'Wired From Env' });

    const response = await handler(trackRequest(event));
    const { Messages = [] } = await stack.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: stack.queues.queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
    );

    expect(response.statusCode).toBe(200);
    expect(Messages.map((m) => m.Body).join('\n')).toContain(String(event.messageId));
  });
});

describe('a keys table that does not exist', () => {
  it('answers 503 with Retry-After, counts a configuration error, and logs the error by name and code only', async () => {
    const log = recordingLog();
    const meter = countingMeter();
    const handler = createIngestHandler(withoutKeysTable(log, meter));

    const response = await handler(trackRequest(segmentEvent('track')));

    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'Retry-After': expect.any(String) });
    expect(JSON.parse(String(response.body))).toEqual({
      message: 'DynamoDB did not answer in time or refused the request; nothing was accepted, retry it',
    });
    expect(meter.counts.get('DependencyErrors:kind=configuration')).toBe(1);
    expect(log.lines.filter(([level]) => level === 'error')).toEqual([
      [
        'error',
        'request failed; answered 503, nothing was accepted',
        expect.objectContaining({
          status: 503,
          error: { name: 'ConfigurationError', kind: 'configuration', service: 'DynamoDB', code: 'ResourceNotFoundException' },
        }),
      ],
    ]);
  });

  it('makes the deep health check answer 503, telling the operator to check the tables', async () => {
    const deps = withoutKeysTable(recordingLog(), countingMeter());
    const health = createHealthCheck({
      sqs: stack.clients.sqs,
      queueUrl: stack.queues.queueUrl,
      documents: stack.clients.documents,
      keysTable: `${stack.config.tables.keys}-missing`,
      log: deps.log,
      cacheMs: 0,
    });
    const handler = createIngestHandler({ ...deps, health });
    const request = { ...httpApiEvent({ method: 'GET', path: '/health' }), rawQueryString: 'deep=1', queryStringParameters: { deep: '1' } };

    const response = await handler(request);

    expect(response.statusCode).toBe(503);
    expect(JSON.parse(String(response.body))).toMatchObject({
      message: "unhealthy: keys: DynamoDB refused the request: check the function's permissions and the stage's queue and tables",
      checks: { queue: { ok: true }, keys: { ok: false } },
    });
  });
});

describe('a function without a deep health check', () => {
  it('answers /health?deep=1 with 503 saying the check is not configured, and plain /health with 200', async () => {
    const handler = createIngestHandler({ ...stack.ingestDeps, health: undefined });
    const plain = httpApiEvent({ method: 'GET', path: '/health' });

    const deep = await handler({ ...plain, rawQueryString: 'deep=1', queryStringParameters: { deep: '1' } });
    const shallow = await handler(plain);

    expect(deep.statusCode).toBe(503);
    expect(JSON.parse(String(deep.body))).toEqual({
      status: 'unhealthy',
      message: 'the deep health check is not configured in this function',
    });
    expect(shallow.statusCode).toBe(200);
  });
});

describe('unexpected failures', () => {
  it('answer 503 without the failure in the body, and log only its type when it is not even an Error', async () => {
    // A dependency that rejects with a string: no real client does, so a fake authenticator forces it.
    const log = recordingLog();
    const deps = ingestDepsFrom(stack.config, stack.clients, log, countingMeter());
    const handler = createIngestHandler({
      ...deps,
      auth: { ...deps.auth, authenticateKey: () => Promise.reject('secret detail') } as IngestDeps['auth'],
    });

    const response = await handler(trackRequest(segmentEvent('track')));

    expect(response.statusCode).toBe(503);
    expect(String(response.body)).not.toContain('secret detail');
    expect(log.lines).toContainEqual([
      'error',
      'request failed; answered 503, nothing was accepted',
      expect.objectContaining({ error: { name: 'string' } }),
    ]);
  });

  it('log the name of an Error and of its cause, never its message', async () => {
    const log = recordingLog();
    const deps = ingestDepsFrom(stack.config, stack.clients, log, countingMeter());
    const failure = new TypeError('quoted body: {"email":"a@example.com"}', { cause: new RangeError('inner') });
    const handler = createIngestHandler({
      ...deps,
      auth: { ...deps.auth, authenticateKey: () => Promise.reject(failure) } as IngestDeps['auth'],
    });

    const response = await handler(trackRequest(segmentEvent('track')));

    expect(response.statusCode).toBe(503);
    expect(JSON.stringify(log.lines)).not.toContain('a@example.com');
    expect(log.lines).toContainEqual([
      'error',
      'request failed; answered 503, nothing was accepted',
      expect.objectContaining({ error: { name: 'TypeError', cause: 'RangeError' } }),
    ]);
  });

  it('count a bug as UnexpectedErrors with its stack on the line, never as a configuration error (issue 20)', async () => {
    // A TypeError no AWS call threw: a fake authenticator forces it (no emulator makes our code throw one).
    const log = recordingLog();
    const meter = countingMeter();
    const deps = ingestDepsFrom(stack.config, stack.clients, log, meter);
    const handler = createIngestHandler({
      ...deps,
      auth: { ...deps.auth, authenticateKey: () => Promise.reject(new TypeError('x is not a function')) } as IngestDeps['auth'],
    });

    const response = await handler(trackRequest(segmentEvent('track')));

    expect(response.statusCode).toBe(503);
    expect(meter.counts.get('UnexpectedErrors')).toBe(1);
    expect([...meter.counts.keys()].filter((key) => key.startsWith('DependencyErrors'))).toEqual([]);
    const line = log.lines.find(([level]) => level === 'error');
    expect(line?.[2]).toMatchObject({ unexpected: true, error: { name: 'TypeError' } });
    expect((line?.[2]?.stack as string[])[0]).toMatch(/ingest-wiring\.test\.ts/);
    expect(JSON.stringify(line)).not.toContain('x is not a function');
  });
});
