/**
 * Argument parsing on `node:util` parseArgs (no dependency), with the help text of each command
 * generated from the same description as its options, so the two cannot disagree.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in the help, e.g. `URL`. */
  value?: string;
  description: string;
}

export interface CommandSpec {
  /** As typed: `status`, `keys create`. */
  name: string;
  summary: string;
  /** Positional arguments as shown in the usage line, e.g. `FILE...`. */
  args?: string;
  minPositionals?: number;
  maxPositionals?: number;
  options: Record<string, OptionSpec>;
  /** Paragraphs after the options. */
  details?: string;
  examples?: string[];
}

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Parsed {
  values: Values;
  positionals: string[];
}

const HELP: Record<string, OptionSpec> = { help: { type: 'boolean', short: 'h', description: 'show this help' } };

/** Parses `argv` for `spec`; returns `undefined` when the operator asked for help (the caller prints it). */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): Parsed | undefined {
  const options = { ...spec.options, ...HELP };
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, options),
      options: Object.fromEntries(
        Object.entries(options).map(([name, o]) => [
          name,
          { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    }) as { values: Values; positionals: string[] };
  } catch (error) {
    throw new UsageError(`${describeParseError(error)}\nRun "segment-ingest ${spec.name} --help" for its options.`);
  }
  if (parsed.values.help) return undefined;
  const count = parsed.positionals.length;
  if (count < (spec.minPositionals ?? 0)) {
    throw new UsageError(`missing ${spec.args ?? 'argument'}: usage: segment-ingest ${spec.name} ${spec.args ?? ''} [options]`);
  }
  if (count > (spec.maxPositionals ?? 0) && spec.maxPositionals !== Infinity) {
    const extra = parsed.positionals.slice(spec.maxPositionals ?? 0).join(' ');
    throw new UsageError(`unexpected argument "${extra}"\nRun "segment-ingest ${spec.name} --help" for usage.`);
  }
  return parsed;
}

/**
 * `--rejections -1` as `--rejections=-1`: node's parser takes a value that starts with a dash for a
 * forgotten one and answers with its own advice; joined, the value reaches the option's own check,
 * which says what the option accepts.
 */
function joinNegativeValues(argv: readonly string[], options: Record<string, OptionSpec>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const next = argv[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

function describeParseError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const option = /'(-[^']*)'/.exec(e.message ?? '')?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${option ?? ''}`.trim();
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/argument missing/.test(e.message ?? '')) return `option ${option ?? ''} needs a value`;
    const ambiguous = /Option '(--[^']+)' argument is ambiguous/.exec(e.message ?? '')?.[1];
    if (ambiguous) return `option ${ambiguous} needs a value (one that starts with a dash is written ${ambiguous}=-VALUE)`;
    return e.message ?? 'invalid option value';
  }
  return e.message ?? 'invalid arguments';
}

export function formatHelp(spec: CommandSpec): string {
  const options = { ...spec.options, ...HELP };
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    return [flag, o.description] as const;
  });
  const width = Math.min(34, Math.max(...rows.map(([flag]) => flag.length)));
  const lines = [`Usage: segment-ingest ${spec.name}${spec.args ? ` ${spec.args}` : ''} [options]`, '', spec.summary, '', 'Options:'];
  for (const [flag, description] of rows) {
    lines.push(flag.length > width ? `  ${flag}\n  ${' '.repeat(width)}  ${description}` : `  ${flag.padEnd(width)}  ${description}`);
  }
  if (spec.details) lines.push('', spec.details.trim());
  if (spec.examples?.length) lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}

export function stringOption(values: Values, name: string): string | undefined {
  const value = values[name];
  if (Array.isArray(value)) return value[value.length - 1];
  return typeof value === 'string' ? value : undefined;
}

export function listOption(values: Values, name: string): string[] {
  const value = values[name];
  const list = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  return list
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** The `--source ID` option of a command about one source's data; read with `requiredSource`. */
export const SOURCE_OPTION = { source: { type: 'string', value: 'ID', description: 'the source (required)' } } as const;

/** `--source`, which must be given and not empty. */
export function requiredSource(values: Values): string {
  const sourceId = stringOption(values, 'source');
  if (!sourceId) throw new UsageError('--source is required');
  return sourceId;
}

/** `--source` (required) and exactly one of `--user` and `--anonymous`: whose events or profile a command reads. */
export function identityOptions(values: Values): { sourceId: string; userId?: string; anonymousId?: string } {
  const sourceId = requiredSource(values);
  const userId = stringOption(values, 'user');
  const anonymousId = stringOption(values, 'anonymous');
  if ((userId === undefined) === (anonymousId === undefined))
    throw new UsageError('give --user USER_ID or --anonymous ANONYMOUS_ID (one of them)');
  return { sourceId, userId, anonymousId };
}

export function booleanOption(values: Values, name: string): boolean {
  return values[name] === true;
}

/** A number option within bounds; `fallback` when absent. */
export function numberOption(
  values: Values,
  name: string,
  fallback: number,
  bounds: { min: number; max: number; integer?: boolean },
): number {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (
    raw.trim() === '' ||
    !Number.isFinite(value) ||
    value < bounds.min ||
    value > bounds.max ||
    (bounds.integer && !Number.isInteger(value))
  ) {
    throw new UsageError(
      `--${name} must be ${bounds.integer ? 'a whole number' : 'a number'} from ${bounds.min} to ${bounds.max}, got "${raw}"`,
    );
  }
  return value;
}
