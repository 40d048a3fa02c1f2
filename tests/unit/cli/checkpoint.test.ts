import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Checkpoint, PrefixTracker } from '../../../cli/replay/checkpoint';
import { UsageError } from '../../../cli/core/errors';

describe('PrefixTracker', () => {
  it('commits only the prefix of batches that are all done, whatever order they finish in', () => {
    const tracker = new PrefixTracker(100);
    const a = tracker.register(150);
    const b = tracker.register(200);
    const c = tracker.register(260);

    expect(tracker.complete(b)).toBe(false);
    expect(tracker.committed).toBe(100);
    expect(tracker.complete(c)).toBe(false);
    expect(tracker.complete(a)).toBe(true);
    expect(tracker.committed).toBe(260);
    expect(tracker.settled).toBe(true);
  });
});

describe('Checkpoint', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'checkpoint-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('saves progress per file and reads it back', async () => {
    const file = path.join(dir, 'nested', 'cp.json');
    const first = await Checkpoint.load(file, 'http://x', { restart: false });
    first.update('/data/a.gz', { size: 10, linesDone: 7, complete: false });
    await first.flush();

    const second = await Checkpoint.load(file, 'http://x', { restart: false });

    expect(second.progress('/data/a.gz', 10, 'a.gz')).toEqual({ size: 10, linesDone: 7, complete: false });
    expect(second.progress('/data/b.gz', 5, 'b.gz')).toEqual({ size: 5, linesDone: 0, complete: false });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ version: 1, endpoint: 'http://x' });
  });

  it('refuses a checkpoint of another endpoint, or of a file that changed, unless restarted', async () => {
    const file = path.join(dir, 'cp.json');
    const checkpoint = await Checkpoint.load(file, 'http://x', { restart: false });
    checkpoint.update('/data/a.gz', { size: 10, linesDone: 7, complete: false });
    await checkpoint.flush();

    await expect(Checkpoint.load(file, 'http://y', { restart: false })).rejects.toThrow(
      new UsageError(
        `the checkpoint ${file} belongs to a replay to http://x, not http://y; pass another --checkpoint, or --restart to start over`,
      ),
    );
    expect(() => checkpoint.progress('/data/a.gz', 11, 'a.gz')).toThrow('a.gz has changed since the checkpoint');
    expect((await Checkpoint.load(file, 'http://y', { restart: true })).progress('/data/a.gz', 11, 'a.gz').linesDone).toBe(0);
  });

  it('says what is wrong with a file that is not a checkpoint', async () => {
    const file = path.join(dir, 'cp.json');
    writeFileSync(file, 'hello');

    await expect(Checkpoint.load(file, 'http://x', { restart: false })).rejects.toThrow(
      `the checkpoint ${file} is not JSON; delete it or pass --restart`,
    );
  });
});
