/**
 * `segment-ingest <command>`: the ops CLI. `runCli` is what the bin runs and what tests call
 * in-process; it returns the exit code and never lets a stack trace reach the operator.
 */
import { formatHelp, parseCommand } from './core/args';
import type { Command, CommandDeps } from './core/command';
import { dlqRedrive } from './dlq/command';
import { erasuresShow } from './erasures/command';
import { events } from './events/command';
import { group } from './group/command';
import { keysCreate, keysList, keysRevoke } from './keys/command';
import { lakeCompact, lakeStatus, lakeViews, sql } from './lake/command';
import { planRemove, planSet, planShow } from './plan/command';
import { profile } from './profile/command';
import { rejectedList, rejectedReplay } from './rejected/command';
import { replay } from './replay/command';
import { schemasDrift, schemasExport, schemasList, schemasShow } from './schemas/command';
import {
  sourcesAllowOrigin,
  sourcesCreate,
  sourcesDisable,
  sourcesEnable,
  sourcesList,
  sourcesRateLimit,
  sourcesSetSecret,
  sourcesSetWebhook,
} from './sources/command';
import { sourcesPrivacy } from './sources/privacy';
import { status } from './status/command';
import { CliError, EXIT, explainError } from './core/errors';
import { write, type Io } from './core/io';

export const COMMANDS: readonly Command[] = [
  sourcesCreate,
  sourcesList,
  sourcesDisable,
  sourcesEnable,
  sourcesSetSecret,
  sourcesSetWebhook,
  sourcesRateLimit,
  sourcesAllowOrigin,
  sourcesPrivacy,
  keysCreate,
  keysList,
  keysRevoke,
  status,
  events,
  erasuresShow,
  profile,
  group,
  rejectedList,
  rejectedReplay,
  dlqRedrive,
  replay,
  schemasList,
  schemasShow,
  schemasDrift,
  schemasExport,
  planSet,
  planShow,
  planRemove,
  sql,
  lakeStatus,
  lakeCompact,
  lakeViews,
];

const GROUPS = new Set(COMMANDS.filter((c) => c.spec.name.includes(' ')).map((c) => c.spec.name.split(' ')[0] ?? ''));

export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length + (c.spec.args ? c.spec.args.length + 1 : 0)));
  const lines = COMMANDS.map(
    (c) =>
      `  ${`${c.spec.name}${c.spec.args ? ` ${c.spec.args}` : ''}`.padEnd(width)}  ${c.spec.summary.split('. ')[0]?.replace(/\.$/, '')}`,
  );
  return `Usage: segment-ingest <command> [options]

Operates a segment-ingest stage: the local stack of \`npm start\` by default, a deployed one with
--stage NAME [--region R] (or SEGMENT_INGEST_STAGE, AWS_REGION).

Commands:
${lines.join('\n')}

Run "segment-ingest <command> --help" for a command's options and examples.
`;
}

/** Finds the command `argv` names; returns it and the arguments after its name. */
function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | { unknown: string } | undefined {
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') return undefined;
  if (GROUPS.has(first)) {
    const command = COMMANDS.find((c) => c.spec.name === `${first} ${second ?? ''}`);
    if (command) return { command, rest: argv.slice(2) };
    const subcommands = COMMANDS.filter((c) => c.spec.name.startsWith(`${first} `)).map((c) => c.spec.name.split(' ')[1]);
    return {
      unknown:
        second === undefined || second.startsWith('-')
          ? `"${first}" needs a subcommand: ${subcommands.join(', ')}`
          : `unknown command "${first} ${second}"; "${first}" has ${subcommands.join(', ')}`,
    };
  }
  const command = COMMANDS.find((c) => c.spec.name === first);
  return command ? { command, rest: argv.slice(1) } : { unknown: `unknown command "${first}"` };
}

export async function runCli(argv: readonly string[], io: Io, deps: CommandDeps = {}): Promise<number> {
  try {
    const found = findCommand(argv);
    if (found === undefined) {
      await write(argv.length === 0 ? io.stderr : io.stdout, overview());
      return argv.length === 0 ? EXIT.usage : EXIT.ok;
    }
    if ('unknown' in found) {
      await write(io.stderr, `segment-ingest: ${found.unknown}. Run "segment-ingest --help" for the commands.\n`);
      return EXIT.usage;
    }
    const parsed = parseCommand(found.command.spec, found.rest);
    if (!parsed) {
      await write(io.stdout, formatHelp(found.command.spec));
      return EXIT.ok;
    }
    return await found.command.run(parsed, io, deps);
  } catch (error) {
    const exitCode = error instanceof CliError ? error.exitCode : EXIT.failed;
    await write(io.stderr, `segment-ingest: ${explainError(error)}\n`);
    if (io.env.SEGMENT_INGEST_DEBUG === '1' && error instanceof Error) await write(io.stderr, `${error.stack ?? ''}\n`);
    return exitCode;
  }
}
