/**
 * When SQS cannot take the events, the sender gets a 503 with Retry-After, never a 200, and every
 * event that did get a 200 ends up in a table. The outage is real: the SQS emulator stops listening.
 */
import { startSqsEmulator, type SqsEmulator } from '../../local/emulators';
import { segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

let sqs: SqsEmulator;
let stack: TestStack;

beforeAll(async () => {
  sqs = await startSqsEmulator(0);
  stack = await startTestStack({ sqsEndpoint: sqs.endpoint, env: { ENQUEUE_BUDGET_MS: '600' } });
});

afterAll(async () => {
  await stack.stop();
  await sqs.stop();
});

describe('SQS outage', () => {
  it('answers 503 with Retry-After within the budget while SQS is unreachable', async () => {
    await sqs.pause();
    try {
      const started = Date.now();
      const response = await stack.send('/v1/track', segmentEvent('track', { userId: 'outage' }));

      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('10');
      expect(response.body).toEqual({ message: 'the queue did not accept 1 of 1 messages in time; retry later' });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await sqs.resume();
    }
  });

  it('stores every event that got a 200 while SQS went away and came back under load', async () => {
    // Prepare
    const events = Array.from({ length: 60 }, (_, i) => segmentEvent('track', { userId: `load-${i % 5}` }));
    const answers = new Map<string, number>();
    let next = 0;
    let done = 0;

    // Act: four senders; SQS stops after 15 answers and comes back after 35.
    const outage = (async () => {
      while (done < 15) await new Promise((resolve) => setTimeout(resolve, 5));
      await sqs.pause();
      while (done < 35) await new Promise((resolve) => setTimeout(resolve, 5));
      await sqs.resume();
    })();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < events.length) {
          const event = events[next++]!;
          const response = await stack.send('/v1/track', event);
          answers.set(String(event.messageId), response.status);
          done++;
        }
      }),
    );
    await outage;
    await stack.drain(30_000);

    // Assess
    const statuses = [...answers.values()];
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    const stored = new Set((await stack.scan('track')).map((i) => i.messageId));
    const acknowledged = [...answers].filter(([, status]) => status === 200).map(([id]) => id);
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
  });
});
