/**
 * `rejected list` and `rejected replay` against a local stage: quarantined events are listed with
 * their reasons, exported for fixing, and sent back; a replayed entry is marked and stops showing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ExportLine } from '../../cli/rejected/replay-entries';
import { segmentEvent } from '../support/events';
import { cli } from '../support/cli';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let dir: string;

beforeAll(async () => {
  stack = await startTestStack();
  dir = mkdtempSync(path.join(tmpdir(), 'segment-ingest-rejected-'));
});

afterAll(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

const parseLines = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ExportLine);

describe('rejected list', () => {
  it('lists quarantined events with their reasons, newest first, and exports them as JSON lines', async () => {
    // Prepare
    const noName = segmentEvent('track', { userId: 'list-1', event: undefined, messageId: 'list-no-name' });
    await stack.send('/v1/batch', { batch: [segmentEvent('page', { userId: 'list-ok' }), noName] });
    await stack.send('/v1/identify', 'not an object', { raw: '{"type": "identify", broken' });
    await stack.drain();

    // Act
    const table = await cli(stack, ['rejected', 'list']);
    const exported = await cli(stack, ['rejected', 'list', '--jsonl']);

    // Assess
    expect(table.code).toBe(0);
    const rows = table.stdout.split('\n').filter((line) => /^\d{4}-/.test(line));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(new RegExp(`^\\S+Z +${stack.sourceId} +/v1/identify +- +- +body is not valid JSON`));
    expect(rows[1]).toMatch(new RegExp(`^\\S+Z +${stack.sourceId} +/v1/batch +1 +list-no-name +missing required field "event"$`));
    const lines = parseLines(exported.stdout);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({
      sourceId: stack.sourceId,
      route: '/v1/batch',
      index: 1,
      messageId: 'list-no-name',
      reasons: ['missing required field "event"'],
      event: JSON.parse(JSON.stringify(noName)),
    });
    expect(lines[0]).toMatchObject({ route: '/v1/identify', event: null, raw: '{"type": "identify", broken' });
    expect(lines[0]?.ref.pk).toBe(stack.sourceId);
  });
});

describe('rejected replay', () => {
  it('sends back fixed events from an edited export, marks them replayed, and leaves the ones still invalid', async () => {
    // Prepare: two rejected events; the operator fixes one in the exported file and not the other.
    const fixable = segmentEvent('track', {
      userId: 'fix-me',
      event: undefined,
      messageId: 'fix-1',
      timestamp: '2026-05-01T08:00:00.000Z',
    });
    const hopeless = segmentEvent('group', { userId: 'still-bad', groupId: undefined, messageId: 'bad-1' });
    await stack.send('/v1/batch', { batch: [fixable, hopeless, segmentEvent('page', { userId: 'anchor' })] });
    await stack.drain();
    const exported = parseLines((await cli(stack, ['rejected', 'list', '--jsonl'])).stdout).filter((l) =>
      ['fix-1', 'bad-1'].includes(l.messageId ?? ''),
    );
    const fixed = exported.map((line) =>
      line.messageId === 'fix-1' ? { ...line, event: { ...(line.event as object), event: 'Order Completed' } } : line,
    );
    const file = path.join(dir, 'fixes.jsonl');
    writeFileSync(file, fixed.map((line) => JSON.stringify(line)).join('\n') + '\n');

    // Act
    const dryRun = await cli(stack, ['rejected', 'replay', file, '--key', stack.key, '--dry-run']);
    const result = await cli(stack, ['rejected', 'replay', file, '--key', stack.key]);
    await stack.drain();

    // Assess
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toContain('valid now        1 entries (1 events would be sent)');
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('replayed         1 entries (1 events accepted; marked replayedAt)');
    expect(result.stdout).toContain('still invalid    1');
    expect(result.stderr).toContain('fixes.jsonl:');
    expect(result.stderr).toContain('still invalid: missing required field "groupId"');
    const stored = (await stack.scan('track')).filter((item) => item.userId === 'fix-me');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ messageId: 'fix-1', event: 'Order Completed', timestamp: '2026-05-01T08:00:00.000Z' });
    const rejected = await stack.scan('rejected');
    expect(typeof rejected.find((r) => r.messageId === 'fix-1')?.replayedAt).toBe('string');
    expect(rejected.find((r) => r.messageId === 'bad-1')?.replayedAt).toBeUndefined();
    const waiting = await cli(stack, ['rejected', 'list']);
    expect(waiting.stdout).toContain('bad-1');
    expect(waiting.stdout).not.toContain('fix-1');
    expect((await cli(stack, ['rejected', 'list', '--all'])).stdout).toMatch(/fix-1 .+ \d{4}-\d\d-\d\dT/);
  });

  it('sends back stored events that are valid now, giving an event with no timestamp the time it was first received', async () => {
    // Prepare: a rejection the service itself would accept today (its raw text is a valid event), written as the
    // worker writes one, e.g. for an event that broke a limit that has since been raised.
    const raw = JSON.stringify({ type: 'identify', userId: 'valid-now', traits: { plan: 'pro' } });
    const receivedAt = '2026-06-01T09:30:00.000Z';
    await stack.clients.documents.send(
      new PutCommand({
        TableName: stack.config.tables.rejected,
        Item: {
          pk: stack.sourceId,
          sk: `${receivedAt}#req-1#0`,
          sourceId: stack.sourceId,
          receivedAt,
          requestId: 'req-1',
          route: '/v1/batch',
          index: 0,
          raw,
          rawBytes: raw.length,
          truncated: false,
          reasons: ['event is 40000 bytes serialized; the limit is 32768'],
          expiresAt: 4102444800,
        },
      }),
    );

    // Act
    const first = await cli(stack, ['rejected', 'replay', '--since', '2026-06-01', '--until', '2026-06-02', '--key', stack.key]);
    await stack.drain();
    const second = await cli(stack, ['rejected', 'replay', '--since', '2026-06-01', '--until', '2026-06-02', '--key', stack.key]);

    // Assess
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('replayed         1 entries');
    const stored = (await stack.scan('identify')).filter((item) => item.userId === 'valid-now');
    expect(stored).toHaveLength(1);
    expect(stored[0]?.timestamp).toBe(receivedAt);
    expect(second.stdout).toContain('replayed         0 entries');
  });

  it('refuses a key of another source than the one asked for', async () => {
    await stack.admin.createSource('other');

    const result = await cli(stack, ['rejected', 'replay', '--source', 'other', '--key', stack.key]);

    expect(result).toMatchObject({ code: 2, stderr: `segment-ingest: the key belongs to source "${stack.sourceId}", not "other"\n` });
  });

  it('refuses a key the stage does not know', async () => {
    const result = await cli(stack, ['rejected', 'replay', '--key', 'sk_unknown']);

    expect(result).toMatchObject({ code: 1, stderr: `segment-ingest: the key sk_unkn… is not a key of stage "${stack.config.stage}"\n` });
  });
});
