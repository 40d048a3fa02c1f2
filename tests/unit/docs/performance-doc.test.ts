/**
 * docs/performance.md is written by `npm run bench` (bench/performance-page.ts): its text around the
 * report must be the generator's, and the report must name the command and the date of its run.
 */
import { readFileSync } from 'node:fs';
import { PERFORMANCE_DOC_FILE, performancePage, reportOfPage } from '../../../bench/performance-page';

describe('docs/performance.md', () => {
  const page = readFileSync(PERFORMANCE_DOC_FILE, 'utf8');

  it('is the generated page around a report (run `npm run docs:performance` when this fails)', () => {
    // Act
    const report = reportOfPage(page);

    // Assess
    expect(report).toBeDefined();
    expect(page).toBe(performancePage(report ?? ''));
  });

  it('says which command produced the figures, and when', () => {
    expect(reportOfPage(page)).toMatch(/^`npm run bench` on \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
  });
});
