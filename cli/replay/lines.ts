/**
 * Reading newline-delimited JSON files, plain or gzip (how Segment archives to S3), line by line
 * with line numbers, streaming so a file of any size needs little memory: lines are split on the
 * bytes, and a line longer than the caller's limit is counted, never held (docs/limits.md).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { CliError, EXIT, UsageError } from '../core/errors';

export interface InputFile {
  /** As given on the command line, for messages. */
  name: string;
  /** Absolute, for the checkpoint. */
  path: string;
  size: number;
  gzip: boolean;
  /** SHA-256 of the file's first `FINGERPRINT_BYTES` (hex): tells another file of the same size from this one. */
  fingerprint: string;
}

export interface Line {
  /** 1-based. */
  lineNo: number;
  /** Empty when the line is over the limit (`overLimit`). */
  text: string;
  /** The line's bytes, when over the `maxLineBytes` given to `readLines`: its text was not kept. */
  overLimit?: number;
}

const FINGERPRINT_BYTES = 64 * 1024;

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
    const head = Buffer.alloc(FINGERPRINT_BYTES);
    const { bytesRead } = await handle.read(head, 0, FINGERPRINT_BYTES, 0);
    const gzip = bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b;
    if (!gzip && /\.gz$/i.test(file) && stat.size > 0)
      throw new UsageError(`cannot read ${file}: its name ends in .gz but it is not gzip data`);
    const fingerprint = createHash('sha256').update(head.subarray(0, bytesRead)).digest('hex');
    return { name: file, path: absolute, size: stat.size, gzip, fingerprint };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  } finally {
    await handle.close();
  }
}

/**
 * Yields the lines of `file` (without their line ends; a trailing empty line is not yielded).
 * `onBytes` is told how many bytes of the file (compressed, for gzip) have been read so far. A line
 * of more than `maxLineBytes` is yielded as `overLimit` with no text: memory stays flat whatever
 * the file holds. Throws `CliError` when the gzip data is corrupt or cut short, naming the line it got to.
 */
export async function* readLines(
  file: InputFile,
  onBytes?: (bytesRead: number) => void,
  maxLineBytes = Number.POSITIVE_INFINITY,
): AsyncGenerator<Line> {
  const stream = createReadStream(file.path, { highWaterMark: 256 * 1024 });
  const gunzip = file.gzip ? createGunzip() : undefined;
  if (gunzip) {
    stream.on('error', (error) => gunzip.destroy(error));
    stream.pipe(gunzip);
  }
  const line = new PendingLine(maxLineBytes);
  let lineNo = 0;
  try {
    for await (const chunk of (gunzip ?? stream) as AsyncIterable<Buffer>) {
      onBytes?.(stream.bytesRead);
      let start = 0;
      for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
        line.add(chunk.subarray(start, end));
        yield line.take(++lineNo);
        start = end + 1;
      }
      line.add(chunk.subarray(start));
    }
    if (line.bytes > 0) yield line.take(lineNo + 1);
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

/** The bytes of the line being read, kept up to the limit; past it only counted. */
class PendingLine {
  private parts: Buffer[] = [];
  bytes = 0;

  constructor(private readonly maxBytes: number) {}

  add(part: Buffer): void {
    this.bytes += part.length;
    // Copied: a chunk's buffer may be reused by the stream once the loop moves on.
    if (this.bytes <= this.maxBytes) this.parts.push(Buffer.from(part));
    else this.parts = [];
  }

  take(lineNo: number): Line {
    const { bytes } = this;
    const text = bytes > this.maxBytes ? undefined : Buffer.concat(this.parts).toString('utf8');
    this.parts = [];
    this.bytes = 0;
    return text === undefined ? { lineNo, text: '', overLimit: bytes } : { lineNo, text: stripLineEnd(text, lineNo) };
  }
}

function stripLineEnd(line: string, lineNo: number): string {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  return lineNo === 1 && text.startsWith('\uFEFF') ? text.slice(1) : text;
}
