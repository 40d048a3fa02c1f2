/**
 * Progress on stderr. On a terminal, one line redrawn in place (at most ten times a second); when
 * stderr is a file or a pipe (CI, logs), a plain line every `intervalMs`, so logs stay readable.
 */
import type { Output } from './io';

export interface Progress {
  /** Offers the current state; it is rendered only when it is time to draw. */
  update(render: () => string): void;
  /** Prints a line (a warning) without garbling the progress line. */
  log(line: string): void;
  /** Draws the last state (on a terminal) and ends the progress line. */
  done(): void;
}

export interface ProgressOptions {
  tty: boolean;
  /** Between plain lines when not a terminal. */
  intervalMs: number;
  now?: () => number;
}

export function createProgress(out: Output, options: ProgressOptions): Progress {
  const now = options.now ?? Date.now;
  let last = now();
  let lastRender: (() => string) | undefined;
  let drawn = false;
  const fit = (line: string) => (out.columns && line.length > out.columns - 1 ? line.slice(0, out.columns - 1) : line);
  const draw = () => {
    if (!lastRender) return;
    out.write(`\r\x1b[2K${fit(lastRender())}`);
    drawn = true;
  };

  return {
    update(render) {
      lastRender = render;
      const t = now();
      if (options.tty) {
        if (t - last >= 100 || !drawn) {
          last = t;
          draw();
        }
      } else if (t - last >= options.intervalMs) {
        last = t;
        out.write(`${render()}\n`);
      }
    },
    log(line) {
      if (options.tty && drawn) {
        out.write(`\r\x1b[2K${line}\n`);
        draw();
      } else {
        out.write(`${line}\n`);
      }
    },
    done() {
      if (options.tty && lastRender) {
        draw();
        out.write('\n');
      }
    },
  };
}
