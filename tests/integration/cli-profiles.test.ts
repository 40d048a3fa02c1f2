/**
 * `segment-ingest profile` and `segment-ingest group` against a local stage whose profiles were
 * made by the running pipeline (HTTP, queue, worker): what they print, on which stream, and the
 * exit codes, including a user and a group that have no profile, and counts that a redelivered
 * message does not double (activity is derived from the stored events, issue 22).
 */
import { createWorker } from '../../lib/worker/process-batch';
import { segmentEvent, sqsEvent, sqsRecord } from '../support/events';
import { eventMessage } from '../support/records';
import { cli, runBin, stackEnv } from '../support/cli';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

const at = (seconds: number) => new Date(Date.parse('2025-06-01T08:00:00.000Z') + seconds * 1000).toISOString();

beforeAll(async () => {
  stack = await startTestStack();
  const response = await stack.send('/v1/batch', {
    batch: [
      segmentEvent('identify', { userId: undefined, anonymousId: 'cli-anon', timestamp: at(1), traits: { theme: 'dark' } }),
      segmentEvent('identify', {
        userId: 'cli-user',
        anonymousId: 'cli-anon',
        timestamp: at(2),
        traits: { email: 'c@example.com', plan: 'pro' },
      }),
      segmentEvent('track', { userId: 'cli-user', timestamp: at(3) }),
      segmentEvent('track', { userId: 'cli-user', timestamp: at(4) }),
      segmentEvent('group', { userId: 'cli-user', groupId: 'cli-group', timestamp: at(5), traits: { name: 'Initech' } }),
      segmentEvent('group', { userId: 'other-user', groupId: 'cli-group', timestamp: at(6), traits: { employees: 120 } }),
      segmentEvent('alias', { userId: 'cli-user', previousId: 'old-id', timestamp: at(7) }),
    ],
  });
  expect(response.status).toBe(200);
  await stack.drain();
});

afterAll(async () => {
  await stack.stop();
});

