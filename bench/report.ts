/**
 * The bench's report: one table per traffic shape (columns) and measure (rows), the cold-start
 * table, and the targets (issue 22's site-day profile units and cost, issue 15's write units,
 * issue 20's bundles, issue 6's absolute rates) checked against the numbers, as Markdown; the CPU
 * ratios to the JSON floor are information, not targets (issue 22).
 */
import type { ColdStart } from './cold-start';
import type { ShapeCost } from './cost';
import type { EndToEnd } from './e2e';
import { LAKE_TARGET_PER_MILLION, type LakeCost } from './lake-cost';
import {
  CONCURRENCIES,
  concurrencyFor,
  drainSeconds,
  DYNAMODB_LATENCY_MS,
  LAMBDA_DURATION_MODEL,
  monthlyDollars,
  NEW_TABLE_WRITE_UNITS,
  REPLAY_EVENTS,
  STEADY_RATES,
} from './capacity';
import { SESSION_EVENTS, type IngestMeasurement, type Interleaved, type WorkerMeasurement } from './in-process';
import type { NaiveMeasurement } from './naive';
import type { PrivacyRatio } from './privacy-ratio';
import { DEPLOYMENT, PRICES } from './prices';
import { SHAPES, type ShapeId } from './shapes';
import { describeModel, type SiteDayModel } from './site-day';
import type { SiteDayMeasurement } from './site-day-pass';

/** Issue 22's targets on the site-day model. */
export const SITE_DAY_PROFILE_WRU_TARGET = 0.1;
export const SITE_DAY_COST_TARGETS: Record<ShapeId, number> = { single: 1.35, batch: 1.15, webhook: 1.15 };

/** A shape's site-day figures: the measurement, and its cost on the site day (when the shape's ingest and worker ran too). */
export type SiteDayResult = SiteDayMeasurement & {
  /** Cost per million events with the stage's defaults ÷ the floor of the same events. */
  costRatio?: number;
  cost?: ShapeCost;
};

export interface BenchResult {
  startedAt: string;
  command: string;
  machine: { node: string; cpus: number; cpuModel: string; loadAtStart: number[]; loadAtEnd: number[] };
  settings: {
    rounds: number;
    roundMs: number;
    coldStartRuns: number;
    e2eSeconds: number;
    /** The function memory the run priced Lambda at (bench/prices.ts); absent in runs before the webhooks function, all at 512 MB. */
    memoryMb?: { ingest: number; webhooks: number; worker: number };
  };
  shapes: Partial<
    Record<
      ShapeId,
      {
        ingest?: IngestMeasurement;
        /** The same traffic with the 50-event tracking plan of bench/plan.ts on. */
        ingestWithPlan?: IngestMeasurement;
        /** The same traffic with the ten-rule privacy policy of bench/privacy.ts on (runs before 2026-12-07). */
        ingestWithPrivacy?: IngestMeasurement;
        /** The ten-rule privacy policy off and on in one process, alternating rounds (bench/privacy-ratio.ts). */
        privacyRatio?: PrivacyRatio;
        worker?: WorkerMeasurement;
        /** The worker with schema learning off (lib/worker/schemas/), to show what it costs. */
        workerWithoutSchemas?: WorkerMeasurement;
        /** The worker with profiles off (stage parameter profiles), to show what they cost. */
        workerWithoutProfiles?: WorkerMeasurement;
        workerLargeBatch?: WorkerMeasurement;
        naive?: NaiveMeasurement;
        cost?: ShapeCost;
        /** The site-day model's traffic (bench/site-day.ts), with the stage's defaults; absent in runs before 2026-12-07. */
        siteDay?: SiteDayResult;
      }
    >
  >;
  coldStart?: ColdStart[];
  endToEnd?: EndToEnd[];
  /** The site-day model's parameters, as run (bench/site-day.ts). */
  siteDayModel?: SiteDayModel;
  /** The lake's cost per million events (bench/lake-cost.ts); absent in older runs. */
  lake?: LakeCost;
  seconds: number;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, digits = 1) => n.toFixed(digits);
