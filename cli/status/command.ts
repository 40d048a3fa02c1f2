/** `status`: is the pipeline keeping up, is anything dead-lettered or rejected. */
import { booleanOption, numberOption } from '../core/args';
import type { Command } from '../core/command';
import { EXIT } from '../core/errors';
import { write } from '../core/io';
import { withStage } from '../core/stage';
import { formatStatus, gatherStatus } from './report';
import { TARGET_OPTIONS } from '../core/target';
import { toJsonValue } from '../core/stage';

export const status: Command = {
  spec: {
    name: 'status',
    summary: 'Shows the queues (waiting, in flight, dead letters), items per table and the latest rejections with their reasons.',
    options: {
      exact: {
        type: 'boolean',
        description: "count items with a full scan (the default locally); otherwise DynamoDB's ItemCount (free, up to six hours old)",
      },
      approximate: { type: 'boolean', description: "use DynamoDB's ItemCount even locally" },
      rejections: { type: 'string', value: 'N', description: 'how many of the latest rejections to show (default 5; 0 hides them)' },
      json: { type: 'boolean', description: 'print the report as JSON' },
      ...TARGET_OPTIONS,
    },
    examples: ['segment-ingest status', 'segment-ingest status --stage prod --region eu-west-1 --rejections 20'],
  },
  async run({ values }, io, deps) {
    const report = await withStage(values, io, deps, (stage) =>
      gatherStatus(stage, {
        exact: booleanOption(values, 'exact') || (stage.target.kind === 'local' && !booleanOption(values, 'approximate')),
        rejections: numberOption(values, 'rejections', 5, { min: 0, max: 1000, integer: true }),
      }),
    );
    if (booleanOption(values, 'json')) {
      await write(
        io.stdout,
        `${JSON.stringify(toJsonValue({ ...report, rejections: report.rejections.map(({ raw: _raw, ...r }) => r) }), null, 2)}\n`,
      );
    } else {
      await write(io.stdout, formatStatus(report));
    }
    return EXIT.ok;
  },
};
