/**
 * Each Lambda bundle holds its own side of the queue and nothing of the other's: built with the
 * deploy's esbuild settings, its metafile lists every source file it took in. The lint rule in
 * eslint.config.mjs catches a forbidden import where it is written; this catches it however deep.
 */
import { build } from 'esbuild';
import path from 'node:path';
import { bundleOptions, FUNCTIONS } from '../../scripts/build';

const root = path.resolve(__dirname, '../..');

/** The project's own files in a function's bundle, relative to the project (no node_modules). */
async function bundledFiles(entry: string): Promise<string[]> {
  const result = await build({
    ...bundleOptions(path.join(root, 'dist', 'bundle-test', 'index.js')),
    entryPoints: [path.join(root, entry)],
    absWorkingDir: root,
    write: false,
    sourcemap: false,
    minify: false,
  });
  return Object.keys(result.metafile?.inputs ?? {}).filter((file) => !file.includes('node_modules/'));
}

describe('bundle contents', () => {
  let ingest: string[];
  let worker: string[];
  let lake: string[];
  beforeAll(async () => {
    [ingest, worker, lake] = await Promise.all([
      bundledFiles(FUNCTIONS.ingest),
      bundledFiles(FUNCTIONS.worker),
      bundledFiles(FUNCTIONS.lake),
    ]);
  }, 60_000);

  it('the ingest bundle holds lib/ingest and no module of the worker or the administration', () => {
    expect(ingest).toContain('lib/ingest/handler.ts');
    expect(ingest.filter((file) => file.startsWith('lib/worker/') || file.startsWith('lib/admin/'))).toEqual([]);
  });

  it('the worker bundle holds lib/worker and no module of the ingest function or the administration', () => {
    expect(worker).toContain('lib/worker/process-batch.ts');
    expect(worker.filter((file) => file.startsWith('lib/ingest/') || file.startsWith('lib/admin/'))).toEqual([]);
  });

  it('the lake bundle holds lib/lake and the event item reader, no module of the ingest function, the administration or the batch', () => {
    expect(lake).toEqual(expect.arrayContaining(['lib/lake/write.ts', 'lib/lake/compact.ts', 'lib/tables/events.ts']));
    expect(lake.filter((file) => /^lib\/(ingest|admin)\/|^lib\/worker\/process-batch/.test(file))).toEqual([]);
  });

  it('the lake bundle reads the tables through lib/tables, holding no module of the worker', () => {
    expect(lake.filter((file) => file.startsWith('lib/worker/'))).toEqual([]);
  });

  it('no bundle holds the CLI, the local stack, the bench or the tests', () => {
    const outside = [...ingest, ...worker, ...lake].filter((file) => /^(cli|local|bench|tests|scripts)\//.test(file));

    expect(outside).toEqual([]);
  });
});