const money = (n: number) => `$${n < 0.1 ? n.toFixed(4) : n.toFixed(3)}`;
const ratio = (n: number) => `${n.toFixed(2)}x`;
const medianOf = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};
/** A ratio over interleaved rounds: the median, and the lowest and highest round. */
const range = (median: number, min: number, max: number) => `${ratio(median)} (${min.toFixed(2)}–${max.toFixed(2)})`;
/** A handler's ratio to its floor over interleaved rounds. */
const spread = (i: Interleaved | undefined) => i && range(i.ratioMedian, i.ratioMin, i.ratioMax);
/** The design's own passes (bench/passes.ts) ÷ the floor, in the same rounds; absent in older runs. */
const passesSpread = (i: Interleaved | undefined) =>
  i?.passesRatioMedian === undefined || i.passesRatioMin === undefined || i.passesRatioMax === undefined
    ? undefined
    : range(i.passesRatioMedian, i.passesRatioMin, i.passesRatioMax);
/** ", the design's own passes need Nx", for a target line. */
const passesNote = (i: Interleaved | undefined) =>
  i?.passesRatioMedian === undefined ? '' : ` (the design's own passes alone, bench/passes.ts: ${ratio(i.passesRatioMedian)})`;
const loads = (i: Interleaved | undefined) => i && `${(i.loadAtStart[0] ?? 0).toFixed(2)} → ${(i.loadAtEnd[0] ?? 0).toFixed(2)}`;
const perEvent = (ingest: IngestMeasurement) => ingest.cpuUsPerRequest / ingest.eventsPerRequest;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

type ShapeResult = NonNullable<BenchResult['shapes'][ShapeId]>;
type RowOf = (label: string, f: (s: ShapeResult, id: ShapeId) => string | undefined) => string[];

/** The site-day rows: what profiles cost on live traffic of many users (bench/site-day.ts). */
function siteDayRows(result: BenchResult, row: RowOf, columns: number): string[][] {
  if (!Object.values(result.shapes).some((s) => s.siteDay)) return [];
  const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  return [
    ['**Site day: live traffic of many users, stage defaults (profiles and schemas on)**', ...Array.from({ length: columns }, () => '')],
    row('events metered (warm-up before, unmetered)', (s) => s.siteDay && `${int(s.siteDay.events)} (${int(s.siteDay.warmUpEvents)})`),
    row(
      'events of a full invocation / seconds of traffic it covers',
      (s) => s.siteDay && `${int(s.siteDay.eventsPerFullInvocation)} / ${fixed(s.siteDay.windowSeconds)} s`,
    ),
    row('profile write units per event', (s) => s.siteDay && fixed(s.siteDay.profileWruPerEvent, 3)),
    row('profile read units per event', (s) => s.siteDay && fixed(s.siteDay.profileRruPerEvent, 3)),
    row(
      'profile requests per 1,000 events (by operation in the JSON)',
      (s) => s.siteDay && fixed(total(s.siteDay.profileRequestsPer1000Events)),
    ),
    row(
      'event write units / erasure-check read units per event',
      (s) => s.siteDay && `${fixed(s.siteDay.wruPerEvent, 2)} / ${fixed(s.siteDay.rruPerEvent, 2)}`,
    ),
    row('profiles, USD per million events', (s) => s.siteDay?.cost?.profiles && money(s.siteDay.cost.profiles.dollars)),
    row('**ours**, USD per million events (floor)', (s) => {
      const cost = s.siteDay?.cost;
      return cost && `**${money(cost.ours.dollars.total)}** (${money(cost.floor.dollars.total)})`;
    }),
    row('ours ÷ floor', (s) => (s.siteDay?.costRatio === undefined ? undefined : ratio(s.siteDay.costRatio))),
  ];
}

