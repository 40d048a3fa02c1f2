/**
 * Reading newline-delimited JSON files, plain or gzip (how Segment archives to S3), line by line
 * with line numbers, streaming so a file of any size needs little memory.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { CliError, EXIT, UsageError } from '../core/errors';

export interface InputFile {
  /** As given on the command line, for messages. */
  name: string;
  /** Absolute, for the checkpoint. */
  path: string;
  size: number;
  gzip: boolean;
}

export interface Line {
  /** 1-based. */
  lineNo: number;
  text: string;
}

/** Checks that `file` is a readable file and detects gzip by its magic bytes; throws `UsageError` otherwise. */
export async function inspectFile(file: string, cwd: string): Promise<InputFile> {
  const absolute = path.resolve(cwd, file);
  let handle;
  try {
    handle = await open(absolute, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : ((error as Error).message ?? code);
    throw new UsageError(`cannot read ${file}: ${why}`);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new UsageError(`cannot read ${file}: it is a directory`);
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    const gzip = bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    if (!gzip && /\.gz$/i.test(file) && stat.size > 0)
      throw new UsageError(`cannot read ${file}: its name ends in .gz but it is not gzip data`);
    return { name: file, path: absolute, size: stat.size, gzip };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  } finally {
    await handle.close();
  }
}

/**
 * Yields the lines of `file` (without their line ends; a trailing empty line is not yielded).
 * `onBytes` is told how many bytes of the file (compressed, for gzip) have been read so far.
 * Throws `CliError` when the gzip data is corrupt or cut short, naming the line it got to.
 */
export async function* readLines(file: InputFile, onBytes?: (bytesRead: number) => void): AsyncGenerator<Line> {
  const stream = createReadStream(file.path, { highWaterMark: 256 * 1024 });
  const gunzip = file.gzip ? createGunzip() : undefined;
  if (gunzip) {
    stream.on('error', (error) => gunzip.destroy(error));
    stream.pipe(gunzip);
  }
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let lineNo = 0;
  try {
    for await (const chunk of (gunzip ?? stream) as AsyncIterable<Buffer>) {
      onBytes?.(stream.bytesRead);
      const text = rest + decoder.write(chunk);
      let start = 0;
      for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
        lineNo++;
        yield { lineNo, text: stripLineEnd(text.slice(start, end), lineNo) };
        start = end + 1;
      }
      rest = text.slice(start);
    }
    rest += decoder.end();
    if (rest !== '') yield { lineNo: lineNo + 1, text: stripLineEnd(rest, lineNo + 1) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_') || /unexpected end of file|incorrect header|invalid/i.test((error as Error).message)) {
      throw new CliError(
        `${file.name} is not readable gzip after line ${lineNo} (${(error as Error).message}); the lines before it were sent`,
        EXIT.failed,
        { cause: error },
      );
    }
    throw new CliError(`cannot read ${file.name} after line ${lineNo}: ${(error as Error).message}`, EXIT.failed, { cause: error });
  } finally {
    gunzip?.destroy();
    stream.destroy();
  }
}

function stripLineEnd(line: string, lineNo: number): string {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  return lineNo === 1 && text.startsWith('\uFEFF') ? text.slice(1) : text;
}
