import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The boundaries of lib/ (docs/architecture.md): each side of the queue is one Lambda bundle and one
 * IAM role, so neither imports the other; both use shared/, spec/, message/ and tables/ (one module
 * per table, which the CLI reads too, so it takes nothing of either side); admin/ serves only the CLI
 * and the local stack. A folder may not import the folders named for it here.
 */
const FORBIDDEN_IMPORTS = {
  'lib/shared': ['spec', 'message', 'tables', 'ingest', 'worker', 'admin'],
  'lib/spec': ['message', 'tables', 'ingest', 'worker', 'admin'],
  'lib/message': ['tables', 'ingest', 'worker', 'admin'],
  'lib/tables': ['message', 'ingest', 'worker', 'admin', 'lake'],
  'lib/ingest': ['worker', 'admin'],
  'lib/worker': ['ingest', 'admin'],
  'lib/admin': ['ingest', 'worker'],
  'functions/ingest': ['worker', 'admin'],
  'functions/worker': ['ingest', 'admin'],
};
const boundaries = Object.entries(FORBIDDEN_IMPORTS).map(([folder, forbidden]) => ({
  files: [`${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            regex: `(^|/)(lib/)?(${forbidden.join('|')})(/|$)`,
            message: `${folder} may not import lib/${forbidden.join(', lib/')} (see docs/architecture.md: one folder per Lambda, shared code in lib/shared, lib/spec, lib/message and lib/tables)`,
          },
        ],
      },
    ],
  },
}));

/**
 * The CLI reads and writes the tables through lib/tables/, never through a function's code: it may
 * not import lib/worker or lib/ingest. The local stack runs the two functions, so it may import their
 * entry factories only: the handlers, the worker's `createWorker` (lib/worker/process-batch.ts,
 * with `WorkerDeps`) and the type `IngestDeps` (lib/ingest/accept.ts).
 */
const entryPoints = [
  {
    files: ['cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)lib/(worker|ingest)(/|$)',
              message: 'cli/ may not import lib/worker or lib/ingest: a table is read through lib/tables/ (docs/architecture.md)',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['local/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)lib/(ingest/(?!handler$|accept$)|worker/(?!handler$|process-batch$))',
              message:
                'local/ may import of lib/ingest and lib/worker only their entry factories: lib/ingest/handler, lib/worker/handler, lib/worker/process-batch',
            },
            {
              regex: '(^|/)lib/ingest/accept$',
              allowTypeImports: true,
              message: 'local/ may import only the type IngestDeps from lib/ingest/accept',
            },
            {
              regex: '(^|/)lib/worker/process-batch$',
              allowImportNames: ['createWorker', 'WorkerDeps'],
              message: 'local/ may import only createWorker and WorkerDeps from lib/worker/process-batch',
            },
          ],
        },
      ],
    },
  },
];

export default tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', '.data/**', 'coverage/**', '.serverless/**', '.bench/**', '*.js', '*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...boundaries,
  ...entryPoints,
  // Functions a reader can hold in view: about 60 lines in lib/ (what the Lambdas run), 80 in the
  // CLI, the local stack and the scripts; blank lines and comments do not count.
  ...[
    { files: ['lib/**/*.ts', 'functions/**/*.ts'], max: 60 },
    { files: ['cli/**/*.ts', 'local/**/*.ts', 'scripts/**/*.ts'], max: 80 },
  ].map(({ files, max }) => ({
    files,
    // Generated from the JSON schemas (scripts/generate-validators.ts): nobody reads it as code.
    ignores: ['lib/spec/compiled-validators.ts'],
    rules: { 'max-lines-per-function': ['error', { max, skipBlankLines: true, skipComments: true }] },
  })),
  {
    // CommonJS that serverless loads with plain `require` (it cannot load TypeScript: infra/serverless.cjs loads it through tsx).
    files: ['infra/**/*.js', 'infra/**/*.cjs', 'scripts/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { process: 'readonly', __filename: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The CLI's bin (a CommonJS shim that loads the TypeScript sources) and Jest's reporter: outside the TS project.
    files: ['bin/**/*.js', 'tests/support/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'commonjs',
      globals: { require: 'readonly', process: 'readonly' },
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
);
