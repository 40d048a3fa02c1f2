/**
 * The S3 emulator of the local lake: npm `s3rver`, in this process, its objects in a folder
 * (`.data/s3` for `npm start`, a temporary folder for tests, removed on stop).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;
interface AccountModule {
  DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
}

/** The key the S3 client signs with against an emulator (lib/shared/clients.ts); s3rver accepts only keys it knows. */
export const LOCAL_S3_KEY = 'local';

export interface S3Emulator {
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts s3rver on `port` (0 picks a free one); `directory` null keeps the objects in a temporary folder. */
export async function startS3Emulator(port: number, directory: string | null): Promise<S3Emulator> {
  // s3rver ships no types; these are the two entry points it documents.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver') as S3rverClass;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('s3rver/lib/models/account') as AccountModule).DUMMY_ACCOUNT.createKeyPair(LOCAL_S3_KEY, LOCAL_S3_KEY);
  const folder = directory === null ? mkdtempSync(path.join(tmpdir(), 'segment-ingest-s3-')) : path.resolve(directory);
  const server = new S3rver({ port, address: '127.0.0.1', silent: true, directory: folder, vhostBuckets: false });
  const { port: actualPort } = await server.run();
  const http = (server as unknown as { httpServer?: Server }).httpServer;
  const sockets = new Set<Socket>();
  http?.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return {
    endpoint: `http://127.0.0.1:${actualPort}`,
    async stop() {
      // Keep-alive connections from SDK clients would hold the server open.
      sockets.forEach((socket) => socket.destroy());
      await server.close();
      if (directory === null) rmSync(folder, { recursive: true, force: true });
    },
  };
}
