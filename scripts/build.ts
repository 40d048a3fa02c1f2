/**
 * Bundles each Lambda function with esbuild: one minified file per function under dist/<name>/,
 * with its source map, the AWS SDK bundled in (so the deployed code is exactly what was tested),
 * and beside it the modules it loads only when needed (`CHUNKS`).
 */
import { build, type BuildOptions, type Plugin } from 'esbuild';
import path from 'node:path';
import { writeValidators } from './generate-validators';

export const FUNCTIONS = {
  ingest: 'functions/ingest/handler.ts',
  worker: 'functions/worker/handler.ts',
  lake: 'functions/lake/handler.ts',
} as const;

const root = path.resolve(__dirname, '..');

/**
 * Modules a function imports lazily (`await import(...)`), bundled as files of their own beside
 * its index.js instead of into it: the ingest function loads the Ajv compiler only when a source
 * has a tracking plan, so its cold start does not pay for it (lib/ingest/plan-checks.ts).
 */
export const CHUNKS: Record<keyof typeof FUNCTIONS, Record<string, string>> = {
  ingest: { 'plan-compiler': 'lib/spec/plan-compiler.ts', 'privacy-engine': 'lib/spec/privacy-engine.ts' },
  worker: {},
  lake: {},
};

/** Keeps every `CHUNKS` module out of the bundles that import it: they import `./<name>.js` at run time. */
const lazyChunks: Plugin = {
  name: 'lazy-chunks',
  setup(pluginBuild) {
    const chunks = Object.values(CHUNKS).flatMap((byName) => Object.entries(byName));
    for (const [name, entry] of chunks) {
      pluginBuild.onResolve({ filter: new RegExp(`(^|/)${name}(\\.ts)?$`) }, (args) => {
        const target = path.resolve(args.resolveDir, args.path.endsWith('.ts') ? args.path : `${args.path}.ts`);
        return target === path.join(root, entry) && args.kind === 'dynamic-import' ? { path: `./${name}.js`, external: true } : undefined;
      });
    }
  },
};

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
    plugins: [lazyChunks],
  };
}

/** Builds a function's bundle and its chunks into `outDir` (index.js, <chunk>.js); returns their sizes in bytes. */
export async function buildFunction(name: keyof typeof FUNCTIONS, outDir: string): Promise<Record<string, number>> {
  const sizes: Record<string, number> = {};
  const entries: Array<[string, string]> = [['index', FUNCTIONS[name]], ...Object.entries(CHUNKS[name])];
  for (const [file, entry] of entries) {
    const result = await build({ ...bundleOptions(path.join(outDir, `${file}.js`)), entryPoints: [path.join(root, entry)] });
    sizes[file] = Object.values(result.metafile?.outputs ?? {}).find((o) => o.entryPoint)?.bytes ?? 0;
  }
  return sizes;
}

async function main(): Promise<void> {
  // The Spec validators are compiled here, from lib/spec/schemas.ts, not at cold start.
  if (writeValidators()) console.log('lib/spec/compiled-validators.ts regenerated from lib/spec/schemas.ts; commit it');
  for (const name of Object.keys(FUNCTIONS) as Array<keyof typeof FUNCTIONS>) {
    const sizes = await buildFunction(name, path.join(root, 'dist', name));
    for (const [file, bytes] of Object.entries(sizes)) console.log(`dist/${name}/${file}.js  ${(bytes / 1024).toFixed(0)} KB`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
