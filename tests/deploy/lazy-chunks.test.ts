/**
 * The tracking-plan compiler and the privacy policy code are files of their own beside the ingest
 * bundle (scripts/build.ts CHUNKS): the bundle must not carry them, and must load each when a
 * source has a plan or a policy. Built with the deploy's settings and run in a fresh `node`, as
 * Lambda runs it, against the emulators.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { preparePolicy, setPrivacyPolicy } from '../../lib/admin/privacy-policies';
import { preparePlan, setTrackingPlan } from '../../lib/admin/tracking-plans';
import { bundleOptions, buildFunction, FUNCTIONS } from '../../scripts/build';
import { httpApiEvent, segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

const root = path.resolve(__dirname, '../..');
const outDir = mkdtempSync(path.join(tmpdir(), 'ingest-bundle-'));
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
  await buildFunction('ingest', outDir);
}, 60_000);

afterAll(async () => {
  await stack.stop();
  rmSync(outDir, { recursive: true, force: true });
});

it('keeps the Ajv compiler out of the ingest bundle: only its runtime helpers for the Spec validators are in', async () => {
  const result = await build({
    ...bundleOptions(path.join(outDir, 'check.js')),
    entryPoints: [path.join(root, FUNCTIONS.ingest)],
    write: false,
  });

  const ajvFiles = Object.keys(result.metafile?.inputs ?? {}).filter((file) => file.includes('node_modules/ajv'));
  expect(ajvFiles.length).toBeGreaterThan(0);
  expect(ajvFiles.filter((file) => !file.includes('node_modules/ajv/dist/runtime/'))).toEqual([]);
});

it('keeps the privacy policy code out of the ingest bundle', async () => {
  const result = await build({
    ...bundleOptions(path.join(outDir, 'check.js')),
    entryPoints: [path.join(root, FUNCTIONS.ingest)],
    write: false,
  });

  const inputs = Object.keys(result.metafile?.inputs ?? {});
  expect(inputs).toContain('lib/ingest/privacy.ts');
  expect(inputs.filter((file) => /lib\/spec\/privacy-(rules|policy|engine)\.ts$/.test(file))).toEqual([]);
});

it('loads the privacy policy code from beside the bundle and applies a source policy', async () => {
  const policy = { consent: [{ category: 'Advertising', action: 'drop' }] };
  await setPrivacyPolicy(
    { documents: stack.clients.documents, tables: stack.config.tables },
    stack.sourceId,
    preparePolicy(JSON.stringify(policy)),
  );
  const authorization = `Basic ${Buffer.from(`${stack.key}:`).toString('base64')}`;
  const denied = segmentEvent('track', { context: { consent: { categoryPreferences: { Advertising: false } } } });
  const requests = [httpApiEvent({ headers: { authorization }, body: JSON.stringify(denied) })];

  const [withheld] = await runBundle(requests);

  expect(withheld?.statusCode).toBe(200);
  expect(JSON.parse(withheld?.body ?? '{}')).toMatchObject({ warnings: [expect.stringContaining('accepted and not stored')] });
});

it('loads the compiler from beside the bundle and enforces a source plan', async () => {
  const plan = { mode: 'block', events: { 'Order Completed': { properties: { properties: { required: ['total'] } } } } };
  await setTrackingPlan(
    { documents: stack.clients.documents, tables: stack.config.tables },
    stack.sourceId,
    preparePlan(JSON.stringify(plan)),
  );
  const authorization = `Basic ${Buffer.from(`${stack.key}:`).toString('base64')}`;
  const requests = [
    httpApiEvent({ headers: { authorization }, body: JSON.stringify(segmentEvent('track', { properties: {} })) }),
    httpApiEvent({ headers: { authorization }, body: JSON.stringify(segmentEvent('track', { properties: { total: 1 } })) }),
  ];
  const [blocked, stored] = await runBundle(requests);

  expect(blocked?.statusCode).toBe(400);
  expect(JSON.parse(blocked?.body ?? '{}')).toMatchObject({
    message: 'invalid track: "properties.total" is required (tracking plan rule "required")',
  });
  expect(stored?.statusCode).toBe(200);
});

/** Runs `requests` through the built bundle in a fresh node, one after another; their answers. */
async function runBundle(requests: unknown[]): Promise<Array<{ statusCode: number; body: string } | undefined>> {
  const script = `
    const { handler } = require(process.env.BUNDLE);
    (async () => {
      const answers = [];
      for (const event of JSON.parse(process.env.REQUESTS)) answers.push(await handler(event));
      process.stdout.write('\\nANSWERS ' + JSON.stringify(answers) + '\\n');
    })().catch((error) => { console.error(error); process.exit(1); });`;

  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
    env: {
      PATH: process.env.PATH,
      BUNDLE: path.join(outDir, 'index.js'),
      REQUESTS: JSON.stringify(requests),
      ...stack.env,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      LOG_LEVEL: 'ERROR',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });

  // The function's own log and metric lines go to stdout too.
  const answers = stdout.split('\n').find((line) => line.startsWith('ANSWERS ')) ?? '';
  return JSON.parse(answers.slice('ANSWERS '.length)) as Array<{ statusCode: number; body: string }>;
}
