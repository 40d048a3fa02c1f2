/**
 * What issue 12 asks of the pipeline for operators: events expire after the stage's
 * `eventRetentionDays` (an expiry attribute the table's TTL acts on) and carry none when it is
 * unset, and a request id leads from the ingest function's log line to the worker batch that
 * stored its events.
 */
import type { Log } from '../../lib/shared/log';
import { segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

/** A logger that keeps every line, as the Powertools logger would write it. */
function recordingLog(): Log & { lines: Array<{ message: string; extra: Record<string, unknown> }> } {
  const lines: Array<{ message: string; extra: Record<string, unknown> }> = [];
  const keep = (message: string, extra: Record<string, unknown> = {}) => void lines.push({ message, extra });
  return { lines, debug: keep, info: keep, warn: keep, error: keep };
}

const DAY = 86_400;

describe('event retention', () => {
  let kept: TestStack;
  let expiring: TestStack;

  beforeAll(async () => {
    [kept, expiring] = await Promise.all([startTestStack(), startTestStack({ env: { EVENT_RETENTION_DAYS: '30' } })]);
  });

  afterAll(async () => {
    await Promise.all([kept.stop(), expiring.stop()]);
  });

  it('writes no expiry attribute on event items when the stage keeps events for ever', async () => {
    // Act
    const response = await kept.send('/v1/track', segmentEvent('track', { userId: 'forever', timestamp: '2026-05-01T00:00:00.000Z' }));
    await kept.drain();

    // Assess
    const [item] = await kept.scan('track');
    expect(response.status).toBe(200);
    expect(item).toBeDefined();
    expect(Object.keys(item ?? {})).not.toContain('expiresAt');
  });

  it('expires each event 30 days after its timestamp, in every event table, and leaves rejected to its own retention', async () => {
    // Prepare
    const timestamp = '2026-05-01T00:00:00.000Z';
    const events = [segmentEvent('identify', { userId: 'expiring', timestamp }), segmentEvent('track', { userId: 'expiring', timestamp })];

    // Act
    const response = await expiring.send('/v1/batch', { batch: [...events, { type: 'track', userId: 'no-name' }] });
    await expiring.drain();

    // Assess
    const expected = Date.parse(timestamp) / 1000 + 30 * DAY;
    const [identify] = await expiring.scanRaw('identify');
    const [track] = await expiring.scanRaw('track');
    const [rejected] = await expiring.scan('rejected');
    expect(response.body).toMatchObject({ accepted: 2, rejected: 1 });
    expect(identify?._x).toBe(expected);
    expect(track?._x).toBe(expected);
    // Quarantined events keep REJECTED_RETENTION_DAYS (30) from when the worker wrote them.
    expect(Number(rejected?.expiresAt)).toBeGreaterThan(Date.now() / 1000 + 29 * DAY);
  });
});

describe('a request id through both functions', () => {
  let stack: TestStack;
  const log = recordingLog();

  beforeAll(async () => {
    stack = await startTestStack({ log });
  });

  afterAll(async () => {
    await stack.stop();
  });

  it('is in the ingest line of a request with a rejection and in the line of the worker batch that stored it', async () => {
    // Act
    const response = await stack.send('/v1/batch', {
      batch: [segmentEvent('track', { userId: 'traced' }), { type: 'track', userId: 'x' }],
    });
    await stack.drain();

    // Assess: the quarantined item names the request; both functions' lines name it too.
    const [rejected] = await stack.scan('rejected');
    const requestId = String(rejected?.requestId);
    const ingestLine = log.lines.find((line) => line.message === 'events enqueued' && line.extra.requestId === requestId);
    const workerLine = log.lines.find(
      (line) => line.message === 'batch processed' && (line.extra.requestIds as string[] | undefined)?.includes(requestId),
    );
    expect(response.status).toBe(200);
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ingestLine?.extra).toMatchObject({ accepted: 1, rejected: 1 });
    expect(workerLine?.extra).toMatchObject({ stored: { track: 1 }, quarantined: 1 });
  });
});
