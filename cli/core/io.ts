/**
 * What a command may touch of the outside world, passed in so tests run commands in-process with
 * their own environment and capture what they print.
 */

export interface Output {
  /** Returns false when the stream wants the writer to wait for `drain`. */
  write(text: string): boolean;
  once?(event: 'drain', listener: () => void): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Io {
  stdout: Output;
  stderr: Output;
  stdin?: NodeJS.ReadableStream;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Aborted when the operator interrupts (Ctrl-C); long commands stop cleanly and save their progress. */
  signal?: AbortSignal;
  /**
   * Called by a command that handles `signal`: from then on the first Ctrl-C aborts it (a second one
   * exits at once). Before, and for other commands, Ctrl-C exits at once.
   */
  trapInterrupts?: () => void;
}

/** Writes `text` and waits for the stream to drain when it asks to, so big outputs do not pile up in memory. */
export async function write(out: Output, text: string): Promise<void> {
  if (out.write(text) || !out.once) return;
  await new Promise<void>((resolve) => out.once?.('drain', resolve));
}

/** The process's own streams and environment, for the bin. */
export function processIo(): Io {
  const controller = new AbortController();
  let trapped = false;
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (!trapped || interrupts > 1) process.exit(130);
    process.stderr.write(`\n${signal}: stopping after the requests in flight (again to quit at once)…\n`);
    controller.abort(new Error(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
    trapInterrupts: () => {
      trapped = true;
    },
  };
}
