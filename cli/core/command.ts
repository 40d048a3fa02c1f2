/** The shape of one CLI command: its description (options, help) and what it does. */
import type { CommandSpec, Parsed } from './args';
import type { Io } from './io';
import type { ReadStackOutputs } from './stack-outputs';

/** Replaceable dependencies; the bin uses the defaults. */
export interface CommandDeps {
  /** CloudFormation lookup of a deployed stage. */
  readOutputs?: ReadStackOutputs;
  /** Secrets Manager read of a secret's value (`erasures show` on a deployed stage). */
  readSecret?: (secretId: string, region: string) => Promise<string>;
}

export interface Command {
  spec: CommandSpec;
  /** Returns the exit code; throws `CliError` for failures the operator must see. */
  run(parsed: Parsed, io: Io, deps: CommandDeps): Promise<number>;
}
