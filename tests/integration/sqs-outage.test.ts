/**
 * When SQS cannot take the events, the sender gets a 503 with Retry-After, never a 200, and every
 * event that did get a 200 ends up in a table. The outage is real: the SQS emulator stops listening.
 */
import type { Context } from 'aws-lambda';
import { createEnqueuer } from '../../lib/ingest/enqueue';
import { createIngestHandler } from '../../lib/ingest/handler';
import { startSqsEmulator, type SqsEmulator } from '../../local/emulators';
import { httpApiEvent, segmentEvent } from '../support/events';
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

describe('time budgets tied to the invocation', () => {
  it('answers 503 before the invocation runs out, when it has less time left than the budget', async () => {
    // Prepare: the handler as Lambda calls it, with a context that has 800 ms left (the enqueue
    // budget of this stack is 600 ms, the request budget 8 s (tests/support/stack.ts), this
    // enqueuer's 4 s: the invocation's end comes first).
    const enqueue = createEnqueuer({ sqs: stack.clients.sqs, queueUrl: stack.queues.queueUrl, messageBytes: 256 * 1024, budgetMs: 4000 });
    const slowHandler = createIngestHandler({ ...stack.ingestDeps, enqueue });
    const context = { getRemainingTimeInMillis: () => 800 } as Context;
    const event = httpApiEvent({
      path: '/v1/track',
      headers: { authorization: `Basic ${Buffer.from(`${stack.key}:`).toString('base64')}` },
      body: JSON.stringify(segmentEvent('track', { userId: 'deadline' })),
    });
    await sqs.pause();
    try {
      // Act
      const started = Date.now();
      const answer = await slowHandler(event, context);
      const elapsed = Date.now() - started;

      // Assess: 800 ms less the 500 ms answer margin, not the 4 s enqueue budget.
      expect(answer.statusCode).toBe(503);
      expect(elapsed).toBeLessThan(2000);
    } finally {
      await sqs.resume();
    }
  });
});
