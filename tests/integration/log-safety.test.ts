/**
 * Logs carry ids, counts and reasons, never an event body, trait value, key or secret (docs/spec.md
 * section 3). The handlers run with the real Powertools logger (at DEBUG) and metrics, and every
 * line they write is checked.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { createIngestHandler, ingestDepsFrom } from '../../lib/ingest/handler';
import { createLogger } from '../../lib/shared/log';
import { createMeter } from '../../lib/shared/metrics';
import { createWorkerHandler } from '../../lib/worker/handler';
import { toSqsRecord } from '../../local/sqs-trigger';
import { httpApiEvent, segmentEvent } from '../support/events';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let output: string[];
let restore: () => void;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
});

afterAll(async () => {
  await stack.stop();
});

beforeEach(() => {
  output = [];
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    output.push(chunk.toString());
    return true;
  });
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    output.push(chunk.toString());
    return true;
  });
  restore = () => {
    stdout.mockRestore();
    stderr.mockRestore();
  };
});

afterEach(() => restore());

const SECRETS = {
  trait: 'trait-value-3f9a1c',
  property: 'property-value-77be20',
  email: 'jane.secret@example.com',
  badJson: 'zz7731',
  unknownKey: 'sk_notARealKeyButStillSecret0000000000000',
};

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

describe('log lines', () => {
  it('never contain event bodies, trait values, keys or secrets', async () => {
    // Prepare: the handlers as Lambda builds them, with real logging and metrics.
    const log = createLogger('segment-ingest-test', 'DEBUG');
    const meter = createMeter('SegmentIngest', 'segment-ingest-test', 'ingest');
    const ingest = createIngestHandler(ingestDepsFrom(stack.config, stack.clients, log, meter));
    const worker = createWorkerHandler({ ...stack.workerDeps, log, meter: createMeter('SegmentIngest', 'segment-ingest-test', 'worker') });
    const identify = segmentEvent('identify', { userId: 'log-user', traits: { email: SECRETS.email, note: SECRETS.trait } });
    const track = segmentEvent('track', { userId: 'log-user', properties: { p: SECRETS.property } });
    const requests = [
      httpApiEvent({ path: '/v1/identify', headers: { authorization: basic(stack.key) }, body: JSON.stringify(identify) }),
      httpApiEvent({ path: '/v1/batch', body: JSON.stringify({ writeKey: stack.key, batch: [track, { ...track, event: undefined }] }) }),
      httpApiEvent({ path: '/v1/track', headers: { authorization: basic(stack.key) }, body: `{"a":${SECRETS.badJson}}` }),
      httpApiEvent({ path: '/v1/track', headers: { authorization: basic(SECRETS.unknownKey) }, body: JSON.stringify(track) }),
      httpApiEvent({ path: '/v1/track', headers: { authorization: `Bearer ${SECRETS.unknownKey}` }, body: JSON.stringify(track) }),
      httpApiEvent({
        path: '/v1/group',
        headers: { authorization: basic(stack.key) },
        body: JSON.stringify({ type: 'group', userId: 'u', traits: { t: SECRETS.trait } }),
      }),
    ];

    // Act
    const statuses: number[] = [];
    for (const request of requests) statuses.push((await ingest(request)).statusCode);
    const { Messages = [] } = await stack.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: stack.queues.queueUrl, MaxNumberOfMessages: 10 }),
    );
    const records: SQSRecord[] = Messages.map((m) => toSqsRecord(m, 'arn:aws:sqs:us-east-1:000000000000:test'));
    const result = await worker({ Records: records });

    // Assess: the handlers did log (and emit metrics), and no line holds anything secret.
    expect(statuses).toEqual([200, 200, 400, 401, 401, 400]);
    expect(result.batchItemFailures).toEqual([]);
    const text = output.join('');
    expect(text).toContain('"message":"events enqueued"');
    expect(text).toContain('"message":"batch processed"');
    expect(text).toContain('"EventsAccepted"');
    expect(text).toContain('"EventsStored"');
    for (const [name, secret] of Object.entries({ ...SECRETS, key: stack.key })) {
      expect({ name, found: text.includes(secret) }).toEqual({ name, found: false });
    }
  });
});
