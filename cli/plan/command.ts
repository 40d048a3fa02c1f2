/** `plan set|show|remove`: a source's tracking plan, checked at ingest (docs/schemas-and-plans.md). */
import {
  getTrackingPlan,
  preparePlan,
  removeTrackingPlan,
  setTrackingPlan,
  TrackingPlanError,
  type PreparedPlan,
} from '../../lib/admin/tracking-plans';
import { requiredSource, SOURCE_OPTION } from '../core/args';
import type { Command } from '../core/command';
import { EXIT, UsageError } from '../core/errors';
import { readInputFile } from '../core/input-file';
import { write, type Io } from '../core/io';
import { withStage, type Stage } from '../core/stage';
import { TARGET_OPTIONS } from '../core/target';

const EFFECT = 'it takes effect within the key cache lifetime (KEY_CACHE_SECONDS, 60 s)';
/** A plan file larger than this is refused unread (the stored plan is at most 256 KB of compact JSON). */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

function plans(stage: Stage) {
  return { documents: stage.clients.documents, tables: stage.target.tables };
}

export const planSet: Command = {
  spec: {
    name: 'plan set',
    summary: "Stores a source's tracking plan, after checking that every schema in it compiles.",
    args: 'FILE',
    minPositionals: 1,
    maxPositionals: 1,
    options: { ...SOURCE_OPTION, ...TARGET_OPTIONS },
    details: `FILE (or - for stdin) is {"mode": "warn"|"block", "unplanned": "allow"|"warn"|"block", "events": {"<event key>": <JSON Schema>}}.
Each schema (draft-07) applies to the whole event, as in Segment Protocols: a rule on properties.total sits under
"properties": {"properties": {"total": ...}}. Event keys: a track event's name, a page's or screen's name (unnamed: "page",
"screen"), "identify", "group". warn: violating events are stored and the answer's warnings name each violation;
block: they are quarantined in rejected, with reasons naming the property and the rule. A plan that does not compile
is refused (exit 2) and nothing is stored. Start from what was observed: segment-ingest schemas export --source ID.`,
    examples: [
      'segment-ingest plan set --source shop-web plan.json',
      'segment-ingest schemas export --source shop-web | segment-ingest plan set --source shop-web -',
    ],
  },
  async run({ values, positionals }, io, deps) {
    const sourceId = requiredSource(values);
    const prepared = await readPlanFile(positionals[0] ?? '', io);
    for (const warning of prepared.warnings) await write(io.stderr, `warning: ${warning}\n`);
    const stored = await withStage(values, io, deps, (stage) => setTrackingPlan(plans(stage), sourceId, prepared));
    const { mode, unplanned, events } = stored.plan;
    await write(
      io.stdout,
      `Tracking plan ${stored.version} stored for source "${sourceId}": ${Object.keys(events).length} event key(s), mode ${mode}, unplanned ${unplanned}.\n`,
    );
    await write(io.stderr, `The ingest function checks events against it from now on; ${EFFECT}.\n`);
    return EXIT.ok;
  },
};

/** Reads and checks a plan file; bad input is a usage error (exit 2) naming the file and every problem. */
async function readPlanFile(file: string, io: Io): Promise<PreparedPlan> {
  const text = await readInputFile(file, io, MAX_FILE_BYTES, 'plan');
  try {
    return preparePlan(text);
  } catch (error) {
    if (!(error instanceof TrackingPlanError)) throw error;
    throw new UsageError(`${file === '-' ? 'stdin' : file} is not a tracking plan that can be stored:\n  ${error.problems.join('\n  ')}`);
  }
}

export const planShow: Command = {
  spec: {
    name: 'plan show',
    summary: "Prints a source's tracking plan (the JSON that plan set stored) on stdout.",
    options: {
      ...SOURCE_OPTION,
      json: { type: 'boolean', description: 'accepted for symmetry: the plan is JSON either way' },
      ...TARGET_OPTIONS,
    },
    examples: ['segment-ingest plan show --source shop-web > plan.json'],
  },
  async run({ values }, io, deps) {
    const sourceId = requiredSource(values);
    const stored = await withStage(values, io, deps, (stage) => getTrackingPlan(plans(stage), sourceId));
    if (!stored) {
      await write(
        io.stderr,
        `Source "${sourceId}" has no tracking plan. Store one: segment-ingest plan set --source ${sourceId} plan.json\n`,
      );
      return EXIT.ok;
    }
    await write(io.stdout, `${JSON.stringify(stored.plan, null, 2)}\n`);
    await write(io.stderr, `Tracking plan ${stored.version} of source "${sourceId}", set at ${stored.setAt ?? '?'}.\n`);
    return EXIT.ok;
  },
};

export const planRemove: Command = {
  spec: {
    name: 'plan remove',
    summary: "Removes a source's tracking plan: its events are no longer checked.",
    options: { ...SOURCE_OPTION, ...TARGET_OPTIONS },
  },
  async run({ values }, io, deps) {
    const sourceId = requiredSource(values);
    const removed = await withStage(values, io, deps, (stage) => removeTrackingPlan(plans(stage), sourceId));
    await write(
      io.stdout,
      removed ? `Tracking plan of source "${sourceId}" removed; ${EFFECT}.\n` : `Source "${sourceId}" had no tracking plan.\n`,
    );
    return EXIT.ok;
  },
};