describe('profile', () => {
  it("prints a user's profile as one JSON object", async () => {
    const result = await cli(stack, ['profile', '--source', stack.sourceId, '--user', 'cli-user']);

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      sourceId: stack.sourceId,
      userId: 'cli-user',
      traits: { email: 'c@example.com', plan: 'pro' },
      anonymousIds: ['cli-anon'],
      aliases: ['old-id'],
      groups: [{ groupId: 'cli-group', traits: { employees: 120, name: 'Initech' } }],
      firstSeen: at(2),
      lastSeen: at(7),
      counts: { identify: 1, track: 2, group: 1, alias: 1 },
    });
  });

  it('prints the profile of the user an anonymous id belongs to, or with --own its own', async () => {
    const resolved = await cli(stack, ['profile', '--source', stack.sourceId, '--anonymous', 'cli-anon']);
    const own = await cli(stack, ['profile', '--source', stack.sourceId, '--anonymous', 'cli-anon', '--own']);

    expect(resolved.code).toBe(0);
    expect(JSON.parse(resolved.stdout)).toMatchObject({ userId: 'cli-user', anonymousIds: ['cli-anon'] });
    expect(resolved.stderr).toContain('Anonymous id "cli-anon" belongs to user "cli-user"');
    expect(own.code).toBe(0);
    expect(JSON.parse(own.stdout)).toEqual({
      sourceId: stack.sourceId,
      anonymousId: 'cli-anon',
      userId: 'cli-user',
      userIds: ['cli-user'],
      traits: { theme: 'dark' },
      groups: [],
      firstSeen: at(1),
      lastSeen: at(1),
      counts: { identify: 1 },
    });
  });

  it('says where an aliased id went', async () => {
    const result = await cli(stack, ['profile', '--source', stack.sourceId, '--user', 'old-id']);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ userId: 'old-id', aliasedTo: 'cli-user' });
    expect(result.stderr).toContain('"old-id" was aliased to "cli-user"');
  });

  it('says so, and exits 0, for a user or an anonymous id without a profile', async () => {
    const user = await cli(stack, ['profile', '--source', stack.sourceId, '--user', 'nobody']);
    const anonymous = await cli(stack, ['profile', '--source', stack.sourceId, '--anonymous', 'nobody']);

    expect(user).toEqual({ code: 0, stdout: '', stderr: `No profile for user "nobody" in source "${stack.sourceId}".\n` });
    expect(anonymous).toEqual({ code: 0, stdout: '', stderr: `No profile for anonymous id "nobody" in source "${stack.sourceId}".\n` });
  });

  it('prints counts and first/last seen that a message SQS delivers twice does not double', async () => {
    // Prepare: one queue message of three events, handed to the worker twice, as SQS redelivers a
    // message whose deletion did not happen in time.
    const events = [
      segmentEvent('identify', { userId: 'redelivered', timestamp: at(10), traits: { plan: 'free' } }),
      segmentEvent('track', { userId: 'redelivered', timestamp: at(11) }),
      segmentEvent('track', { userId: 'redelivered', timestamp: at(12) }),
    ];
    const message = sqsRecord(eventMessage(stack.sourceId, events));
    const worker = createWorker(stack.workerDeps);

    // Act
    const first = await worker(sqsEvent(message));
    const again = await worker(sqsEvent(message));
    const result = await cli(stack, ['profile', '--source', stack.sourceId, '--user', 'redelivered']);

    // Assess
    expect([first.batchItemFailures, again.batchItemFailures]).toEqual([[], []]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      userId: 'redelivered',
      traits: { plan: 'free' },
      firstSeen: at(10),
      lastSeen: at(12),
      counts: { identify: 1, track: 2 },
    });
  });

  it('prints the most recent anonymous ids and traits up to the caps, and says on stderr how many it left out', async () => {
    // Prepare: 53 anonymous ids on 53 days, and 102 traits, each by its own event.
    const day = (d: number) => new Date(Date.parse('2025-01-01T00:00:00.000Z') + d * 86_400_000).toISOString();
    const events = [
      ...Array.from({ length: 53 }, (_, d) => segmentEvent('track', { userId: 'many', anonymousId: `m-${d}`, timestamp: day(d) })),
      ...Array.from({ length: 102 }, (_, i) => segmentEvent('identify', { userId: 'many', timestamp: day(i), traits: { [`t${i}`]: i } })),
    ];
    const worker = createWorker(stack.workerDeps);
    for (let i = 0; i < events.length; i += 50) {
      expect((await worker(sqsEvent(sqsRecord(eventMessage(stack.sourceId, events.slice(i, i + 50)))))).batchItemFailures).toEqual([]);
    }

    // Act
    const result = await cli(stack, ['profile', '--source', stack.sourceId, '--user', 'many']);

    // Assess: the oldest three anonymous ids and two traits are left out.
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as { anonymousIds: string[]; traits: Record<string, number> };
    expect(printed.anonymousIds).toEqual(Array.from({ length: 50 }, (_, d) => `m-${d + 3}`));
    expect(Object.keys(printed.traits)).toHaveLength(100);
    expect(printed.traits).not.toHaveProperty('t0');
    expect(printed.traits).not.toHaveProperty('t1');
    expect(result.stderr).toBe('Left out, older than the ones printed: 2 traits (100 printed), 3 anonymous ids (50 printed).\n');
  });

  it('prints the activity of a user seen only in events that change no profile', async () => {
    // A track without an anonymous id writes nothing to the profiles table (issue 22).
    const response = await stack.send('/v1/track', segmentEvent('track', { userId: 'tracks-only', timestamp: at(20) }));
    expect(response.status).toBe(200);
    await stack.drain();

    const result = await cli(stack, ['profile', '--source', stack.sourceId, '--user', 'tracks-only']);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      sourceId: stack.sourceId,
      userId: 'tracks-only',
      traits: {},
      anonymousIds: [],
      aliases: [],
      groups: [],
      firstSeen: at(20),
      lastSeen: at(20),
      counts: { track: 1 },
    });
  });

  it('refuses bad arguments with exit code 2', async () => {
    const cases = [
      ['profile', '--user', 'u'],
      ['profile', '--source', 's'],
      ['profile', '--source', 's', '--user', 'u', '--anonymous', 'a'],
      ['profile', '--source', 's', '--user', 'u', '--own'],
      ['group', '--source', 's'],
    ];
    for (const argv of cases) {
      const result = await cli(stack, argv);
      expect({ argv, code: result.code, stdout: result.stdout }).toEqual({ argv, code: 2, stdout: '' });
      expect(result.stderr).toMatch(/--(source|user|group|own)/);
    }
  });
});

describe('group', () => {
  it("prints a group's merged traits and its members", async () => {
    const result = await cli(stack, ['group', '--source', stack.sourceId, '--group', 'cli-group']);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      sourceId: stack.sourceId,
      groupId: 'cli-group',
      traits: { employees: 120, name: 'Initech' },
      members: ['cli-user', 'other-user'],
    });
  });

  it('says so, and exits 0, for a group nobody joined, through the real bin', async () => {
    const result = await runBin(['group', '--source', stack.sourceId, '--group', 'no-such-group'], { env: stackEnv(stack) });

    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`No group "no-such-group" in source "${stack.sourceId}".\n`);
  });
});
