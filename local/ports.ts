/**
 * Ports the local stack needs, checked before it starts anything. A port that merely answers is not
 * enough to go on: a second `npm start` whose DynamoDB port is held by the first would otherwise
 * provision into the first stack's database (its key added to the first `local` source, the
 * webhook secret rotated). So a taken port stops the start, and the message says what holds it.
 */
import { createServer } from 'node:net';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';

/** A TCP port that was free a moment ago, for processes that cannot be told to pick one (DynamoDB Local). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class PortTakenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PortTakenError';
  }
}

/** A port the stack will listen on, by the variable that sets it. */
export interface NamedPort {
  variable: string;
  port: number;
}

/** Whether `port` can be listened on, on every interface and on loopback (the emulators use either). */
async function canListen(port: number): Promise<NodeJS.ErrnoException | undefined> {
  for (const host of [undefined, '127.0.0.1']) {
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const server = createServer();
      server.once('error', (e: NodeJS.ErrnoException) => resolve(e));
      server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
    });
    if (error) return error;
  }
  return undefined;
}

const PROBE = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 };

/** Asks what answers on `port`: one of our emulators, a segment-ingest endpoint, or something else. */
export async function describeHolder(port: number): Promise<string> {
  const endpoint = `http://127.0.0.1:${port}`;
  const signal = () => AbortSignal.timeout(1000);
  const dynamodb = new DynamoDBClient({ ...PROBE, endpoint });
  const sqs = new SQSClient({ ...PROBE, endpoint });
  try {
    // A ref'd timer bounds the probes: AbortSignal.timeout's is unref'd, and a probe whose socket
    // the holder dropped keeps nothing else alive, so the process would end silently.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no answer')), 1500);
    });
    const bounded = <T>(probe: Promise<T>) => Promise.race([probe, deadline]);
    const [tables, queues, health] = await Promise.allSettled([
      bounded(dynamodb.send(new ListTablesCommand({}), { abortSignal: signal() })),
      bounded(sqs.send(new ListQueuesCommand({}), { abortSignal: signal() })),
      bounded(fetch(`${endpoint}/health`, { signal: signal() }).then((r) => r.json() as Promise<{ status?: unknown }>)),
    ]);
    clearTimeout(timer);
    if (tables.status === 'fulfilled' && Array.isArray(tables.value.TableNames)) {
      const ours = tables.value.TableNames.filter((t) => t.startsWith('segment-ingest-'));
      return `a DynamoDB Local${ours.length > 0 ? ' holding segment-ingest tables (another `npm start`?)' : ''}`;
    }
    if (queues.status === 'fulfilled' && queues.value.$metadata.httpStatusCode === 200) return 'an SQS emulator (another `npm start`?)';
    if (health.status === 'fulfilled' && typeof health.value.status === 'string') return 'a segment-ingest endpoint (another `npm start`?)';
    return 'another program';
  } finally {
    dynamodb.destroy();
    sqs.destroy();
  }
}

/**
 * Throws `PortTakenError` naming the first port that cannot be listened on, what holds it, and the
 * variable that moves it; resolves when every port is free.
 */
export async function assertPortsFree(ports: readonly NamedPort[]): Promise<void> {
  for (const { variable, port } of ports) {
    if (port === 0) continue;
    const error = await canListen(port);
    if (!error) continue;
    if (error.code !== 'EADDRINUSE') {
      throw new PortTakenError(
        `port ${port} (${variable}) cannot be used: ${error.code ?? error.message}; set ${variable} to another port`,
      );
    }
    const holder = await describeHolder(port);
    throw new PortTakenError(`port ${port} (${variable}) is taken by ${holder}; stop it, or set ${variable} to a free port`);
  }
}
