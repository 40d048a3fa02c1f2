/**
 * Bad input to the real bin (a child process, as an operator runs it): each case ends with one
 * clear message and a non-zero exit, never a stack trace.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { segmentEvent } from '../support/events';
import { freePort } from '../support/ports';
import { runBin, stackEnv, STACK_FRAME } from '../support/cli';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let dir: string;
let events: string;

beforeAll(async () => {
  stack = await startTestStack();
  dir = mkdtempSync(path.join(tmpdir(), 'segment-ingest-errors-'));
  events = path.join(dir, 'events.jsonl');
  writeFileSync(events, `${JSON.stringify(segmentEvent('track'))}\n`);
});

afterAll(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

const run = (argv: string[], env: Record<string, string> = {}) =>
  runBin(argv, { cwd: dir, env: { ...stackEnv(stack), SEGMENT_INGEST_KEY: stack.key, ...env } });

it('works from the bin at all: --help lists the commands and exits 0', async () => {
  const result = await run(['--help']);

  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/^ {2}replay FILE\.\.\. +Replays newline-delimited JSON files/m);
  expect(result.stderr).toBe('');
});

it('a missing file: exit 2, and nothing is sent', async () => {
  const result = await run(['replay', 'nope.jsonl']);

  expect(result).toMatchObject({ code: 2, stdout: '', stderr: 'segment-ingest: cannot read nope.jsonl: no such file\n' });
});

it('a .gz file that is not gzip: exit 2', async () => {
  writeFileSync(path.join(dir, 'plain.jsonl.gz'), '{"type":"track"}\n');

  const result = await run(['replay', 'plain.jsonl.gz']);

  expect(result).toMatchObject({
    code: 2,
    stderr: 'segment-ingest: cannot read plain.jsonl.gz: its name ends in .gz but it is not gzip data\n',
  });
});

it('gzip data cut short: exit 1, naming the file and how far it got', async () => {
  const whole = gzipSync(
    Array.from({ length: 2000 }, (_, i) => JSON.stringify(segmentEvent('page', { userId: 'cut', messageId: `cut-${i}` }))).join('\n'),
  );
  writeFileSync(path.join(dir, 'cut.jsonl.gz'), whole.subarray(0, Math.floor(whole.length / 2)));

  const result = await run(['replay', 'cut.jsonl.gz']);

  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(
    /^segment-ingest: cut\.jsonl\.gz is not readable gzip after line \d+ \(unexpected end of file\); the lines before it were sent\n$/m,
  );
  expect(result.stderr).not.toMatch(STACK_FRAME);
});

it('a wrong key: exit 1, with the reason the endpoint gave', async () => {
  const result = await run(['replay', events, '--key', 'sk_not_a_key']);

  expect(result.code).toBe(1);
  expect(result.stderr).toContain(
    'segment-ingest: the endpoint refused the batch: 401 unknown API key. Check the key (--key, or SEGMENT_INGEST_KEY)',
  );
  expect(result.stderr).not.toMatch(STACK_FRAME);
});

it('the endpoint down: exit 1, before anything is read', async () => {
  const down = `http://127.0.0.1:${await freePort()}`;

  const result = await run(['replay', events, '--endpoint', down]);

  expect(result).toMatchObject({ code: 1, stdout: '' });
  expect(result.stderr).toBe(
    `segment-ingest: cannot reach the endpoint ${down} (connection refused). Is the local stack running (npm start)? Otherwise pass --endpoint URL, or --stage NAME for a deployed stage.\n`,
  );
});

it('the emulators down: exit 1, naming what could not be reached', async () => {
  const down = `http://127.0.0.1:${await freePort()}`;

  const result = await run(['status'], { SEGMENT_INGEST_DYNAMODB_ENDPOINT: down, SEGMENT_INGEST_SQS_ENDPOINT: down });

  expect(result.code).toBe(1);
  expect(result.stderr).toBe(
    `segment-ingest: cannot reach DynamoDB at ${down} or SQS at ${down} (connection refused). Is the local stack running (npm start)? Point at another one with --dynamodb-endpoint/--sqs-endpoint, or at a deployed stage with --stage.\n`,
  );
});

it('a stage that has no tables: exit 1', async () => {
  const result = await run(['sources', 'list', '--stage', 'never-provisioned']);

  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(
    /^segment-ingest: a table of the stage does not exist \(.+\)\. Is the stage provisioned \(npm start creates the local one\)\?\n$/,
  );
});

it('unknown commands and options: exit 2 with a pointer to --help', async () => {
  const command = await run(['purge']);
  const option = await run(['status', '--verbose']);
  const value = await run(['replay', events, '--concurrency', 'many']);

  expect(command).toMatchObject({
    code: 2,
    stderr: 'segment-ingest: unknown command "purge". Run "segment-ingest --help" for the commands.\n',
  });
  expect(option).toMatchObject({
    code: 2,
    stderr: 'segment-ingest: unknown option --verbose\nRun "segment-ingest status --help" for its options.\n',
  });
  expect(value).toMatchObject({ code: 2, stderr: 'segment-ingest: --concurrency must be a whole number from 1 to 64, got "many"\n' });
});
