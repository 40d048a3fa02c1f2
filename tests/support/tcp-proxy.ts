/**
 * A TCP proxy in front of an emulator, for outages the emulator cannot stage by itself: `refuse()`
 * stops listening (connection refused, like a service that is down), `hang()` accepts connections
 * and never answers (like a partition), `restore()` forwards again.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  endpoint: string;
  refuse(): Promise<void>;
  hang(): void;
  restore(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let mode: 'forward' | 'hang' = 'forward';
  let server: Server;
  let listenPort = 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        sockets.add(client);
        client.on('close', () => sockets.delete(client));
        client.on('error', () => client.destroy());
        if (mode === 'hang') return;
        const upstream = connect(Number(port), hostname);
        sockets.add(upstream);
        upstream.on('close', () => sockets.delete(upstream));
        upstream.on('error', () => client.destroy());
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', () => {
        const address = server.address();
        listenPort = typeof address === 'object' && address ? address.port : listenPort;
        resolve();
      });
    });
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });

  await listen();
  return {
    endpoint: `http://127.0.0.1:${listenPort}`,
    refuse: close,
    hang() {
      mode = 'hang';
      for (const socket of sockets) socket.destroy();
    },
    async restore() {
      mode = 'forward';
      if (!server.listening) await listen();
    },
    stop: close,
  };
}
