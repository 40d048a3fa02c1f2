/**
 * One in-process measurement in a fresh process (its own heap and JIT state), started by
 * bench/run.ts; the result goes back over IPC. (No forced GC between rounds: `--expose-gc` and
 * `gc()` made the handlers measurably slower afterwards.)
 *   argv[2]: {"task":"ingest"|"worker"|"naive"|"siteday","shape":"single"|"batch"|"webhook","rounds":n,"roundMs":ms,"batchSize"?:n,"plan"?:true,"privacy"?:true,"learn"?:false,"profiles"?:false}
 */
import { installLogSink, measureIngest, measureWorker } from './in-process';
import { measureNaive } from './naive';
import { measurePrivacyRatio } from './privacy-ratio';
import { measureSiteDay } from './site-day-pass';
import { SITE_DAY, SITE_DAY_QUICK } from './site-day';
import type { ShapeId } from './shapes';

// The SDK's default credential chain reads these; nothing is sent anywhere.
process.env.AWS_ACCESS_KEY_ID = 'AKIDBENCHMARK0000000';
process.env.AWS_SECRET_ACCESS_KEY = 'benchmark';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

interface Task {
  task: 'ingest' | 'worker' | 'naive' | 'siteday' | 'privacy';
  /** The shape; for `siteday`, the shapes to run, comma-separated. */
  shape: ShapeId;
  /** Site day only: the quick model (bench/site-day.ts). */
  quick?: boolean;
  rounds: number;
  roundMs: number;
  /** Worker only: messages per invocation, when not the deployed batch size. */
  batchSize?: number;
  /** Ingest only: the source has the bench's 50-event tracking plan. */
  plan?: boolean;
  /** Ingest only: the source has the bench's ten-rule privacy policy. */
  privacy?: boolean;
  /** Worker only: false turns schema learning off (lib/worker/schemas/), to show what it costs. */
  learn?: boolean;
  /** Worker only: false turns profiles off (stage parameter profiles), to show what they cost. */
  profiles?: boolean;
}

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2] ?? '{}') as Task;
  const logs = installLogSink();
  const options = { rounds: task.rounds, roundMs: task.roundMs };
  const result =
    task.task === 'privacy'
      ? await measurePrivacyRatio(task.shape, task.rounds, task.roundMs)
      : task.task === 'siteday'
        ? await measureSiteDay(task.shape.split(',') as ShapeId[], task.quick === true ? SITE_DAY_QUICK : SITE_DAY)
        : task.task === 'ingest'
          ? await measureIngest(task.shape, options, logs, task.plan === true, task.privacy === true)
          : task.task === 'naive'
            ? await measureNaive(task.shape, options)
            : await measureWorker(
                task.shape,
                options,
                logs,
                task.batchSize,
                task.learn !== false,
                task.profiles === false ? { PROFILES: 'false' } : {},
              );
  if (process.send) process.send(result, () => process.exit(0));
  else process.stderr.write(`${JSON.stringify(result, null, 2)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
