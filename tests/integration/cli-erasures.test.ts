/**
 * `erasures show` on a local stage: it reports what the worker recorded for a real `delete` sent
 * through `/segment`, hashing the userId the worker's way, and says so when nothing is recorded.
 */
import { recordAudit, recordTombstone, userHash } from '../../lib/tables/erasures';
import type { ErasureDeps } from '../../lib/worker/erasure';
import { EVENT_TYPES, type EventType } from '../../lib/spec/event-types';
import type { EventRecord } from '../../lib/message/format';
import { silentLog } from '../../lib/shared/log';
import { systemClock } from '../../lib/shared/retry';
import { EXIT } from '../../cli/core/errors';
import { segmentEvent } from '../support/events';
import { cli } from '../support/cli';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.stop();
});

const zero = () => Object.fromEntries(EVENT_TYPES.map((type) => [type, 0])) as Record<EventType, number>;

describe('erasures show', () => {
  const userId = 'erase-me@example.com';

  beforeAll(async () => {
    // Prepare: three tracks, a page, an identify and a group call of the user (so a profile with a
    // membership), then Segment's delete for them.
    const before = '2026-06-01T10:00:00.000Z';
    const events = [
      ...[1, 2, 3].map((i) => segmentEvent('track', { userId, timestamp: before, messageId: `t${i}` })),
      segmentEvent('page', { userId, timestamp: before }),
      segmentEvent('identify', { userId, timestamp: before }),
      segmentEvent('group', { userId, groupId: 'g-erase', timestamp: before }),
      segmentEvent('track', { userId: 'someone-else', timestamp: before }),
    ];
    expect((await stack.send('/v1/batch', { batch: events })).status).toBe(200);
    await stack.drain();
    const deletion = await stack.send('/segment', { type: 'delete', userId, messageId: 'del-1', timestamp: '2026-06-02T00:00:00.000Z' });
    expect(deletion.status).toBe(200);
    await stack.drain();
  });

  it('prints when the user was erased, the items per table and that the sweep finished', async () => {
    // Act
    const result = await cli(stack, ['erasures', 'show', '--source', stack.sourceId, '--user', userId]);

    // Assess
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toContain(`User "${userId}" in source "${stack.sourceId}" was erased.\n`);
    expect(result.stdout).toContain(`\nstage       stage "${stack.config.stage}" on the local emulators`);
    expect(result.stdout).toMatch(new RegExp(`^user hash   ${userHash(userId, stack.config.erasureHashKey ?? '')}$`, 'm'));
    expect(result.stdout).toMatch(/^cut-off {5}\d{4}-\d\d-\d\dT[\d:.]+Z {2}\(events of the user timed at or before it/m);
    expect(result.stdout).toMatch(/^sweep {7}complete; 6 item\(s\) erased by 1 delete request\(s\)$/m);
    expect(result.stdout).toMatch(/^\S+Z +\S+Z +del-1 +1 +6 +\S+Z$/m);
    expect(result.stdout).toMatch(/^track +3$/m);
    expect(result.stdout).toMatch(/^page +1$/m);
    expect(result.stdout).toMatch(/^identify +1$/m);
    expect(result.stdout).toMatch(/^group +1$/m);
    expect(result.stdout).toMatch(/^alias +0$/m);
    expect(result.stdout).toContain('\nREMOVED FROM THE PROFILES TABLE\n');
    expect(result.stdout).toMatch(/^profile +1$/m);
    expect(result.stdout).toMatch(/^group memberships +1$/m);
  });

  it('prints the same as JSON with --json, the hash the worker stores included', async () => {
    // Act
    const result = await cli(stack, ['erasures', 'show', '--source', stack.sourceId, '--user', userId, '--json']);

    // Assess
    const status = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(result.code).toBe(EXIT.ok);
    expect(status).toMatchObject({
      sourceId: stack.sourceId,
      userId,
      userHash: userHash(userId, stack.config.erasureHashKey ?? ''),
      erased: true,
      sweepComplete: true,
      totals: {
        erasedItems: 6,
        perTable: { ...zero(), track: 3, page: 1, identify: 1, group: 1 },
        profiles: { profiles: 1, memberships: 1 },
      },
      requests: [{ messageId: 'del-1', runs: 1, erasedItems: 6, requestedAt: '2026-06-02T00:00:00.000Z' }],
    });
    expect((status.requests as Array<{ completedAt?: string }>)[0]?.completedAt).toMatch(/Z$/);
    expect(await stack.scan('track')).toHaveLength(1);
  });

  it.each([
    ['text', []],
    ['JSON', ['--json']],
  ])('exits 4 with "no erasure recorded for that user" for a user never erased (%s)', async (_format, extra) => {
    // Act
    const result = await cli(stack, ['erasures', 'show', '--source', stack.sourceId, '--user', 'someone-else', ...extra]);

    // Assess
    expect(result.code).toBe(EXIT.notFound);
    expect(EXIT.notFound).toBe(4);
    expect(result.stderr).toMatch(
      /^No erasure recorded for that user: user "someone-else" in source "src-test", stage "t[0-9a-f]+" on the local emulators/,
    );
    if (extra.length > 0) expect(JSON.parse(result.stdout)).toMatchObject({ erased: false, requests: [], sweepComplete: false });
    else expect(result.stdout).toBe('');
  });

  it('says the sweep is not complete while a delete has runs left', async () => {
    // Prepare: what the worker records for a run cut short by its time budget (its own writers).
    const deps = {
      documents: stack.clients.documents,
      tables: stack.config.tables,
      log: silentLog,
      clock: systemClock,
      hashKey: stack.config.erasureHashKey,
    } as unknown as ErasureDeps;
    const record: EventRecord = {
      kind: 'event',
      sourceId: stack.sourceId,
      receivedAt: '2026-07-01T00:00:00.000Z',
      requestId: 'req-unfinished',
      event: { type: 'delete', userId: 'half-done', messageId: 'del-2', timestamp: '2026-07-01T00:00:00.000Z' },
    };
    const deadline = Date.now() + 5000;
    await recordTombstone(deps, stack.sourceId, 'half-done', record.receivedAt, deadline);
    await recordAudit(deps, record, record.receivedAt, { complete: false, outOfTime: true, erased: { ...zero(), track: 7 } }, deadline);

    // Act
    const text = await cli(stack, ['erasures', 'show', '--source', stack.sourceId, '--user', 'half-done']);
    const json = await cli(stack, ['erasures', 'show', '--source', stack.sourceId, '--user', 'half-done', '--json']);

    // Assess
    expect(text.code).toBe(EXIT.ok);
    expect(text.stdout).toMatch(/^sweep {7}NOT complete: the worker retries the delete until it is; 7 item\(s\) erased/m);
    expect(text.stdout).toMatch(/del-2 +1 +7 +not yet$/m);
    expect(JSON.parse(json.stdout)).toMatchObject({ erased: true, sweepComplete: false, requests: [{ messageId: 'del-2' }] });
  });

  it('refuses to run without --source or --user', async () => {
    expect((await cli(stack, ['erasures', 'show', '--user', userId])).code).toBe(EXIT.usage);
    expect((await cli(stack, ['erasures', 'show', '--source', stack.sourceId])).stderr).toContain('--user USER_ID is required');
  });
});
