/**
 * A burst: 100,000 archived events of all six types replayed into a local stage through the CLI,
 * with exact counts afterwards, again after a second replay (nothing stored twice), and after a
 * replay killed half-way (SIGKILL, no chance to save anything) and resumed from its checkpoint.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EVENT_TYPES, type EventType } from '../../lib/spec/event-types';
import { countItems } from '../../cli/status/report';
import { writeArchive, type Archive } from '../support/archive';
import { cli, spawnCli, stackEnv } from '../support/cli';
import { startTestStack, type TestStack } from '../support/stack';

jest.setTimeout(15 * 60_000);

const EVENTS = 100_000;
/**
 * The worker settings of the burst stages: more pollers and parallel writes than the default test
 * stack, and a visibility timeout longer than a batch takes. PROFILE_ACTIVITY is ignored since
 * issue 22 (activity is derived at read time, so the worker writes none): it once kept each batch
 * from writing every user's activity, which DynamoDB Local took minutes to absorb. Profiles
 * themselves (identify, alias, group, links) stay on; tests/integration/profiles.test.ts covers them.
 */
const BURST_STACK = {
  visibilityTimeoutSeconds: 300,
  trigger: { concurrency: 4, batchSize: 10 },
  env: { WRITE_CONCURRENCY: '8', PROFILE_ACTIVITY: 'false' },
};

let dir: string;
let archive: Archive;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'segment-ingest-burst-'));
  const started = Date.now();
  archive = await writeArchive(path.join(dir, 'archive.jsonl.gz'), EVENTS, { seed: 7 });
  console.log(`generated ${EVENTS} events in ${Date.now() - started} ms: ${JSON.stringify(archive.byType)}`);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function counts(stack: TestStack): Promise<Record<EventType, number>> {
  const entries = await Promise.all(
    EVENT_TYPES.map(async (type) => [type, await countItems(stack.clients.documents, stack.config.tables[type])] as const),
  );
  return Object.fromEntries(entries) as Record<EventType, number>;
}

function timed<T>(label: string, action: () => Promise<T>): Promise<T> {
  const started = Date.now();
  return action().finally(() => console.log(`${label}: ${((Date.now() - started) / 1000).toFixed(1)} s`));
}

describe('replay of a 100,000-event archive', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack(BURST_STACK);
  });

  afterAll(async () => {
    await stack.stop();
  });

  it('stores every event once, in the table of its type', async () => {
    // Act
    const result = await timed('replay', () =>
      cli(stack, ['replay', archive.path, '--key', stack.key, '--checkpoint', path.join(dir, 'first.json')]),
    );
    await timed('drain', () => stack.drain(600_000));

    // Assess
    expect(result.stderr).not.toMatch(/not JSON|rejected by the service/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/accepted {3}100,000\n {2}rejected {3}0\n/);
    expect(await timed('count', () => counts(stack))).toEqual(archive.byType);
  });

  it('changes no count when the same file is replayed again', async () => {
    // Act: --restart ignores the checkpoint, so every event really is sent a second time.
    const result = await timed('replay again', () =>
      cli(stack, ['replay', archive.path, '--key', stack.key, '--checkpoint', path.join(dir, 'first.json'), '--restart']),
    );
    await timed('drain', () => stack.drain(600_000));

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/accepted {3}100,000\n/);
    expect(await counts(stack)).toEqual(archive.byType);
  });
});

describe('a replay killed half-way', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack(BURST_STACK);
  });

  afterAll(async () => {
    await stack.stop();
  });

  it('resumes from its checkpoint and ends with the exact counts', async () => {
    // Prepare: a replay in a child process, slowed down by --rate so there is a half-way to kill it at.
    const checkpoint = path.join(dir, 'killed.json');
    const env = { ...stackEnv(stack), SEGMENT_INGEST_KEY: stack.key };
    const { child, result } = spawnCli(['replay', archive.path, '--checkpoint', checkpoint, '--rate', '20000'], { env });
    const linesDone = () => {
      try {
        return (
          (JSON.parse(readFileSync(checkpoint, 'utf8')) as { files: Record<string, { linesDone: number }> }).files[archive.path]
            ?.linesDone ?? 0
        );
      } catch {
        return 0; // Not written yet.
      }
    };

    // Act: kill it for real (SIGKILL: no handler runs, nothing is flushed) once 40% is acknowledged.
    while (linesDone() < EVENTS * 0.4) {
      if (child.exitCode !== null) throw new Error(`the replay ended before it could be killed: ${(await result).stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGKILL');
    const killed = await result;
    const atKill = linesDone();
    const resumed = await timed('resumed replay', () =>
      cli(stack, ['replay', archive.path, '--checkpoint', checkpoint], { env: { SEGMENT_INGEST_KEY: stack.key } }),
    );
    await timed('drain', () => stack.drain(600_000));

    // Assess
    expect(killed.signal).toBe('SIGKILL');
    expect(atKill).toBeGreaterThanOrEqual(EVENTS * 0.4);
    expect(atKill).toBeLessThan(EVENTS);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain(`resuming after line ${atKill.toLocaleString('en-US')}`);
    expect(resumed.stdout).toContain(`skipped    ${atKill.toLocaleString('en-US')} lines`);
    expect(await counts(stack)).toEqual(archive.byType);
    expect(JSON.parse(readFileSync(checkpoint, 'utf8'))).toMatchObject({
      files: { [archive.path]: { linesDone: EVENTS, complete: true } },
    });
  });
});