export function renderReport(result: BenchResult): string {
  const ids = (Object.keys(SHAPES) as ShapeId[]).filter((id) => result.shapes[id]);
  const cell = (id: ShapeId, f: (s: NonNullable<BenchResult['shapes'][ShapeId]>) => string | undefined) => {
    const shape = result.shapes[id];
    return (shape && f(shape)) ?? '–';
  };
  const row = (label: string, f: (s: NonNullable<BenchResult['shapes'][ShapeId]>, id: ShapeId) => string | undefined) => [
    label,
    ...ids.map((id) => cell(id, (s) => f(s, id))),
  ];
  const e2e = (id: ShapeId) => result.endToEnd?.find((e) => e.shape === id);

  const rows: string[][] = [
    ['**Ingest handler, in process**', ...ids.map(() => '')],
    row('requests/s per core', (s) => s.ingest && int(1e6 / s.ingest.cpuUsPerRequest)),
    row('events/s per core', (s) => s.ingest && int((1e6 / s.ingest.cpuUsPerRequest) * s.ingest.eventsPerRequest)),
    row('CPU µs per event', (s) => s.ingest && fixed(s.ingest.cpuUsPerRequest / s.ingest.eventsPerRequest)),
    row('floor: JSON.parse + stringify, µs per event', (s) => s.ingest && fixed(s.ingest.floorCpuUsPerEvent, 2)),
    row('ingest ÷ floor, median of interleaved rounds (min–max)', (s) => s.ingest && spread(s.ingest.interleaved)),
    row("the design's own passes ÷ floor, same rounds (bench/passes.ts)", (s) => s.ingest && passesSpread(s.ingest.interleaved)),
    row('load average during those rounds (1 min)', (s) => s.ingest && loads(s.ingest.interleaved)),
    row('CPU µs per event, 50-event tracking plan on', (s) => s.ingestWithPlan && fixed(perEvent(s.ingestWithPlan))),
    row('plan on ÷ plan off', (s) => s.ingest && s.ingestWithPlan && ratio(perEvent(s.ingestWithPlan) / perEvent(s.ingest))),
    row(
      'CPU µs per event, ten-rule privacy policy off / on (same process, alternating rounds)',
      (s) => s.privacyRatio && `${fixed(medianOf(s.privacyRatio.offCpuUsPerEvent))} / ${fixed(medianOf(s.privacyRatio.onCpuUsPerEvent))}`,
    ),
    row(
      'policy on ÷ off, median of the pairs (min–max) (target < 1.3)',
      (s) =>
        s.privacyRatio &&
        `${ratio(s.privacyRatio.ratioMedian)} (${ratio(Math.min(...s.privacyRatio.ratios))}–${ratio(Math.max(...s.privacyRatio.ratios))}) ${s.privacyRatio.ratioMedian < 1.3 ? 'met' : '**not met**'}`,
    ),
    row(
      'naive design, CPU µs per event: ingest / worker (measured beside)',
      (s) => s.naive && `${fixed(s.naive.ingestCpuUsPerEvent)} / ${fixed(s.naive.workerCpuUsPerEvent)}`,
    ),
    ['**Worker handler, in process**', ...ids.map(() => '')],
    row('events/s per core', (s) => s.worker && int(1e6 / s.worker.cpuUsPerEvent)),
    row('CPU µs per event', (s) => s.worker && fixed(s.worker.cpuUsPerEvent)),
    row('worker ÷ floor, median of interleaved rounds (min–max)', (s) => s.worker && spread(s.worker.interleaved)),
    row("the design's own passes ÷ floor, same rounds (bench/passes.ts)", (s) => s.worker && passesSpread(s.worker.interleaved)),
    row('load average during those rounds (1 min)', (s) => s.worker && loads(s.worker.interleaved)),
    row('CPU µs per event, schema learning off', (s) => s.workerWithoutSchemas && fixed(s.workerWithoutSchemas.cpuUsPerEvent)),
    row('CPU µs per event, profiles off', (s) => s.workerWithoutProfiles && fixed(s.workerWithoutProfiles.cpuUsPerEvent)),
    row('worker ÷ floor, profiles off, median of interleaved rounds (min–max)', (s) => spread(s.workerWithoutProfiles?.interleaved)),
    row('of which schema learning (timed alone), µs per event', (s) =>
      s.worker?.schemaLearnCpuUsPerEvent === undefined ? undefined : fixed(s.worker.schemaLearnCpuUsPerEvent, 2),
    ),
    row(`events per invocation (${DEPLOYMENT.workerBatchSize} messages)`, (s) => s.worker && int(s.worker.eventsPerInvocation)),
    row('events/s per core with 100 messages per invocation', (s) => s.workerLargeBatch && int(1e6 / s.workerLargeBatch.cpuUsPerEvent)),
    row('DynamoDB requests per 1,000 events', (s) => s.worker && fixed(s.worker.dynamoRequestsPer1000Events)),
    row('schema requests: a fresh instance / per 1,000 events after', (s) =>
      s.worker?.schemaRequestsFirstPass === undefined
        ? undefined
        : `${int(s.worker.schemaRequestsFirstPass)} / ${fixed(s.worker.schemaRequestsPer1000Steady ?? 0)}`,
    ),
    row('item bytes (event alone), mean', (s) => s.worker && `${int(s.worker.itemBytesMean)} (${int(s.worker.eventBytesMean)})`),
    row(
      'write units per event: ours / SPEC minimum item / floor',
      (s) =>
        s.worker && `${fixed(s.worker.wruPerEvent, 2)} / ${fixed(s.worker.leanWruPerEvent, 2)} / ${fixed(s.worker.floorWruPerEvent, 2)}`,
    ),
    row('profile write units per event', (s) =>
      s.worker?.profileWruPerEvent !== undefined ? fixed(s.worker.profileWruPerEvent, 2) : undefined,
    ),
    row('profile item bytes, mean', (s) => (s.worker?.profileItemBytesMean !== undefined ? int(s.worker.profileItemBytesMean) : undefined)),
    [`**Worker, the same events as users of ${SESSION_EVENTS} in a row**`, ...ids.map(() => '')],
    row('CPU µs per event', (s) => s.worker?.sessions && fixed(s.worker.sessions.cpuUsPerEvent)),
    row('DynamoDB requests per 1,000 events', (s) => s.worker?.sessions && fixed(s.worker.sessions.dynamoRequestsPer1000Events)),
    row('profile write units per event', (s) => s.worker?.sessions && fixed(s.worker.sessions.profileWruPerEvent, 2)),
    row('profile read units per event', (s) => s.worker?.sessions && fixed(s.worker.sessions.profileRruPerEvent, 2)),
    row('profiles, USD per million events', (s) => s.cost?.profiles?.sessions && money(s.cost.profiles.sessions.dollars)),
    ...siteDayRows(result, row, ids.length),
    ['**AWS requests per 1,000 events**', ...ids.map(() => '')],
    row('API Gateway (512 KB units)', (s) => s.cost && fixed(s.cost.ours.apiRequests)),
    row('Lambda invocations (ingest + worker)', (s) => s.cost && fixed(s.cost.ours.lambdaInvocations)),
    row('SQS (64 KB chunks: send, receive, delete)', (s) => s.cost && fixed(s.cost.ours.sqsRequests)),
    row('DynamoDB write units (floor)', (s) => s.cost && `${int(s.cost.ours.dynamoWriteUnits)} (${int(s.cost.floor.dynamoWriteUnits)})`),
    row('DynamoDB read units (erasure checks, profile reads)', (s) => s.cost && fixed(s.cost.ours.dynamoReadUnits)),
    row('of which profiles: write units', (s) => s.cost?.profiles && int(s.cost.profiles.writeUnits)),
    row('of which profiles: read units', (s) => s.cost?.profiles && fixed(s.cost.profiles.readUnits)),
    row(
      'Lambda GB-s per million events: billed (handler time alone)',
      (s) => s.cost && `${s.cost.billedGbSeconds === undefined ? '–' : fixed(s.cost.billedGbSeconds, 2)} (${fixed(s.cost.gbSeconds, 2)})`,
    ),
    ['**USD per million events**', ...ids.map(() => '')],
    row('API Gateway', (s) => s.cost && money(s.cost.ours.dollars.api)),
    row('Lambda', (s) => s.cost && money(s.cost.ours.dollars.lambda)),
    row('SQS', (s) => s.cost && money(s.cost.ours.dollars.sqs)),
    row('DynamoDB (writes and reads)', (s) => s.cost && money(s.cost.ours.dollars.dynamodb)),
    row('of which profiles', (s) => s.cost?.profiles && money(s.cost.profiles.dollars)),
    row('**ours**', (s) => s.cost && `**${money(s.cost.ours.dollars.total)}**`),
    row('floor (API + 1 invocation/request + 1 WRU/KB)', (s) => s.cost && money(s.cost.floor.dollars.total)),
    row('naive (1 SQS message + 1 PutItem per event, its compute measured)', (s) => s.cost && money(s.cost.naive.dollars.total)),
    row('ours ÷ floor', (s) => s.cost && ratio(s.cost.ours.dollars.total / s.cost.floor.dollars.total)),
    row(
      'ours ÷ floor with SPEC items (event + key + sourceId + ingest time)',
      (s) => s.cost && ratio(s.cost.ours.dollars.total / s.cost.specFloor.dollars.total),
    ),
    row('CloudWatch Logs, our lines (not in totals)', (s) => s.cost && money(s.cost.logsDollars)),
  ];
  if (result.endToEnd?.length) {
    rows.push(
      ['**End to end, local stack (emulators)**', ...ids.map(() => '')],
      row('requests/s: pipeline (bare server)', (_s, id) => {
        const e = e2e(id);
        return e && `${int(e.pipeline.requestsPerSecond)} (${int(e.bare.requestsPerSecond)})`;
      }),
      row('p50 / p99 ms: pipeline (bare server)', (_s, id) => {
        const e = e2e(id);
        return e && `${e.pipeline.p50Ms} / ${e.pipeline.p99Ms} (${e.bare.p50Ms} / ${e.bare.p99Ms})`;
      }),
      row('worker drained, events/s', (_s, id) => {
        const e = e2e(id);
        return (
          e && `${int(e.drain.eventsPerSecond)}${e.drain.drained ? '' : ` (${int(e.drain.written)} of ${int(e.drain.accepted)} in time)`}`
        );
      }),
      row('failed requests', (_s, id) => {
        const e = e2e(id);
        return e && String(e.pipeline.failed);
      }),
    );
  }
  const header = ['', ...ids.map((id) => SHAPES[id].label + (SHAPES[id].note ? ` (${SHAPES[id].note})` : ''))];

  const parts: string[] = [];
  parts.push(
    `\`${result.command}\` on ${result.startedAt.slice(0, 16).replace('T', ' ')} UTC: Node ${result.machine.node}, ${result.machine.cpus} cores (${result.machine.cpuModel}), ` +
      `load average ${result.machine.loadAtStart.map((l) => l.toFixed(2)).join(' / ')} (1/5/15 min) at start, ${result.machine.loadAtEnd.map((l) => l.toFixed(2)).join(' / ')} at end; ${Math.round(result.seconds)} s.`,
  );
  parts.push('', table(header, rows));
  if (result.coldStart?.length) {
    const cold = result.coldStart;
    const base = (_name: string) => cold.find((c) => c.name === 'sdk-only (SQS + DynamoDB)');
    parts.push(
      '',
      table(
        [
          'Cold start (fresh node, require the bundle)',
          'KB',
          'load + deps, ms (best)',
          'from process start, ms',
          'with --enable-source-maps, ms',
          'vs SDK-only: size / load',
        ],
        cold.map((c) => {
          const b = c.name === 'ingest' || c.name === 'worker' ? base(c.name) : undefined;
          return [
            c.name,
            int(c.bytes / 1024),
            `${fixed(c.loadMs)} (${fixed(c.loadMsBest)})`,
            fixed(c.readyMs),
            c.loadMsSourceMaps === undefined ? '–' : fixed(c.loadMsSourceMaps),
            b ? `${ratio(c.bytes / b.bytes)} / ${ratio(c.loadMs / b.loadMs)}` : '–',
          ];
        }),
      ),
    );
  }
  const capacity = capacityTables(result);
  if (capacity) parts.push('', capacity);
  if (result.siteDayModel) parts.push('', `Site day (bench/site-day.ts): ${describeModel(result.siteDayModel)}.`);
  parts.push('', ...targetLines(result).map((t) => `- ${t}`));
  parts.push(
    '',
    `Prices: ${PRICES.region}, on-demand list prices assumed as of ${PRICES.assumedOn} (bench/prices.ts); ${lambdaMemoryText(result)}, ` +
      `worker batches of ${DEPLOYMENT.workerBatchSize} messages. ${LAMBDA_DURATION_MODEL} (bench/capacity.ts). ` +
      `Medians of ${result.settings.rounds} rounds of ${result.settings.roundMs} ms; cold start: median of ${result.settings.coldStartRuns} processes.`,
  );
  return parts.join('\n');
}

