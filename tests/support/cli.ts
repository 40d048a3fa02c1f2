/**
 * Running the ops CLI in tests: in-process through `runCli` (fast; output captured), or as a child
 * process through the real bin (exit codes, signals, what an operator's shell sees). Both are
 * pointed at a test stack's own stage on the shared emulators.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Readable } from 'node:stream';
import { runCli } from '../../cli/main';
import type { CommandDeps } from '../../cli/core/command';
import type { Output } from '../../cli/core/io';
import type { TestStack } from './stack';

export const BIN = path.resolve(__dirname, '..', '..', 'bin', 'segment-ingest.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment that points the CLI at `stack` (its stage on the emulators, its endpoint). */
export function stackEnv(stack: TestStack): Record<string, string> {
  return {
    SEGMENT_INGEST_LOCAL: '1',
    SEGMENT_INGEST_STAGE: stack.config.stage,
    SEGMENT_INGEST_ENDPOINT: stack.url,
    SEGMENT_INGEST_DYNAMODB_ENDPOINT: stack.config.dynamodbEndpoint ?? '',
    SEGMENT_INGEST_SQS_ENDPOINT: stack.config.sqsEndpoint ?? '',
    SEGMENT_INGEST_S3_ENDPOINT: stack.config.s3Endpoint ?? '',
    SEGMENT_INGEST_ERASURE_HASH_KEY: stack.config.erasureHashKey ?? '',
    SEGMENT_INGEST_PRIVACY_HASH_KEY: stack.env.PRIVACY_HASH_KEY ?? '',
  };
}

class Capture implements Output {
  text = '';
  constructor(readonly isTTY = false) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  stdin?: string;
  signal?: AbortSignal;
  tty?: boolean;
  deps?: CommandDeps;
}

/** Runs the CLI in this process with `stack`'s environment plus `options.env`. */
export async function cli(stack: TestStack | undefined, argv: string[], options: RunOptions = {}): Promise<CliResult> {
  const stdout = new Capture();
  const stderr = new Capture(options.tty === true);
  const code = await runCli(
    argv,
    {
      stdout,
      stderr,
      stdin: options.stdin === undefined ? undefined : Readable.from([options.stdin]),
      env: { ...(stack ? stackEnv(stack) : {}), ...options.env },
      cwd: options.cwd ?? process.cwd(),
      signal: options.signal,
    },
    options.deps,
  );
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Starts the real bin as a child process; the caller may kill it. */
export function spawnCli(
  argv: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string } = {},
): { child: ChildProcess; result: Promise<CliResult & { signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, [BIN, ...argv], {
    cwd: options.cwd ?? process.cwd(),
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: 'us-east-1',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const result = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
  });
  return { child, result };
}

/** Runs the bin to completion. */
export function runBin(
  argv: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<CliResult & { signal: NodeJS.Signals | null }> {
  return spawnCli(argv, options).result;
}

/** A stack trace's frames, which the CLI must never print. */
export const STACK_FRAME = /^\s+at .+[(:]\d+/m;
