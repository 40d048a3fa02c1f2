/**
 * `npx tsx bench/privacy-ratio.ts [ROUNDS] [ROUND_MS] [SHAPE...]`: the ingest handler's CPU per
 * event with the ten-rule privacy policy of bench/privacy.ts beside the same handler without one,
 * timed in the same process in alternating rounds (off, on, on, off, …), so a change of the
 * machine's load moves both sides of each pair. Prints each shape's ratios (on ÷ off), their median
 * and spread; issue 26's target is a median under 1.3. Defaults: 7 rounds of 1000 ms, every shape.
 */
import { performance } from 'node:perf_hooks';
import { httpEvents, ingestRig, installLogSink } from './in-process';
import { SHAPES, type ShapeId } from './shapes';

process.env.AWS_ACCESS_KEY_ID = 'AKIDBENCHMARK0000000';
process.env.AWS_SECRET_ACCESS_KEY = 'benchmark';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** Requests per shape: as in bench/in-process.ts's accounting pass. */
const REQUESTS: Record<ShapeId, number> = { single: 400, batch: 20, webhook: 4 };

type Rig = ReturnType<typeof ingestRig> & { events: ReturnType<typeof httpEvents>['events'] };

async function rig(shape: ShapeId, privacy: boolean): Promise<Rig> {
  const { events } = httpEvents(shape, REQUESTS[shape]);
  const built = ingestRig(shape, false, privacy);
  built.fake.setMode('record');
  const expected = SHAPES[shape].eventsPerRequest;
  for (const event of events) {
    const response = await built.handler(event);
    const accepted = (JSON.parse(response.body) as { accepted?: number }).accepted;
    if (response.statusCode !== 200 || accepted !== expected) throw new Error(`ingest answered ${response.statusCode} ${response.body}`);
  }
  built.fake.setMode('replay');
  return { ...built, events };
}

/** CPU µs per event for one round of about `roundMs`, the fake AWS's own time taken out. */
async function round(rig: Rig, eventsPerRequest: number, roundMs: number): Promise<number> {
  rig.fake.reset();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  let calls = 0;
  do {
    for (const event of rig.events) {
      const response = await rig.handler(event);
      if (response.statusCode !== 200) throw new Error(`ingest answered ${response.statusCode} ${response.body}`);
    }
    calls += rig.events.length;
  } while (performance.now() - wall0 < roundMs);
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system - rig.fake.observed.overheadMs * 1000) / (calls * eventsPerRequest);
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

export interface PrivacyRatio {
  shape: ShapeId;
  offCpuUsPerEvent: number[];
  onCpuUsPerEvent: number[];
  ratios: number[];
  ratioMedian: number;
}

/** The policy on beside off, `rounds` pairs of rounds of `roundMs` each, after two warm-up rounds of each. */
export async function measurePrivacyRatio(shape: ShapeId, rounds: number, roundMs: number): Promise<PrivacyRatio> {
  const off = await rig(shape, false);
  const on = await rig(shape, true);
  const perRequest = SHAPES[shape].eventsPerRequest;
  for (let i = 0; i < 2; i++) for (const side of [off, on]) await round(side, perRequest, roundMs);
  const offUs: number[] = [];
  const onUs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first, so neither always follows the other's garbage.
    const order = r % 2 === 0 ? [off, on] : [on, off];
    for (const side of order) (side === off ? offUs : onUs).push(await round(side, perRequest, roundMs));
  }
  const ratios = onUs.map((us, i) => us / (offUs[i] as number));
  return { shape, offCpuUsPerEvent: offUs, onCpuUsPerEvent: onUs, ratios, ratioMedian: median(ratios) };
}

async function main(): Promise<void> {
  const [rounds = '7', roundMs = '1000', ...shapes] = process.argv.slice(2);
  installLogSink();
  for (const shape of (shapes.length > 0 ? shapes : Object.keys(SHAPES)) as ShapeId[]) {
    const result = await measurePrivacyRatio(shape, Number(rounds), Number(roundMs));
    const fixed = (values: number[], digits: number) => values.map((v) => v.toFixed(digits)).join(' ');
    process.stderr.write(
      `${shape}: on/off median ${result.ratioMedian.toFixed(3)}x (min ${Math.min(...result.ratios).toFixed(3)}, max ${Math.max(...result.ratios).toFixed(3)}); ` +
        `ratios ${fixed(result.ratios, 3)}; off µs/event ${fixed(result.offCpuUsPerEvent, 1)}; on ${fixed(result.onCpuUsPerEvent, 1)}\n`,
    );
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
