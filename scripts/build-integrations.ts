/**
 * Builds the two integrations with Segment (docs/integrations.md): the Destination Actions
 * definition as CommonJS (its default export the definition, as Segment's action-destinations
 * loads a destination), and the analytics.js plugin as an ES module exporting `segmentIngest`.
 * Each leaves out the library it runs inside: Segment's runtime brings @segment/actions-core, the
 * page brings @segment/analytics-next. Written to each integration's dist/, never committed.
 */
import { build, type BuildOptions } from 'esbuild';
import path from 'node:path';

const root = path.resolve(__dirname, '..');

export const INTEGRATIONS = {
  'segment-actions': {
    entryPoints: [path.join(root, 'integrations/segment-actions/src/index.ts')],
    outfile: path.join(root, 'integrations/segment-actions/dist/index.js'),
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    external: ['@segment/actions-core'],
  },
  'analytics-plugin': {
    entryPoints: [path.join(root, 'integrations/analytics-plugin/src/index.ts')],
    outfile: path.join(root, 'integrations/analytics-plugin/dist/index.js'),
    platform: 'browser',
    target: 'es2020',
    format: 'esm',
    external: ['@segment/analytics-next'],
  },
} as const satisfies Record<string, BuildOptions>;

export type IntegrationName = keyof typeof INTEGRATIONS;

/** Builds one integration into its dist/index.js (with a source map); returns the file's path. */
export async function buildIntegration(name: IntegrationName): Promise<string> {
  const options = INTEGRATIONS[name];
  await build({ ...options, external: [...options.external], bundle: true, sourcemap: true, legalComments: 'none', logLevel: 'warning' });
  return options.outfile;
}

async function main(): Promise<void> {
  for (const name of Object.keys(INTEGRATIONS) as IntegrationName[]) {
    console.log(path.relative(root, await buildIntegration(name)));
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
