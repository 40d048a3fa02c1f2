/**
 * The bench's lake section: bench/lake-cost.ts measures the lake function writing real Parquet from
 * the bench's events (S3 answered in process, as the rest of the bench answers AWS), and the report
 * checks the figure against issue 24's target of $0.05 per million events.
 */
import { LAKE_TARGET_PER_MILLION, measureLakeCost, type LakeCost } from '../../../bench/lake-cost';
import { lakeTargetLine, renderReport, targetLines, type BenchResult } from '../../../bench/report';

const result = (lake?: LakeCost): BenchResult => ({
  startedAt: '2026-12-07T16:00:00.000Z',
  command: 'npm run bench',
  machine: { node: '20', cpus: 2, cpuModel: 'x', loadAtStart: [0, 0, 0], loadAtEnd: [0, 0, 0] },
  settings: { rounds: 1, roundMs: 1, coldStartRuns: 1, e2eSeconds: 1 },
  shapes: {},
  ...(lake ? { lake } : {}),
  seconds: 1,
});

describe('measureLakeCost', () => {
  it('measures a run through the lake function and prices its parts per million events', async () => {
    // Act
    const cost = await measureLakeCost(2000);

    // Assess
    expect(cost.events).toBe(2000);
    expect(cost.batch).toBe(1000);
    expect(cost.msPerBatch).toBeGreaterThan(0);
    expect(cost.bytesPerEvent).toBeGreaterThan(20); // Parquet was written, not an empty body
    expect(cost.lambdaPerMillion).toBeGreaterThan(0);
    expect(cost.s3RequestsPerMillion).toBeGreaterThan(0);
    expect(cost.storagePerMillionPerMonth).toBeGreaterThan(0);
    expect(cost.costPerMillion).toBeCloseTo(cost.lambdaPerMillion + cost.s3RequestsPerMillion + cost.storagePerMillionPerMonth, 3);
  }, 60_000);
});

describe('the report', () => {
  const lake: LakeCost = {
    events: 20_000,
    batch: 1000,
    msPerBatch: 50,
    bytesPerEvent: 163.3,
    lambdaPerMillion: 0.002,
    s3RequestsPerMillion: 0.0324,
    storagePerMillionPerMonth: 0.0035,
    costPerMillion: 0.0379,
  };

  it('puts the lake among the targets, met at $0.0379 against $0.05', () => {
    expect(LAKE_TARGET_PER_MILLION).toBe(0.05);
    expect(targetLines(result(lake))).toContain(lakeTargetLine(lake));
    expect(lakeTargetLine(lake)).toMatch(
      /at most \$0\.0500 per million events: \$0\.0379 \(Lambda \$0\.0020, S3 requests \$0\.0324, storage \$0\.0035 a month;.* — met$/,
    );
    expect(renderReport(result(lake))).toContain(`- ${lakeTargetLine(lake)}`);
  });

  it('says "not met" above the target', () => {
    expect(lakeTargetLine({ ...lake, costPerMillion: 0.06 })).toMatch(/— \*\*not met\*\*$/);
  });

  it('leaves the line out for an older run without the lake', () => {
    expect(targetLines(result()).join('\n')).not.toMatch(/lake/);
  });
});
