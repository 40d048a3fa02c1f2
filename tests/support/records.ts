/** Builds queue message bodies the way the ingest function does, for tests that drive the worker directly. */
import { encodeMessage, serializeEventRecord, serializeRecord, type QueueRecord } from '../../lib/message/format';
import { normalizeEvent } from '../../lib/spec/normalize';
import { SPEC_TYPES } from '../../lib/spec/event-types';

export function eventMessage(
  sourceId: string,
  events: Record<string, unknown>[],
  requestId = 'req-test',
  receivedAtMs = Date.now(),
): string {
  const meta = { sourceId, receivedAt: new Date(receivedAtMs).toISOString(), requestId };
  return encodeMessage(
    events.map((event) => {
      const verdict = normalizeEvent(event, {
        allowedTypes: SPEC_TYPES,
        clock: 'segment',
        receivedAtMs,
        maxEventBytes: 1024 * 1024,
      });
      if (!verdict.ok) throw new Error(`test event is invalid: ${verdict.reasons.join('; ')}`);
      return serializeEventRecord(meta, verdict.json, verdict.keyTime);
    }),
  );
}

export function recordsMessage(records: QueueRecord[]): string {
  return encodeMessage(records.map(serializeRecord));
}
