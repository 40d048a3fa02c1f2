/**
 * The report's targets (issue 22): the site day's profile write units and cost are checked against
 * their limits with the worst case beside them; the CPU ratios to the JSON floor are information only.
 */
import { lambdaMemoryText, targetLines, type BenchResult, type SiteDayResult } from '../../../bench/report';
import type { WorkerMeasurement } from '../../../bench/in-process';

const siteDay = (over: Partial<SiteDayResult>): SiteDayResult => ({
  shape: 'batch',
  events: 1000,
  warmUpEvents: 10,
  eventsPerFullInvocation: 2000,
  windowSeconds: 2,
  invocations: 10,
  profileWruPerEvent: 0.05,
  profileRruPerEvent: 0.1,
  profileRequestsPer1000Events: {},
  wruPerEvent: 1,
  leanWruPerEvent: 1,
  rruPerEvent: 0.1,
  erasureReadUnitsPerInvocation: 200,
  floorWruPerEvent: 1,
  seconds: 1,
  ...over,
});

const interleaved = {
  floorCpuUsPerEvent: [],
  handlerCpuUsPerEvent: [],
  ratios: [],
  ratioMedian: 20,
  ratioMin: 20,
  ratioMax: 20,
  loadAtStart: [],
  loadAtEnd: [],
};

const result = (shapes: BenchResult['shapes']): BenchResult => ({
  startedAt: '2026-12-07T16:00:00.000Z',
  command: 'npm run bench',
  machine: { node: '20', cpus: 2, cpuModel: 'x', loadAtStart: [0, 0, 0], loadAtEnd: [0, 0, 0] },
  settings: { rounds: 1, roundMs: 1, coldStartRuns: 1, e2eSeconds: 1 },
  shapes,
  seconds: 1,
});

describe('targetLines', () => {
  it("checks the site day's profile write units and cost against issue 22's limits", () => {
    const lines = targetLines(
      result({
        batch: { siteDay: siteDay({ costRatio: 1.1 }) },
        single: { siteDay: siteDay({ shape: 'single', profileWruPerEvent: 0.5, costRatio: 1.4 }) },
      }),
    ).join('\n');

    expect(lines).toMatch(/site day \(\/v1\/batch of 100\): profile write units per event at most 0\.10: 0\.050 — met/);
    expect(lines).toMatch(/site day \(\/v1\/batch of 100\): cost with the stage's defaults within 1\.15x of the floor: 1\.10x — met/);
    expect(lines).toMatch(/site day \(single event \(Direct\)\): profile write units per event at most 0\.10: 0\.500 — \*\*not met\*\*/);
    expect(lines).toMatch(
      /site day \(single event \(Direct\)\): cost with the stage's defaults within 1\.35x of the floor: 1\.40x — \*\*not met\*\*/,
    );
  });

  it('states the CPU ratios to the floor as information, never as met or not met', () => {
    const worker = { interleaved, cpuUsPerEvent: 100, floorCpuUsPerEvent: 5, wruPerEvent: 1 } as unknown as WorkerMeasurement;
    const cpu = targetLines(result({ batch: { worker } })).filter((line) => line.includes('parse+stringify floor'));

    expect(cpu).toEqual([
      expect.stringMatching(/^\(information\) worker CPU per event \(\/v1\/batch of 100\) ÷ the parse\+stringify floor: 20\.00x$/),
    ]);
  });
});

describe('lambdaMemoryText', () => {
  it('names the memory per function a run was priced at, and 512 MB for all in runs before the split', () => {
    const split = { ...result({}), settings: { ...result({}).settings, memoryMb: { ingest: 256, webhooks: 512, worker: 512 } } };

    expect(lambdaMemoryText(split)).toBe(
      'Lambda arm64: ingest 256 MB (single events, batches), webhooks 512 MB (Webhooks arrays), worker 512 MB',
    );
    expect(lambdaMemoryText(result({}))).toMatch(/^Lambda arm64 at 512 MB for every function/);
  });
});
