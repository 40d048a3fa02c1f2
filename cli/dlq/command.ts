/** `dlq redrive`: dead-lettered messages back to the events queue, once the cause is fixed. */
import { numberOption } from '../core/args';
import type { Command } from '../core/command';
import { EXIT } from '../core/errors';
import { queueDepth, redrive } from './redrive';
import { formatBar, formatNumber } from '../core/format';
import { write } from '../core/io';
import { createProgress } from '../core/progress';
import { withStage } from '../core/stage';
import { TARGET_OPTIONS } from '../core/target';

export const dlqRedrive: Command = {
  spec: {
    name: 'dlq redrive',
    summary:
      'Moves dead-lettered messages back to the events queue, with a count and a progress bar. Each message is received, sent, and deleted from the dead-letter queue only once SQS took it.',
    options: {
      max: {
        type: 'string',
        value: 'N',
        description: 'move at most N messages (default: as many as the dead-letter queue holds when it starts)',
      },
      'progress-interval': {
        type: 'string',
        value: 'SECONDS',
        description: 'when stderr is not a terminal: seconds between progress lines (default 5)',
      },
      ...TARGET_OPTIONS,
    },
    details: `Fix what made the worker fail first (status shows the dead-letter depth), or the messages come back after maxReceiveCount (5) attempts.
Messages that fail again while this runs are not moved a second time: it stops after the depth it found at the start.
Exit status: 0 all moved, 3 some not moved (listed), 1 on an error, 130 interrupted (what was moved stays moved).`,
    examples: ['segment-ingest dlq redrive', 'segment-ingest dlq redrive --stage prod --max 100'],
  },
  async run({ values }, io, deps) {
    io.trapInterrupts?.();
    const outcome = await withStage(values, io, deps, async (stage) => {
      const { queueUrl, deadLetterQueueUrl } = await stage.queueUrls();
      const depth = await queueDepth(stage.clients.sqs, deadLetterQueueUrl);
      const max = numberOption(values, 'max', depth, { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
      if (depth === 0) return { depth, result: undefined };
      const total = Math.min(depth, max);
      await write(io.stderr, `Moving ${formatNumber(total)} message(s) from ${deadLetterQueueUrl} to ${queueUrl}\n`);
      const progress = createProgress(io.stderr, {
        tty: io.stderr.isTTY === true,
        intervalMs: numberOption(values, 'progress-interval', 5, { min: 0.1, max: 3600 }) * 1000,
      });
      const result = await redrive(stage.clients.sqs, {
        from: deadLetterQueueUrl,
        to: queueUrl,
        max,
        signal: io.signal,
        onProgress: (moved, failed) =>
          progress.update(
            () =>
              `moved ${formatNumber(moved)}/${formatNumber(total)} ${formatBar(moved / Math.max(1, total))} ${Math.floor((moved / Math.max(1, total)) * 100)}%${failed > 0 ? `  failed ${formatNumber(failed)}` : ''}`,
          ),
      });
      progress.done();
      for (const problem of result.problems) await write(io.stderr, `${problem}\n`);
      return { depth, result };
    });
    const { result } = outcome;
    if (!result) {
      await write(io.stdout, 'The dead-letter queue is empty: nothing to move.\n');
      return EXIT.ok;
    }
    await write(
      io.stdout,
      `Moved ${formatNumber(result.moved)} message(s) back to the events queue${result.failed > 0 ? `; ${formatNumber(result.failed)} not moved (still in the dead-letter queue)` : ''}${result.interrupted ? '; interrupted' : ''}. The worker processes them now: segment-ingest status\n`,
    );
    if (result.interrupted) return EXIT.interrupted;
    return result.failed > 0 ? EXIT.incomplete : EXIT.ok;
  },
};
