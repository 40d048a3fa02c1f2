/**
 * Bundles each Lambda function with esbuild: one minified file per function under dist/<name>/,
 * with its source map, the AWS SDK bundled in (so the deployed code is exactly what was tested).
 */
import { build, type BuildOptions } from 'esbuild';
import path from 'node:path';
import { writeValidators } from './generate-validators';

export const FUNCTIONS = {
  ingest: 'functions/ingest/handler.ts',
  worker: 'functions/worker/handler.ts',
} as const;

const root = path.resolve(__dirname, '..');

/** The esbuild settings of every function bundle (the benchmark builds its comparison bundles with them too). */
export function bundleOptions(outfile: string): BuildOptions {
  return {
    outfile,
    bundle: true,
    minify: true,
    sourcemap: true,
    // Stack traces still map to file and line; leaving the sources out makes the map 2.5x smaller,
    // and Node parses it at cold start when NODE_OPTIONS has --enable-source-maps (serverless.yml).
    sourcesContent: false,
    keepNames: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  };
}

async function main(): Promise<void> {
  // The Spec validators are compiled here, from lib/spec/schemas.ts, not at cold start.
  if (writeValidators()) console.log('lib/spec/compiled-validators.ts regenerated from lib/spec/schemas.ts; commit it');
  for (const [name, entry] of Object.entries(FUNCTIONS)) {
    const result = await build({ ...bundleOptions(path.join(root, 'dist', name, 'index.js')), entryPoints: [path.join(root, entry)] });
    const bytes = Object.values(result.metafile?.outputs ?? {}).find((o) => o.entryPoint)?.bytes ?? 0;
    console.log(`dist/${name}/index.js  ${(bytes / 1024).toFixed(0)} KB`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
