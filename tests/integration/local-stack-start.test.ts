/**
 * `npm start` (scripts/local-stack.ts) when it cannot start: a port held by another stack or another
 * program, or no Java on the PATH. Each case is refused with one line that names the problem, and
 * leaves nothing running and nothing changed. The first case runs a real first stack and starts a
 * second one on its DynamoDB port, as a developer with two terminals would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { signWebhookPayload } from '../../lib/ingest/webhook';
import { startEmulators } from '../../local/emulators';
import { segmentEvent } from '../support/events';
import { freePort } from '../support/ports';

const root = path.resolve(__dirname, '..', '..');
const TSX_CLI = path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
const folders: string[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  }
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** `npm start` in a child process, with its own data folder and the given environment. */
function startLocalStack(env: Record<string, string>): Run {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'segment-ingest-start-'));
  folders.push(dataDir);
  // As a developer's shell has it: without the test setup's switch for the SDK's Node notice.
  const inherited: Record<string, string | undefined> = { ...process.env };
  delete inherited.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  const child = spawn(process.execPath, [TSX_CLI, 'scripts/local-stack.ts'], {
    cwd: root,
    env: { ...inherited, DATA_DIR: dataDir, QUIET: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Holds `port` on loopback, as another program would. */
async function holdPort(port: number): Promise<void> {
  // Connections the stack's probe opened are dropped at once, so closing never waits on them.
  const server = createServer((socket) => socket.destroy());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
}

/** True when nothing listens on `port` any more. */
async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function waitHealthy(url: string, run: Run): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const status = await fetch(`${url}/health`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`the first stack did not start:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

it("refuses a second start on the first stack's DynamoDB port, naming the port and what holds it, and changes nothing of the first", async () => {
  // Prepare: the first stack, with its key and webhook secret
  const [port, dynamodbPort, sqsPort] = [await freePort(), await freePort(), await freePort()];
  const first = startLocalStack({
    PORT: String(port),
    DYNAMODB_PORT: String(dynamodbPort),
    SQS_PORT: String(sqsPort),
    DEV_API_KEY: 'sk_firstStackKey000000000000000000000000000',
    DEV_WEBHOOK_SECRET: 'first-stack-webhook-secret',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, first);
  // Nothing before the banner, not even the AWS SDK's notice about Node versions (9 lines on Node 20).
  expect(first.output()).not.toContain('NodeVersionSupportWarning');

  // Act: a second start whose DynamoDB port is the first one's
  const second = startLocalStack({
    PORT: String(await freePort()),
    DYNAMODB_PORT: String(dynamodbPort),
    SQS_PORT: String(await freePort()),
    DEV_API_KEY: 'sk_secondStackKey00000000000000000000000000',
    DEV_WEBHOOK_SECRET: 'second-stack-webhook-secret',
  });
  const code = await second.exited;

  // Assess: refused in one line, and the first stack's source kept its own key and secret only
  expect(code).toBe(1);
  expect(second.output().trim().split('\n')).toEqual([
    `segment-ingest could not start: port ${dynamodbPort} (DYNAMODB_PORT) is taken by a DynamoDB Local holding segment-ingest tables (another \`npm start\`?); stop it, or set DYNAMODB_PORT to a free port`,
  ]);
  const secondKey = await fetch(`${url}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic('sk_secondStackKey00000000000000000000000000') },
    body: JSON.stringify(segmentEvent('track')),
  });
  expect(secondKey.status).toBe(401);
  const body = JSON.stringify(segmentEvent('track', { userId: 'still-first-secret' }));
  const signed = await fetch(`${url}/webhook/local`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature': signWebhookPayload('first-stack-webhook-secret', body) },
    body,
  });
  expect(signed.status).toBe(200);
}, 120_000);

it.each(['PORT', 'SQS_PORT'])(
  'refuses a start whose %s is taken, in one line naming it, and leaves nothing running',
  async (variable) => {
    // Prepare
    const ports: Record<string, number> = { PORT: await freePort(), DYNAMODB_PORT: await freePort(), SQS_PORT: await freePort() };
    const taken = ports[variable] ?? 0;
    await holdPort(taken);

    // Act
    const run = startLocalStack(Object.fromEntries(Object.entries(ports).map(([name, value]) => [name, String(value)])));
    const code = await run.exited;

    // Assess
    expect(code).toBe(1);
    expect(run.output().trim().split('\n')).toEqual([
      `segment-ingest could not start: port ${taken} (${variable}) is taken by another program; stop it, or set ${variable} to a free port`,
    ]);
    expect(await isFree(ports.DYNAMODB_PORT ?? 0)).toBe(true);
  },
  60_000,
);

it('stops DynamoDB Local again when the SQS emulator cannot start after it', async () => {
  // Prepare: a port taken after any check could have run (startEmulators is what the stack calls)
  const [dynamodbPort, sqsPort] = [await freePort(), await freePort()];
  await holdPort(sqsPort);

  // Act
  const started = startEmulators({ dynamodbPort, sqsPort, dataDir: null });

  // Assess
  await expect(started).rejects.toThrow(`the SQS emulator cannot listen on port ${sqsPort}: EADDRINUSE`);
  expect(await isFree(dynamodbPort)).toBe(true);
}, 60_000);

it('says that Java is missing, in one line, when there is no java on the PATH', async () => {
  // Act: a PATH with no java on it (the child is started by its absolute node path)
  const run = startLocalStack({
    PATH: path.join(root, 'no-such-folder'),
    PORT: String(await freePort()),
    DYNAMODB_PORT: String(await freePort()),
    SQS_PORT: String(await freePort()),
  });
  const code = await run.exited;

  // Assess
  expect(code).toBe(1);
  expect(run.output().trim().split('\n')).toEqual([
    'segment-ingest could not start: Java was not found on the PATH: DynamoDB Local needs Java 17 or newer (check with `java -version`; on Debian or Ubuntu, apt-get install openjdk-17-jre-headless)',
  ]);
}, 60_000);
