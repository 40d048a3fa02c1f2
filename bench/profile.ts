/**
 * `npx tsx --cpu-prof --cpu-prof-dir=.bench/prof bench/profile.ts ingest|worker SHAPE [SECONDS] [NAME=VALUE...]`:
 * runs one handler of the bench in a loop (the worker with the function settings given, e.g.
 * PROFILES=false), for a CPU profile (open the .cpuprofile in Chrome's
 * DevTools, or summarise it with `npx tsx bench/profile-summary.ts FILE`).
 */
import { installLogSink, measureIngest, measureWorker } from './in-process';
import type { ShapeId } from './shapes';

process.env.AWS_ACCESS_KEY_ID = 'AKIDBENCHMARK0000000';
process.env.AWS_SECRET_ACCESS_KEY = 'benchmark';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

async function main(): Promise<void> {
  const [task = 'ingest', shape = 'batch', seconds = '5', ...settings] = process.argv.slice(2);
  const env = Object.fromEntries(settings.map((setting) => [setting.split('=')[0], setting.slice(setting.indexOf('=') + 1)]));
  const logs = installLogSink();
  const options = { rounds: 1, roundMs: Number(seconds) * 1000 };
  const result =
    task === 'worker'
      ? await measureWorker(shape as ShapeId, options, logs, undefined, true, env)
      : await measureIngest(shape as ShapeId, options, logs);
  const { ratioMedian, passesRatioMedian } = result.interleaved;
  process.stderr.write(`${task} ${shape}: ratio ${ratioMedian.toFixed(2)}x, the design's passes ${passesRatioMedian?.toFixed(2)}x\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
