/**
 * `npm start` (scripts/local-stack.ts) as a developer runs it, in a child process with its own
 * ports and data folder: `/health` answers only once the `local` source, its key and its webhook
 * secret exist, so the very first requests after it are accepted (a source cached without its
 * secret would refuse webhooks for the cache lifetime).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { signWebhookPayload } from '../../lib/ingest/webhook';
import { segmentEvent } from '../support/events';
import { freePort } from '../support/ports';

const root = path.resolve(__dirname, '..', '..');
const KEY = 'sk_localStackTestKey0000000000000000000000';
const SECRET = 'local-stack-test-webhook-secret';

let child: ChildProcess | undefined;
let dataDir: string;

afterEach(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

it('answers /health only once the local source, key and secret exist, and then accepts both at once', async () => {
  // Prepare
  dataDir = mkdtempSync(path.join(tmpdir(), 'segment-ingest-local-stack-'));
  const [port, dynamodbPort, sqsPort, s3Port] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  child = spawn(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/local-stack.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      DYNAMODB_PORT: String(dynamodbPort),
      SQS_PORT: String(sqsPort),
      S3_PORT: String(s3Port),
      DATA_DIR: dataDir,
      DEV_API_KEY: KEY,
      DEV_WEBHOOK_SECRET: SECRET,
      LOG_LEVEL: 'INFO',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));

  // Act: as fast as a script polling for readiness would, then the first requests right after it
  const deadline = Date.now() + 60_000;
  for (;;) {
    const status = await fetch(`${url}/health`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not become healthy:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const webhookBody = JSON.stringify(segmentEvent('track', { userId: 'first-webhook' }));
  const [webhook, tracking] = await Promise.all([
    fetch(`${url}/webhook/local`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': signWebhookPayload(SECRET, webhookBody) },
      body: webhookBody,
    }),
    fetch(`${url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` },
      body: JSON.stringify(segmentEvent('track', { userId: 'first-track' })),
    }),
  ]);

  // The local key is a destination key (issue 19): the README's local delete through /segment works with it.
  const deletion = await fetch(`${url}/segment`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` },
    body: JSON.stringify({ type: 'delete', userId: 'first-track' }),
  });
  // A body the function quarantines (an INFO line of its own), its key in the query string as well.
  const notJson = await fetch(`${url}/v1/batch?writeKey=${KEY}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` },
    body: 'not-json',
  });
  await until(() => output.includes('body quarantined') && output.includes('POST /v1/batch'));

  // Assess
  expect({ status: webhook.status, body: await webhook.text() }).toEqual({ status: 200, body: expect.stringContaining('"accepted":1') });
  expect(tracking.status).toBe(200);
  expect(deletion.status).toBe(200);
  expect(notJson.status).toBe(400);
  // On main 331ea64 the functions' lines were discarded, and the request line held `?writeKey=<key>`.
  const afterBanner = output.slice(output.indexOf('Ctrl-C stops everything.'));
  expect(afterBanner).toMatch(/"message":"body quarantined"/);
  expect(afterBanner).toContain('http   POST /v1/batch?… 400');
  expect(afterBanner).not.toContain(KEY);
}, 90_000);

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the output');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