/** The Lambda memory the run's dollars were priced at: per function since the webhooks function, 512 MB for all before. */
export function lambdaMemoryText(result: BenchResult): string {
  const memory = result.settings.memoryMb;
  return memory
    ? `Lambda arm64: ingest ${memory.ingest} MB (single events, batches), webhooks ${memory.webhooks} MB (Webhooks arrays), worker ${memory.worker} MB`
    : 'Lambda arm64 at 512 MB for every function (this run predates the 256 MB ingest function)';
}

/**
 * The targets, each with the measured figure and whether it is met: issue 22's site-day profile
 * units and cost (beside the worst case, the bench's own events), issue 15's write units, issue 20's
 * bundles, issue 6's absolute rates, the lake; then the CPU ratios to the JSON floor, as information.
 */
export function targetLines(result: BenchResult): string[] {
  const lines: string[] = [];
  const mark = (ok: boolean) => (ok ? 'met' : '**not met**');
  const each = (f: (id: ShapeId) => void) => (Object.keys(SHAPES) as ShapeId[]).forEach(f);
  each((id) => lines.push(...siteDayTargets(result, id, mark)));
  each((id) => {
    const worker = result.shapes[id]?.worker;
    if (worker)
      lines.push(
        `write units per event (${SHAPES[id].label}) at most 1.10: ${fixed(worker.wruPerEvent, 2)} — ${mark(worker.wruPerEvent <= 1.1)}`,
      );
  });
  const single = result.shapes.single;
  if (single?.ingest) {
    const rps = 1e6 / single.ingest.cpuUsPerRequest;
    lines.push(`(absolute target) single-event ingest ≥ 5,000 requests/s per core: ${int(rps)} — ${mark(rps >= 5000)}`);
  }
  each((id) => {
    const worker = result.shapes[id]?.worker;
    if (!worker) return;
    const eps = 1e6 / worker.cpuUsPerEvent;
    lines.push(`(absolute target) worker ≥ 30,000 events/s per core (${SHAPES[id].label}): ${int(eps)} — ${mark(eps >= 30000)}`);
  });
  for (const name of ['ingest', 'worker']) {
    const ours = result.coldStart?.find((c) => c.name === name);
    const base = result.coldStart?.find((c) => c.name === 'sdk-only (SQS + DynamoDB)');
    if (!ours || !base) continue;
    const size = ours.bytes / base.bytes;
    lines.push(
      `${name} bundle ≤ 1.2x the SDK-only bundle (the same SDK clients, no code of ours): ${ratio(size)} (${int(ours.bytes / 1024)} KB against ${int(base.bytes / 1024)} KB; load time ${ratio(ours.loadMs / base.loadMs)}, information) — ${mark(size <= 1.2)}`,
    );
  }
  if (result.lake) lines.push(lakeTargetLine(result.lake));
  lines.push(...cpuInformation(result));
  return lines;
}

