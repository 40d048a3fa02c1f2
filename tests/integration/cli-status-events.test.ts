/**
 * `status` and `events` against a local stage: the numbers and rows they print come from what the
 * pipeline stored.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { EVENT_TYPES } from '../../lib/spec/event-types';
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

describe('status', () => {
  it('shows queue depths, items per table and the latest rejections with their reasons', async () => {
    // Prepare: stored events of every type, one rejection, and a message in the dead-letter queue.
    const batch = EVENT_TYPES.map((type) => segmentEvent(type, { userId: 'status-user' }));
    await stack.send('/v1/batch', { batch: [...batch, { type: 'track', userId: 'no-event-name' }] });
    await stack.drain();
    await stack.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.queues.deadLetterQueueUrl, MessageBody: '{"v":1,"records":[]}' }),
    );

    // Act
    const result = await cli(stack, ['status']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`status: stage "${stack.config.stage}" on the local emulators`);
    expect(result.stdout).toMatch(new RegExp(`^endpoint  ${stack.url.replace(/[.:/]/g, '\\$&')}  healthy`, 'm'));
    expect(result.stdout).toMatch(/^events +0 +0 +0 +http/m);
    expect(result.stdout).toMatch(/^dead-letter +1 +0 +0 +http/m);
    expect(result.stdout).toContain('! 1 dead-lettered message(s)');
    for (const type of EVENT_TYPES)
      expect(result.stdout).toMatch(new RegExp(`^${type} +1 +segment-ingest-${stack.config.stage}-${type}$`, 'm'));
    expect(result.stdout).toMatch(/^rejected +1 /m);
    expect(result.stdout).toMatch(/^all events +6/m);
    expect(result.stdout).toMatch(new RegExp(`^\\S+Z +${stack.sourceId} +/v1/batch +6 +- +missing required field "event"$`, 'm'));
  });

  it('prints the same report as JSON', async () => {
    const result = await cli(stack, ['status', '--json']);

    const report = JSON.parse(result.stdout) as {
      queues: Array<{ role: string }>;
      tables: Array<{ name: string; items: number }>;
      rejections: Array<{ reasons: string[] }>;
    };
    expect(result.code).toBe(0);
    expect(report.queues.map((q) => q.role)).toEqual(['events', 'dead-letter']);
    expect(report.tables.find((t) => t.name === 'track')?.items).toBe(1);
    expect(report.rejections[0]?.reasons).toEqual(['missing required field "event"']);
  });
});

describe('events', () => {
  const at = (day: number) => `2026-0${day < 10 ? 3 : 4}-${String(day < 10 ? day : day - 9).padStart(2, '0')}T10:00:00.000Z`;

  beforeAll(async () => {
    // Out of order, across types, plus another user and an anonymous visitor who must not show up.
    const events = [
      segmentEvent('track', { userId: 'alice', timestamp: at(3), messageId: 'a3' }),
      segmentEvent('identify', { userId: 'alice', timestamp: at(1), messageId: 'a1' }),
      segmentEvent('page', { userId: 'alice', timestamp: at(2), messageId: 'a2' }),
      segmentEvent('track', { userId: 'alice', timestamp: at(5), messageId: 'a5' }),
      segmentEvent('group', { userId: 'alice', timestamp: at(4), messageId: 'a4' }),
      segmentEvent('track', { userId: 'bob', timestamp: at(2), messageId: 'b2' }),
      segmentEvent('screen', { userId: undefined, anonymousId: 'visitor-9', timestamp: at(1), messageId: 'v1' }),
    ];
    const response = await stack.send('/v1/batch', { batch: events });
    await stack.drain();
    expect(response.status).toBe(200);
  });

  const lines = (stdout: string) =>
    stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  it("prints a user's events of every type in time order, as JSON lines", async () => {
    const result = await cli(stack, ['events', '--source', stack.sourceId, '--user', 'alice']);

    expect(result.code).toBe(0);
    const events = lines(result.stdout);
    expect(events.map((e) => e.messageId)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(events.map((e) => e.type)).toEqual(['identify', 'page', 'track', 'group', 'track']);
    expect(events[0]).toMatchObject({ userId: 'alice', timestamp: at(1), sourceId: stack.sourceId, pk: `${stack.sourceId}#alice` });
    expect(Object.keys(events[0] ?? {}).slice(0, 4)).toEqual(['type', 'timestamp', 'messageId', 'userId']);
  });

  it('narrows by type and by a [since, until) time range', async () => {
    const result = await cli(stack, [
      'events',
      '--source',
      stack.sourceId,
      '--user',
      'alice',
      '--type',
      'track,group',
      '--since',
      at(3),
      '--until',
      at(5),
    ]);

    expect(lines(result.stdout).map((e) => e.messageId)).toEqual(['a3', 'a4']);
  });

  it("orders and selects events sent without a time (the README's sample request) by the timestamp they were stored with", async () => {
    // Prepare: the README's curl, six times with a different total; no timestamp, no messageId
    for (const total of [1, 2, 3, 4, 5, 6]) {
      const response = await stack.send(
        '/v1/track',
        JSON.parse(`{"type":"track","event":"Order Completed","userId":"carol","properties":{"total":${total}}}`),
      );
      expect(response.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await stack.drain();

    // Act
    const all = await cli(stack, ['events', '--source', stack.sourceId, '--user', 'carol']);
    const lastHour = await cli(stack, ['events', '--source', stack.sourceId, '--user', 'carol', '--since', '1h']);
    const tomorrow = await cli(stack, [
      'events',
      '--source',
      stack.sourceId,
      '--user',
      'carol',
      '--since',
      new Date(Date.now() + 86_400_000).toISOString(),
    ]);

    // Assess: in the order they were sent, by the timestamp each line shows
    const printed = lines(all.stdout);
    expect(printed.map((e) => (e.properties as { total: number }).total)).toEqual([1, 2, 3, 4, 5, 6]);
    const times = printed.map((e) => String(e.timestamp));
    expect(times).toEqual([...times].sort());
    expect(lines(lastHour.stdout).map((e) => (e.properties as { total: number }).total)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(lines(tomorrow.stdout)).toEqual([]);
    expect(tomorrow.stderr).toContain('No events for user "carol"');
  });

  it('finds an anonymous visitor by anonymousId', async () => {
    const result = await cli(stack, ['events', '--source', stack.sourceId, '--anonymous', 'visitor-9']);

    expect(lines(result.stdout).map((e) => e.messageId)).toEqual(['v1']);
  });

  it('prints every nested field of an event, whatever its name (__proto__, constructor, toString)', async () => {
    // Prepare: written by hand, since an object literal cannot hold an own "__proto__".
    const body =
      '{"type":"identify","userId":"odd-keys","messageId":"odd-1","timestamp":"2026-03-01T10:00:00.000Z","constructor":"top",' +
      '"traits":{"__proto__":{"admin":true},"constructor":"c","toString":"s","nested":{"__proto__":"deep"}}}';
    expect((await stack.send('/v1/identify', undefined, { raw: body })).status).toBe(200);
    await stack.drain();

    // Act
    const result = await cli(stack, ['events', '--source', stack.sourceId, '--user', 'odd-keys']);

    // Assess: JSON.parse keeps "__proto__" as an own key, as the printed line has it.
    expect(result.code).toBe(0);
    const [event] = lines(result.stdout);
    expect(event).toMatchObject({ type: 'identify', messageId: 'odd-1', constructor: 'top' });
    const traits = event?.traits as Record<string, unknown>;
    expect(Object.keys(traits).sort()).toEqual(['__proto__', 'constructor', 'nested', 'toString']);
    expect(Object.getOwnPropertyDescriptor(traits, '__proto__')?.value).toEqual({ admin: true });
    expect(Object.getOwnPropertyDescriptor(traits.nested, '__proto__')?.value).toBe('deep');
  });

  it('says on stderr when there is nothing, and exits 0', async () => {
    const result = await cli(stack, ['events', '--source', stack.sourceId, '--user', 'nobody']);

    expect(result).toEqual({ code: 0, stdout: '', stderr: `No events for user "nobody" in source "${stack.sourceId}".\n` });
  });

  it('refuses an unknown type and a missing user, with exit 2', async () => {
    const badType = await cli(stack, ['events', '--source', stack.sourceId, '--user', 'alice', '--type', 'click']);
    const noUser = await cli(stack, ['events', '--source', stack.sourceId]);

    expect(badType.code).toBe(2);
    expect(badType.stderr).toContain('unknown --type click');
    expect(noUser.code).toBe(2);
    expect(noUser.stderr).toContain('give --user USER_ID or --anonymous ANONYMOUS_ID');
  });
});
