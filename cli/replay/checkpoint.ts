/**
 * Where an interrupted replay resumes. Batches finish out of order (several are in flight), so the
 * checkpoint holds, per file, only the prefix of lines whose batches are all acknowledged: lines
 * after it are sent again on resume, and the idempotent keys make that harmless.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../core/errors';

export interface FileProgress {
  size: number;
  /** `InputFile.fingerprint` of the file replayed (absent in checkpoints written before it was kept). */
  fingerprint?: string;
  /** Lines 1..linesDone are acknowledged (sent and answered, or reported as invalid). */
  linesDone: number;
  complete: boolean;
}

interface CheckpointData {
  version: 1;
  endpoint: string;
  files: Record<string, FileProgress>;
  updatedAt: string;
}

/** Tracks the acknowledged prefix: batches register in file order and complete in any order. */
export class PrefixTracker {
  private readonly pending: Array<{ lastLine: number; done: boolean }> = [];
  private head = 0;

  constructor(public committed: number) {}

  /** Registers the next batch, covering lines up to `lastLine`; returns its ticket. */
  register(lastLine: number): number {
    this.pending.push({ lastLine, done: false });
    return this.pending.length - 1;
  }

  /** Marks a batch done; returns true when the committed prefix grew. */
  complete(ticket: number): boolean {
    const entry = this.pending[ticket];
    if (entry) entry.done = true;
    let grew = false;
    for (let next = this.pending[this.head]; next?.done; next = this.pending[this.head]) {
      this.committed = next.lastLine;
      this.head++;
      grew = true;
    }
    return grew;
  }

  /** True when every registered batch is done. */
  get settled(): boolean {
    return this.head === this.pending.length;
  }
}

export class Checkpoint {
  private saving: Promise<void> = Promise.resolve();
  private failure: unknown;
  private lastSave = 0;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly file: string,
    private readonly data: CheckpointData,
    private readonly minIntervalMs: number,
  ) {}

  /** Loads `file` (or starts empty); refuses a checkpoint of a replay to another endpoint. */
  static async load(file: string, endpoint: string, options: { restart: boolean; minIntervalMs?: number }): Promise<Checkpoint> {
    let data: CheckpointData = { version: 1, endpoint, files: {}, updatedAt: new Date().toISOString() };
    if (!options.restart) {
      let text: string | undefined;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
          throw new UsageError(`cannot read the checkpoint ${file}: ${(error as Error).message}`);
      }
      if (text !== undefined) {
        let parsed: CheckpointData;
        try {
          parsed = JSON.parse(text) as CheckpointData;
        } catch {
          throw new UsageError(`the checkpoint ${file} is not JSON; delete it or pass --restart`);
        }
        if (parsed.version !== 1 || typeof parsed.files !== 'object')
          throw new UsageError(`the checkpoint ${file} is not a replay checkpoint; delete it or pass --restart`);
        if (parsed.endpoint !== endpoint) {
          throw new UsageError(
            `the checkpoint ${file} belongs to a replay to ${parsed.endpoint}, not ${endpoint}; pass another --checkpoint, or --restart to start over`,
          );
        }
        data = parsed;
      }
    }
    return new Checkpoint(file, data, options.minIntervalMs ?? 250);
  }

  /** Progress of a file; throws when the checkpoint saw a file of another size or another beginning at that path. */
  progress(filePath: string, size: number, name: string, fingerprint?: string): FileProgress {
    const known = this.data.files[filePath];
    if (!known) return { size, fingerprint, linesDone: 0, complete: false };
    if (known.size !== size) {
      throw new UsageError(
        `${name} has changed since the checkpoint ${this.file} was written (${known.size} bytes then, ${size} now); pass --restart to send it from the start`,
      );
    }
    if (known.fingerprint !== undefined && fingerprint !== undefined && known.fingerprint !== fingerprint) {
      throw new UsageError(
        `${name} is not the file the checkpoint ${this.file} was written for (same size, other content); pass --restart to send it from the start`,
      );
    }
    if (!Number.isSafeInteger(known.linesDone) || known.linesDone < 0) {
      throw new UsageError(
        `the checkpoint ${this.file} holds no line count for ${name} ("linesDone" is ${JSON.stringify(known.linesDone)}); pass --restart`,
      );
    }
    return { ...known, fingerprint: known.fingerprint ?? fingerprint };
  }

  update(filePath: string, progress: FileProgress): void {
    this.data.files[filePath] = { ...progress };
    this.data.updatedAt = new Date().toISOString();
    const wait = this.lastSave + this.minIntervalMs - Date.now();
    if (wait <= 0) this.saveInBackground();
    else this.timer ??= setTimeout(() => this.saveInBackground(), wait);
  }

  /** Writes now (after any write in progress) and waits for it; throws when this or an earlier write failed. */
  async flush(): Promise<void> {
    await this.save();
    if (this.failure) throw new UsageError(`cannot write the checkpoint ${this.file}: ${(this.failure as Error).message}`);
  }

  private saveInBackground(): void {
    this.save().catch((error: unknown) => {
      this.failure ??= error;
    });
  }

  /** Writes atomically (temporary file, then rename), one write at a time. */
  private save(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.lastSave = Date.now();
    const text = `${JSON.stringify(this.data, null, 2)}\n`;
    this.saving = this.saving
      .catch(() => undefined)
      .then(async () => {
        await mkdir(path.dirname(this.file), { recursive: true });
        const temporary = `${this.file}.${process.pid}.tmp`;
        await writeFile(temporary, text);
        await rename(temporary, this.file);
      });
    return this.saving;
  }
}