/** Issue 22's targets for one shape: profile write units and cost on the site day, the worst case beside. */
function siteDayTargets(result: BenchResult, id: ShapeId, mark: (ok: boolean) => string): string[] {
  const shape = result.shapes[id];
  const day = shape?.siteDay;
  const lines: string[] = [];
  const worstWru = shape?.worker?.profileWruPerEvent;
  const worstCost = shape?.cost && shape.cost.ours.dollars.total / shape.cost.floor.dollars.total;
  const label = SHAPES[id].label;
  if (day) {
    const wru = day.profileWruPerEvent;
    lines.push(
      `site day (${label}): profile write units per event at most ${SITE_DAY_PROFILE_WRU_TARGET.toFixed(2)}: ${fixed(wru, 3)} — ${mark(wru <= SITE_DAY_PROFILE_WRU_TARGET)}` +
        (worstWru === undefined ? '' : ` (worst case, the bench's own events, each a new user: ${fixed(worstWru, 2)})`),
    );
  }
  const limit = SITE_DAY_COST_TARGETS[id];
  if (day?.costRatio !== undefined)
    lines.push(
      `site day (${label}): cost with the stage's defaults within ${limit}x of the floor: ${ratio(day.costRatio)} — ${mark(day.costRatio <= limit)}` +
        (worstCost === undefined ? '' : ` (worst case, the bench's own events: ${ratio(worstCost)})`),
    );
  const cost = shape?.cost;
  if (cost?.profiles) {
    const r = (cost.ours.dollars.total - cost.profiles.dollars) / cost.floor.dollars.total;
    lines.push(`(information) cost of ${label} without profiles, the bench's own events: ${ratio(r)} of the floor`);
  }
  return lines;
}

