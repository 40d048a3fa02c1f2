const { buildArgv } = require('jest-cli');

/**
 * Coverage of lib/ is measured, and its threshold enforced, when the whole suite runs (`npm test`,
 * CI). A run of chosen tests (`npx jest tests/unit/worker`, `-t name`, `--shard`) covers a part of
 * lib/ only, so it collects nothing unless asked (`--coverage`) and never fails on the threshold.
 */
async function selectsTests() {
  try {
    // Jest's own parser, so flags that take a value are told apart from test path patterns.
    const argv = await buildArgv(process.argv.slice(2));
    return (
      argv._.length > 0 ||
      [argv.testPathPatterns, argv.testNamePattern, argv.findRelatedTests, argv.shard, argv.selectProjects].some(
        (option) => option !== undefined && option !== null && (!Array.isArray(option) || option.length > 0),
      ) ||
      Boolean(argv.onlyChanged || argv.onlyFailures || argv.changedSince || argv.lastCommit || argv.watch)
    );
  } catch {
    // Not started by the jest CLI (an editor integration): measure, as for the whole suite.
    return false;
  }
}

/** @type {() => Promise<import('jest').Config>} */
module.exports = async () => {
  const wholeSuite = !(await selectsTests());
  return {
    testEnvironment: 'node',
    roots: ['<rootDir>/tests'],
    testMatch: ['**/*.test.ts'],
    transform: {
      '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }],
      // The Parquet reader and writer (lib/lake/) are published as ES modules only; Jest on Node 20 loads CommonJS.
      '/node_modules/hyparquet[^/]*/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
    },
    transformIgnorePatterns: ['/node_modules/(?!hyparquet)'],
    globalSetup: '<rootDir>/tests/support/global-setup.ts',
    globalTeardown: '<rootDir>/tests/support/global-teardown.ts',
    testTimeout: 30000,
    // After Jest's summary, the skipped tests by name: the name says why (no Chromium, ...).
    reporters: ['default', '<rootDir>/tests/support/skipped-reporter.js'],
    maxWorkers: 2,
    collectCoverage: wholeSuite,
    coverageProvider: 'v8',
    // The compiled validators are generated (scripts/build.ts); their source, lib/spec/schemas.ts, is measured.
    collectCoverageFrom: ['lib/**/*.ts', '!lib/spec/compiled-validators.ts'],
    // One summary in the output, and coverage/coverage-summary.json for tools; per-file detail with `--coverageReporters=text`.
    coverageReporters: ['text-summary', 'json-summary'],
    // At what the whole suite reaches (98.6% of lines, 93.5% of branches), less a point for paths whose timing varies.
    coverageThreshold: wholeSuite ? { './lib/': { lines: 98, branches: 92 } } : undefined,
  };
};
