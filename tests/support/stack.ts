/**
 * A test's own stage of the pipeline on the shared emulators, with a source and a key, and the few
 * helpers every integration test needs: send a request, wait for the worker, read a table.
 */
import { randomBytes } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { TableName } from '../../infra';
import { EVENT_TYPES, isEventType, type EventType } from '../../lib/spec/event-types';
import { readEventItem } from '../../lib/tables/events';
import { startPipeline, type Pipeline, type PipelineOptions } from '../../local/pipeline';

export interface TestStack extends Pipeline {
  sourceId: string;
  key: string;
  /** The source's webhook shared secret (what Segment's Webhooks destination signs with). */
  webhookSecret: string;
  /** POST (or another method) JSON or raw text to the local endpoint, with the stack's key unless told otherwise. */
  send(path: string, body?: unknown, options?: SendOptions): Promise<TestResponse>;
  /** Waits until the queue holds no message, visible or in the worker's hands. */
  drain(timeoutMs?: number): Promise<void>;
  /**
   * Every item of a table. For an event table, each item read back as the event it holds (with
   * `sourceId`, `receivedAt` as this service received it, `pk` and `sk`); `scanRaw` gives the items as stored.
   */
  scan(table: TableName): Promise<Record<string, unknown>[]>;
  scanRaw(table: TableName): Promise<Record<string, unknown>[]>;
}

export interface SendOptions {
  method?: string;
  /** `null` sends no Authorization header. */
  auth?: string | null;
  headers?: Record<string, string>;
  /** Send this exact text/bytes instead of JSON-encoding `body`. */
  raw?: string | Buffer;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

/** What `TestStack.send` does, against any base URL (e.g. a second server in front of other dependencies). */
export async function sendTo(baseUrl: string, key: string, path: string, body?: unknown, opts: SendOptions = {}): Promise<TestResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  const auth = opts.auth === undefined ? key : opts.auth;
  if (auth !== null && !headers.authorization) headers.authorization = `Basic ${Buffer.from(`${auth}:`).toString('base64')}`;
  const response = await fetch(`${baseUrl}${path}`, {
    method: opts.method ?? 'POST',
    headers,
    body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Left empty: tests that care assert on `text`.
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

export function testStage(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

/**
 * Time budgets for the emulators, unless a test sets its own: DynamoDB Local on a loaded 2-core CI
 * machine once took over the 1 s production default for a key lookup (a 503 where a test expected
 * 429). Production's defaults are tested in tests/unit/shared/config.test.ts, the timeouts
 * themselves by the outage tests, which set short ones.
 */
const EMULATOR_BUDGETS = { LOOKUP_TIMEOUT_MS: '3000', REQUEST_BUDGET_MS: '8000' };

export async function startTestStack(options: Partial<PipelineOptions> = {}): Promise<TestStack> {
  const dynamodbEndpoint = process.env.TEST_DYNAMODB_ENDPOINT;
  const sqsEndpoint = process.env.TEST_SQS_ENDPOINT;
  if (!dynamodbEndpoint || !sqsEndpoint)
    throw new Error('the emulators are not running: tests/support/global-setup.ts sets TEST_*_ENDPOINT');
  const pipeline = await startPipeline({
    stage: testStage(),
    dynamodbEndpoint,
    sqsEndpoint,
    s3Endpoint: process.env.TEST_S3_ENDPOINT,
    // The lake's stream polling is load every other test would carry: tests of the lake ask for it.
    lake: false,
    port: 0,
    visibilityTimeoutSeconds: 2,
    ...options,
    env: { ...EMULATOR_BUDGETS, ...options.env },
  });
  const sourceId = 'src-test';
  await pipeline.admin.createSource(sourceId, 'Test source');
  // A destination key: the tests send deletes with it as Segment's Direct destination does.
  const { key } = await pipeline.admin.createKey(sourceId, { scope: 'destination' });
  const webhookSecret = `whsec-${randomBytes(12).toString('hex')}`;
  await pipeline.admin.setWebhookSecret(sourceId, webhookSecret);

  async function scanRaw(table: TableName): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await pipeline.clients.documents.send(
        new ScanCommand({ TableName: pipeline.config.tables[table], ExclusiveStartKey: start, ConsistentRead: true }),
      );
      items.push(...((page.Items ?? []) as Record<string, unknown>[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  return {
    ...pipeline,
    sourceId,
    key,
    webhookSecret,
    send: (path, body, opts) => sendTo(pipeline.url, key, path, body, opts),
    async drain(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { Attributes = {} } = await pipeline.clients.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: pipeline.queues.queueUrl,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
          }),
        );
        const waiting = [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ].reduce((sum, name) => sum + Number(Attributes[name as keyof typeof Attributes] ?? 0), 0);
        // Received messages count as not visible until the worker deletes them, after their writes.
        // A message just sent counts as delayed for a moment (the emulator makes it visible on a
        // 0 ms timer), and in neither of the other two counts.
        if (waiting === 0) return;
        if (Date.now() > deadline) throw new Error(`queue still holds ${waiting} message(s) after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    scanRaw,
    async scan(table) {
      const items = await scanRaw(table);
      if (!isEventType(table)) return items;
      // Event items store each fact once (lib/tables/events.ts): read them back as the events they hold.
      return items.map((item) => {
        const stored = readEventItem(item, table);
        return { ...stored.event, sourceId: stored.sourceId, receivedAt: stored.receivedAt, pk: item.pk, sk: item.sk };
      });
    },
  };
}

/** Polls `check` every 100 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The user's stored events, by type (read back as `TestStack.scan` reads them). */
export async function storedFor(stack: TestStack, userId: string): Promise<Record<EventType, Record<string, unknown>[]>> {
  const entries = await Promise.all(
    EVENT_TYPES.map(async (type) => [type, (await stack.scan(type)).filter((item) => item.userId === userId)] as const),
  );
  return Object.fromEntries(entries) as Record<EventType, Record<string, unknown>[]>;
}

/**
 * Waits until each of the six tables holds an event of the user, lets the queue drain, and checks
 * (with jest's `expect`) that each holds exactly one. Returns the events by type.
 */
export async function expectEachStoredOnce(
  stack: TestStack,
  userId: string,
  timeoutMs?: number,
): Promise<Record<EventType, Record<string, unknown>[]>> {
  const all = async () => Object.values(await storedFor(stack, userId)).every((items) => items.length > 0);
  await waitFor(`the six events of ${userId}`, all, timeoutMs);
  await stack.drain();
  const stored = await storedFor(stack, userId);
  for (const type of EVENT_TYPES) expect({ type, count: stored[type].length }).toEqual({ type, count: 1 });
  return stored;
}