/** The CPU ratios to the JSON floor: information since issue 22 (Lambda compute is a small part of the bill). */
function cpuInformation(result: BenchResult): string[] {
  const lines: string[] = [];
  for (const id of Object.keys(SHAPES) as ShapeId[]) {
    const ingest = result.shapes[id]?.ingest;
    if (ingest && id !== 'single')
      lines.push(
        `(information) ${SHAPES[id].label} ingest CPU ÷ the parse+stringify floor: ${ratio(ingest.interleaved.ratioMedian)}${passesNote(ingest.interleaved)}`,
      );
    const worker = result.shapes[id]?.worker;
    if (!worker?.interleaved) continue;
    const off = result.shapes[id]?.workerWithoutProfiles?.interleaved;
    lines.push(
      `(information) worker CPU per event (${SHAPES[id].label}) ÷ the parse+stringify floor: ${ratio(worker.interleaved.ratioMedian)}` +
        (off ? `, ${ratio(off.ratioMedian)} with the stage's profiles off${passesNote(off)}` : '') +
        (worker.sessions ? `, ${ratio(worker.sessions.cpuUsPerEvent / worker.floorCpuUsPerEvent)} on users of 20 events` : ''),
    );
  }
  return lines;
}

/** The lake's own cost per million events against issue 24's target, with its parts. */
export function lakeTargetLine(lake: LakeCost): string {
  const ok = lake.costPerMillion <= LAKE_TARGET_PER_MILLION;
  return (
    `lake (Warehouse destination) at most ${money(LAKE_TARGET_PER_MILLION)} per million events: ${money(lake.costPerMillion)} ` +
    `(Lambda ${money(lake.lambdaPerMillion)}, S3 requests ${money(lake.s3RequestsPerMillion)}, storage ${money(lake.storagePerMillionPerMonth)} a month; ` +
    `${int(lake.events)} events in batches of ${int(lake.batch)}, ${fixed(lake.bytesPerEvent)} Parquet bytes per event) — ${ok ? 'met' : '**not met**'}`
  );
}

