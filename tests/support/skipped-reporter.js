'use strict';
/**
 * A Jest reporter that ends the run with the tests it skipped, by file and full name, so `npm test`
 * says which test "1 skipped" is (the name says why: the browser test without Chromium). Plain
 * CommonJS: Jest loads reporters with `require`, before any transform.
 */
const path = require('node:path');

/** The lines naming each skipped test of `results` (Jest's aggregated result), or none. */
function describeSkipped(results, rootDir) {
  const skipped = [];
  for (const file of results.testResults) {
    for (const test of file.testResults) {
      if (test.status === 'pending' || test.status === 'skipped' || test.status === 'todo') {
        skipped.push(`  ${path.relative(rootDir, file.testFilePath)} › ${test.fullName}`);
      }
    }
  }
  return skipped.length === 0 ? [] : [`Skipped ${skipped.length} test${skipped.length === 1 ? '' : 's'}:`, ...skipped];
}

class SkippedReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const lines = describeSkipped(results, this.rootDir);
    if (lines.length > 0) process.stderr.write(`\n${lines.join('\n')}\n`);
  }
}

module.exports = SkippedReporter;
module.exports.describeSkipped = describeSkipped;
