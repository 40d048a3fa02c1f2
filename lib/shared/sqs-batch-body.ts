/**
 * SendMessageBatch with its request body written by `JSON.stringify` instead of the SDK's JSON
 * serializer. Why hand-written (measured, issue 15): the SDK's serializer writes every message
 * body into the request one character at a time in JavaScript, which was 15% of batched ingest's
 * CPU in `bench/profile.ts` (more than JSON.parse of the request); `JSON.stringify` escapes the
 * same strings natively.
 *
 * The SDK still does everything else: the command is an ordinary SendMessageBatchCommand, its MD5
 * check (the one proof of what SQS stored) still compares the real bodies with SQS's answer, and
 * endpoint, signing and retries are untouched. Only the serializer is given empty placeholder
 * bodies (a middleware just before it), and a middleware at the start of the build step writes the
 * real request body in its place. The body is the same JSON (awsJson1_0 uses the input's own
 * member names), which tests/unit/shared/sqs-batch-body.test.ts checks against the SDK's output.
 */
import type { SendMessageBatchRequestEntry, SQSClient } from '@aws-sdk/client-sqs';

interface BatchInput {
  QueueUrl?: string;
  Entries?: readonly SendMessageBatchRequestEntry[];
}

/** The real entries, keyed by the placeholder entries the SDK's serializer was given. */
const realEntries = new WeakMap<object, readonly SendMessageBatchRequestEntry[]>();

/**
 * Entries JSON.stringify writes exactly as the SDK does: an id, a body, a delay. Anything else
 * (message attributes hold binary values the SDK encodes as base64) is left to the SDK.
 */
function isPlain(entry: SendMessageBatchRequestEntry): boolean {
  for (const key of Object.keys(entry)) if (key !== 'Id' && key !== 'MessageBody' && key !== 'DelaySeconds') return false;
  return true;
}

/** Adds the two middlewares to `sqs`; at construction, so they are part of its cached stacks. */
export function installBatchBody(sqs: SQSClient): SQSClient {
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as BatchInput;
      if (context.commandName !== 'SendMessageBatchCommand' || !input.Entries?.every(isPlain)) return next(args);
      const placeholders = input.Entries.map((entry) => ({ ...entry, MessageBody: '' }));
      realEntries.set(placeholders, input.Entries);
      return next({ ...args, input: { ...input, Entries: placeholders } as typeof args.input });
    },
    { step: 'serialize', priority: 'high', name: 'segmentIngestBatchPlaceholders', override: true },
  );
  sqs.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as BatchInput;
      const entries = input.Entries ? realEntries.get(input.Entries) : undefined;
      // The serialized request (an HttpRequest; its body is the SDK's own string-like object).
      const request = args.request as { body?: unknown } | undefined;
      // As bytes, once: the signer hashes them and the HTTP handler writes them without converting again.
      if (entries && request && 'body' in request) request.body = Buffer.from(JSON.stringify({ ...input, Entries: entries }));
      return next(args);
    },
    { step: 'build', priority: 'high', name: 'segmentIngestBatchBody', override: true },
  );
  return sqs;
}