const duration = (seconds: number) =>
  seconds < 120
    ? `${Math.round(seconds)} s`
    : seconds < 7200
      ? `${Math.round(seconds / 60)} min`
      : seconds < 172_800
        ? `${(seconds / 3600).toFixed(1)} h`
        : `${(seconds / 86_400).toFixed(1)} d`;

/** Replay drain times and costs, and steady traffic a month, from the run's worker and cost figures. */
function capacityTables(result: BenchResult): string | undefined {
  const shapes = (Object.keys(SHAPES) as ShapeId[]).filter((id) => result.shapes[id]?.worker && result.shapes[id]?.cost);
  if (shapes.length === 0) return undefined;
  const replayRows: string[][] = [];
  for (const id of shapes) {
    const shape = result.shapes[id];
    if (!shape?.worker || !shape.cost) continue;
    for (const events of REPLAY_EVENTS) {
      const cells = CONCURRENCIES.map((c) => duration(drainSeconds(shape.worker as WorkerMeasurement, events, c).workers));
      const fresh = duration(drainSeconds(shape.worker, events, 1).freshTable);
      replayRows.push([
        `${SHAPES[id].label}: ${int(events)} events`,
        ...cells,
        fresh,
        money((events / 1e6) * shape.cost.ours.dollars.total),
      ]);
    }
  }
  const steadyRows: string[][] = [];
  for (const id of shapes) {
    const shape = result.shapes[id];
    if (!shape?.worker || !shape.cost) continue;
    for (const rate of STEADY_RATES) {
      steadyRows.push([
        `${SHAPES[id].label}: ${int(rate)} events/s`,
        fixed(concurrencyFor(shape.worker, rate), 2),
        money(monthlyDollars(rate, shape.cost.ours.dollars.total)),
        money(monthlyDollars(rate, shape.cost.naive.dollars.total)),
      ]);
    }
  }
  return [
    table(
      [
        'Replay (drain time by worker concurrency)',
        ...CONCURRENCIES.map((c) => `${c} workers`),
        `fresh table bound (${int(NEW_TABLE_WRITE_UNITS)} WRU/s)`,
        'cost',
      ],
      replayRows,
    ),
    '',
    table(['Steady traffic, 30 days', 'workers busy (concurrency)', 'cost: ours', 'cost: naive'], steadyRows),
    '',
    `Capacity model (bench/capacity.ts): a worker invocation takes its measured CPU time scaled to ${DEPLOYMENT.workerMemoryMb} MB of Lambda (1,769 MB = 1 vCPU), ` +
      `plus ${DYNAMODB_LATENCY_MS} ms per DynamoDB batch call, 4 in flight at once; the fresh-table bound is the busiest table (half the events) at a new on-demand table's initial throughput.`,
  ].join('\n');
}
