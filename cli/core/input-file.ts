/** A small input file the CLI reads whole (a tracking plan, a privacy policy), or stdin for `-`. */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CliError, UsageError } from './errors';
import type { Io } from './io';

/**
 * The text of `file` (relative to the working directory; `-` is stdin), at most `maxBytes`.
 * A file that cannot be read is a usage error naming it; `what` names the content in the message.
 */
export async function readInputFile(file: string, io: Io, maxBytes: number, what: string): Promise<string> {
  const name = file === '-' ? 'stdin' : file;
  try {
    return file === '-' ? await readStdin(io, maxBytes, what) : await readSmallFile(path.resolve(io.cwd, file), maxBytes, what);
  } catch (error) {
    if (error instanceof CliError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `${name}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (error as Error).message}`,
    );
  }
}

async function readSmallFile(file: string, maxBytes: number, what: string): Promise<string> {
  const { size } = await stat(file);
  if (size > maxBytes) throw new UsageError(`${file}: ${size} bytes; a ${what} file may have at most ${maxBytes}`);
  return readFile(file, 'utf8');
}

async function readStdin(io: Io, maxBytes: number, what: string): Promise<string> {
  if (!io.stdin) throw new UsageError(`no stdin to read the ${what} from`);
  let text = '';
  for await (const chunk of io.stdin) {
    text += String(chunk);
    if (text.length > maxBytes) throw new UsageError(`stdin: more than ${maxBytes} bytes; too large for a ${what}`);
  }
  return text;
}
