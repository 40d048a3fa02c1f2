/**
 * Segment's timestamp rules (issue 11) and a key that holds still across retries (issue 10, 6):
 * events of the Tracking API get `timestamp = receivedAt - (sentAt - originalTimestamp)`, the
 * device's clock is kept as `originalTimestamp`, and the item's sort key is the sender's own time,
 * so a retry with a new `sentAt`, or of an event with no time at all, overwrites the same item.
 */
import { segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.stop();
});

async function itemsOf(table: 'track' | 'page' | 'identify', userId: string) {
  await stack.drain();
  return (await stack.scan(table)).filter((item) => item.userId === userId);
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Segment's rule gives the truth plus the request's time in flight (the receive time stands in for
 * the send time): at least the truth, at most the truth plus the round trip from `sent` to `answered`.
 */
function expectCorrected(timestamp: unknown, truth: number, sent: number, answered: number): void {
  const error = Date.parse(String(timestamp)) - truth;
  expect(error).toBeGreaterThanOrEqual(0);
  expect(error).toBeLessThanOrEqual(answered - sent);
}

describe('correcting a device clock (Tracking API)', () => {
  it.each([
    ['10 minutes fast', 10 * 60_000],
    ['3 hours slow', -3 * 3600_000],
  ])('corrects a clock %s to the truth (give or take the time in flight), keeping the device time', async (label, skewMs) => {
    // Prepare: the event happened 2 s ago and is sent now, both by a clock off by `skewMs`.
    const userId = `clock-${skewMs}`;
    const sent = Date.now();
    const truth = sent - 2000;
    const device = truth + skewMs;
    const event = { type: 'track', event: 'Clock', userId, messageId: `clock-${skewMs}`, timestamp: iso(device) };

    // Act
    const response = await stack.send('/v1/batch', { batch: [event], sentAt: iso(device + 2000) });
    const answered = Date.now();

    // Assess
    expect(response.status).toBe(200);
    const [item] = await itemsOf('track', userId);
    expectCorrected(item?.timestamp, truth, sent, answered);
    expect(item?.originalTimestamp).toBe(iso(device));
    expect(item?.sk).toBe(`${iso(device)}#clock-${skewMs}`);
    expect(label).toBeTruthy();
  });

  it('uses sentAt on the event itself, and originalTimestamp as RudderStack sends it', async () => {
    const sent = Date.now();
    const truth = sent - 1000;
    const device = truth - 3600_000;
    const event = {
      type: 'page',
      name: 'Home',
      userId: 'rudder-like',
      messageId: 'rl-1',
      originalTimestamp: iso(device),
      sentAt: iso(device + 1000),
    };

    const response = await stack.send('/v1/page', event);
    const answered = Date.now();

    expect(response.status).toBe(200);
    const [item] = await itemsOf('page', 'rudder-like');
    expectCorrected(item?.timestamp, truth, sent, answered);
    expect(item?.originalTimestamp).toBe(iso(device));
  });

  it('stores a retried batch with a new sentAt once', async () => {
    const device = Date.now() - 60_000;
    const events = [0, 1, 2].map((i) => ({
      type: 'track',
      event: 'Retry',
      userId: 'retried',
      messageId: `retry-${i}`,
      timestamp: iso(device + i),
    }));

    const first = await stack.send('/v1/batch', { batch: events, sentAt: iso(device + 1000) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const retry = await stack.send('/v1/batch', { batch: events, sentAt: iso(device + 31_000) });

    expect([first.status, retry.status]).toEqual([200, 200]);
    expect(await itemsOf('track', 'retried')).toHaveLength(3);
  });

  it('keeps the timestamp of an event Segment already processed (an archive replayed), whatever its old sentAt', async () => {
    const archived = segmentEvent('track', {
      userId: 'archived',
      messageId: 'arch-1',
      timestamp: '2026-03-01T10:00:00.000Z',
      originalTimestamp: '2026-03-01T09:59:58.000Z',
      sentAt: '2026-03-01T09:59:59.000Z',
    });

    await stack.send('/v1/batch', { batch: [archived] });

    const [item] = await itemsOf('track', 'archived');
    expect(item?.timestamp).toBe('2026-03-01T10:00:00.000Z');
    expect(item?.sk).toBe('2026-03-01T09:59:58.000Z#arch-1');
  });
});

describe('Segment-corrected timestamps (/segment, /webhook)', () => {
  it('leaves the timestamp of the Direct destination alone, sentAt or not', async () => {
    const event = segmentEvent('identify', {
      userId: 'direct-time',
      timestamp: '2026-05-01T00:00:00.000Z',
      sentAt: '2026-05-01T05:00:00.000Z',
    });

    await stack.send('/segment', event);

    const [item] = await itemsOf('identify', 'direct-time');
    expect(item?.timestamp).toBe('2026-05-01T00:00:00.000Z');
  });
});

describe('clamping the future', () => {
  it('clamps a timestamp a year ahead to the receive time and says so in warnings', async () => {
    const ahead = iso(Date.now() + 365 * 86_400_000);
    const before = Date.now();

    const response = await stack.send('/v1/track', {
      type: 'track',
      event: 'Future',
      userId: 'future',
      messageId: 'future-1',
      timestamp: ahead,
    });

    expect(response.status).toBe(200);
    expect(response.body.warnings).toEqual([
      `"timestamp" ${ahead} is more than a day ahead of the receive time; stored as the receive time`,
    ]);
    const [item] = await itemsOf('track', 'future');
    expect(Date.parse(String(item?.timestamp))).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(String(item?.timestamp))).toBeLessThan(Date.now() + 1000);
    // The key keeps the sender's time: a retry of the same event lands on the same item.
    expect(item?.sk).toBe(`${ahead}#future-1`);
  });

  it('names the event of a batch whose timestamp was clamped by its position, and stores both', async () => {
    const ahead = iso(Date.now() + 365 * 86_400_000);
    const now = segmentEvent('track', { userId: 'future-batch', messageId: 'future-batch-0' });
    const future = segmentEvent('track', { userId: 'future-batch', messageId: 'future-batch-1', timestamp: ahead });

    const response = await stack.send('/v1/batch', { batch: [now, future] });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ accepted: 2, rejected: 0 });
    expect(response.body.warnings).toEqual([
      `event 1: "timestamp" ${ahead} is more than a day ahead of the receive time; stored as the receive time`,
    ]);
    expect(await itemsOf('track', 'future-batch')).toHaveLength(2);
  });
});

describe('a key that holds still across retries (issue 10, 6)', () => {
  it.each(['/v1/track', '/segment'])(
    'stores an event with a messageId and no timestamp once, however often %s receives it',
    async (route) => {
      const userId = `timeless-${route.replace(/\W/g, '')}`;
      const event = { type: 'track', event: 'Timeless', userId, messageId: `${userId}-1` };

      for (let i = 0; i < 3; i++) {
        expect((await stack.send(route, event)).status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }

      const items = await itemsOf('track', userId);
      expect(items).toHaveLength(1);
      expect(items[0]?.sk).toBe(`0000-00-00T00:00:00.000Z#${userId}-1`);
    },
  );
});
