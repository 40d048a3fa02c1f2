/**
 * The CLI as a new user meets it: a key captured through `npm run`, revoking by what `keys list`
 * shows, a mistyped source id, a negative number, and the docs' own tracking-plan example. Each
 * case is the exact command a newcomer typed.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { hashKey } from '../../lib/tables/sources';
import { segmentEvent } from '../support/events';
import { cli, stackEnv, STACK_FRAME, type CliResult } from '../support/cli';
import { startTestStack, type TestStack } from '../support/stack';

const root = path.resolve(__dirname, '..', '..');
let stack: TestStack;
let folder: string;

beforeAll(async () => {
  // No key cache, so a revocation shows at once.
  stack = await startTestStack({ env: { KEY_CACHE_SECONDS: '0' } });
  folder = mkdtempSync(path.join(tmpdir(), 'segment-ingest-newcomer-'));
});

afterAll(async () => {
  await stack.stop();
  rmSync(folder, { recursive: true, force: true });
});

/** `command args` in the project folder, to its end, as a shell's `$(...)` runs it. */
function run(command: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** `npm <args>`, pointed at the test stack. */
const npm = (args: string[]) => run('npm', args, { ...stackEnv(stack), AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });

/** `script` run by bash; stdout is what the docs' `# {...}` line shows. */
const bash = (script: string, env: Record<string, string>) => run('bash', ['-euo', 'pipefail', '-c', script], env);

describe('keys create through npm', () => {
  it('`KEY=$(npm run -s cli -- keys create ...)` captures the key alone, and the key works', async () => {
    // Act
    const result = await npm(['run', '-s', 'cli', '--', 'keys', 'create', '--source', stack.sourceId]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^sk_[A-Za-z0-9]+\n$/);
    const sent = await stack.send('/v1/track', segmentEvent('track'), { auth: result.stdout.trim() });
    expect(sent.status).toBe(200);
  }, 60_000);

  it('without -s, says on stderr that npm put its banner on stdout, and how to capture the key alone', async () => {
    const result = await npm(['run', 'cli', '--', 'keys', 'create', '--source', stack.sourceId]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('> segment-ingest@');
    expect(result.stderr).toContain(
      'npm printed its own banner on stdout before this output; to capture only the output, run `npm run -s cli -- ...`',
    );
  }, 60_000);
});

describe('keys revoke', () => {
  it('revokes by the 16-character hash that `keys list` shows, and a second revoke keeps the first time', async () => {
    // Prepare
    const key = (await cli(stack, ['keys', 'create', '--source', stack.sourceId])).stdout.trim();
    const listed = await cli(stack, ['keys', 'list', '--source', stack.sourceId]);
    const shown = hashKey(key).slice(0, 16);
    expect(listed.stdout).toMatch(new RegExp(`^${key.slice(0, 7)}… .* ${shown}$`, 'm'));

    // Act
    const first = await cli(stack, ['keys', 'revoke', shown]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await cli(stack, ['keys', 'revoke', shown]);

    // Assess
    const revokedAt = (await stack.admin.listKeys(stack.sourceId)).find((k) => k.keyHash === hashKey(key))?.revokedAt ?? '';
    expect(revokedAt).not.toBe('');
    expect(first).toMatchObject({ code: 0, stdout: `Key ${key.slice(0, 7)}… of source "${stack.sourceId}" revoked at ${revokedAt}.\n` });
    expect(second).toMatchObject({
      code: 0,
      stdout: `Key ${key.slice(0, 7)}… of source "${stack.sourceId}" was already revoked at ${revokedAt}.\n`,
    });
    expect((await stack.send('/v1/track', segmentEvent('track'), { auth: key })).status).toBe(401);
  });

  it('refuses a hash start that two keys share, with exit 2, and revokes neither', async () => {
    // Prepare: two key records whose hashes begin alike (written directly: SHA-256 gives no such pair)
    const shared = 'abcdef0123456789';
    for (const rest of ['a'.repeat(48), 'b'.repeat(48)])
      await stack.clients.documents.send(
        new PutCommand({
          TableName: stack.config.tables.keys,
          Item: { keyHash: `${shared}${rest}`, sourceId: stack.sourceId, keyPrefix: 'sk_Twin', createdAt: new Date().toISOString() },
        }),
      );

    // Act
    const result = await cli(stack, ['keys', 'revoke', shared]);

    // Assess
    expect(result).toMatchObject({ code: 2, stderr: `segment-ingest: "${shared}" matches 2 keys; give the whole key or its hash\n` });
    const twins = (await stack.admin.listKeys(stack.sourceId)).filter((k) => k.keyHash.startsWith(shared));
    expect(twins.map((k) => k.revokedAt)).toEqual([undefined, undefined]);
  });
});

describe('a source id that does not exist', () => {
  const missing = 'shop-wbe';
  const says = `segment-ingest: source "${missing}" does not exist in`;

  it.each([
    ['profile', ['profile', '--source', missing, '--user', 'u-1']],
    ['group', ['group', '--source', missing, '--group', 'g-1']],
    ['events', ['events', '--source', missing, '--user', 'u-1']],
    ['schemas list', ['schemas', 'list', '--source', missing]],
    ['schemas drift', ['schemas', 'drift', '--source', missing]],
    ['erasures show', ['erasures', 'show', '--source', missing, '--user', 'u-1']],
    ['rejected list', ['rejected', 'list', '--source', missing]],
    ['keys list', ['keys', 'list', '--source', missing]],
  ])('%s says the source does not exist, with exit 2', async (_name, argv) => {
    const result = await cli(stack, argv);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(says);
    expect(result.stderr).toContain('"segment-ingest sources list" shows the sources');
  });

  it.each([
    ['keys create', ['keys', 'create', '--source', missing]],
    ['plan show', ['plan', 'show', '--source', missing]],
    ['sources disable', ['sources', 'disable', missing]],
  ])('%s refuses it with exit 2', async (_name, argv) => {
    const result = await cli(stack, argv);

    expect(result).toMatchObject({ code: 2, stderr: `segment-ingest: source "${missing}" does not exist\n` });
  });
});

/** The first ```sh block of `page` after `heading`, as a shell would run it. */
function shellExample(page: string, heading: string): string {
  const text = readFileSync(path.join(root, 'docs', page), 'utf8');
  const after = text.slice(text.indexOf(`\n## ${heading}\n`));
  return /```sh\n([\s\S]*?)```/.exec(after)?.[1] ?? '';
}

describe("the docs' shell examples", () => {
  it('signs a webhook by hand as docs/connect.md shows, and it is accepted', async () => {
    // Prepare: the example, pointed at this stack instead of `npm start`'s
    const script = shellExample('connect.md', 'Signing a webhook by hand')
      .replace('$(cat .data/dev-webhook-secret)', '"$STACK_SECRET"')
      .replace('http://localhost:3000/webhook/local', `${stack.url}/webhook/${stack.sourceId}`);

    // Act
    const result = await bash(script, { STACK_SECRET: stack.webhookSecret });

    // Assess
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ success: true, accepted: 1, rejected: 0, errors: [] });
  });

  it('sends the delete of docs/erasure.md, and it is accepted', async () => {
    const script = shellExample('erasure.md', 'Sending a delete').replace('http://localhost:3000/segment', `${stack.url}/segment`);

    const result = await bash(script, { KEY: stack.key });

    expect(JSON.parse(result.stdout)).toEqual({ success: true, accepted: 1, rejected: 0, errors: [] });
  });
});

describe('numbers and examples', () => {
  it('`status --rejections -1` says what --rejections accepts, with exit 2 and no stack', async () => {
    const result = await cli(stack, ['status', '--rejections', '-1']);

    expect(result).toMatchObject({ code: 2, stderr: 'segment-ingest: --rejections must be a whole number from 0 to 1000, got "-1"\n' });
    expect(result.stderr).not.toMatch(STACK_FRAME);
  });

  it("stores the docs' tracking-plan example without a warning", async () => {
    // Prepare: the example as docs/schemas-and-plans.md shows it
    const page = readFileSync(path.join(root, 'docs', 'schemas-and-plans.md'), 'utf8');
    const example = /```json\n(\{\n {2}"mode": "block"[\s\S]*?)```/.exec(page)?.[1] ?? '';
    const file = path.join(folder, 'plan.json');
    writeFileSync(file, example);

    // Act
    const result = await cli(stack, ['plan', 'set', '--source', stack.sourceId, file]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('warning');
    expect(result.stderr).not.toContain('strict mode');
  });
});
