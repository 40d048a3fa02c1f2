/**
 * The reporter that ends `npm test` with the skipped tests by name (the browser test without
 * Chromium says so in its name), fed with a result shaped as Jest's aggregated result.
 */
import path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the reporter is CommonJS, as Jest loads it
const { describeSkipped } = require('../../support/skipped-reporter.js') as {
  describeSkipped(results: unknown, rootDir: string): string[];
};

const root = path.resolve(__dirname, '..', '..', '..');
const file = (name: string, tests: Array<{ fullName: string; status: string }>) => ({
  testFilePath: path.join(root, name),
  testResults: tests,
});

describe('skipped-reporter', () => {
  it('names each skipped test by file and full name', () => {
    // Prepare
    const results = {
      testResults: [
        file('tests/integration/browser-analytics-next.test.ts', [
          { fullName: 'analytics.js in Chromium: no Chromium at /usr/bin/chromium or CHROMIUM_PATH', status: 'pending' },
        ]),
        file('tests/unit/a.test.ts', [
          { fullName: 'runs', status: 'passed' },
          { fullName: 'later', status: 'todo' },
        ]),
      ],
    };

    // Act
    const lines = describeSkipped(results, root);

    // Assess
    expect(lines).toEqual([
      'Skipped 2 tests:',
      '  tests/integration/browser-analytics-next.test.ts › analytics.js in Chromium: no Chromium at /usr/bin/chromium or CHROMIUM_PATH',
      '  tests/unit/a.test.ts › later',
    ]);
  });

  it('says nothing when nothing was skipped', () => {
    expect(describeSkipped({ testResults: [file('tests/unit/a.test.ts', [{ fullName: 'runs', status: 'passed' }])] }, root)).toEqual([]);
  });
});
