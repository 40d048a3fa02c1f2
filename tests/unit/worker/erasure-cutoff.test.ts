/**
 * The erasure cut-off (issue 19): the receive time of the delete, whatever its own timestamp says,
 * and the time an event is judged by: the earlier of its timestamp and its receive time.
 */
import type { EventRecord } from '../../../lib/message/format';
import { isErased } from '../../../lib/tables/erasures';
import { erasureCutoff, erasureTime } from '../../../lib/worker/erasure';

function record(type: 'delete' | 'track', timestamp: string, receivedAt: string): EventRecord {
  return { kind: 'event', sourceId: 's', receivedAt, requestId: 'r', event: { type, userId: 'u', messageId: 'm', timestamp } };
}

describe('erasureCutoff', () => {
  const received = '2026-06-01T12:00:00.000Z';

  it('is the receive time for a delete dated before it', () => {
    expect(erasureCutoff(record('delete', '2026-06-01T11:00:00.000Z', received))).toBe(received);
  });

  it('is the receive time for a delete dated 4 minutes ahead (issue 19), or in 2099', () => {
    expect(erasureCutoff(record('delete', '2026-06-01T12:04:00.000Z', received))).toBe(received);
    expect(erasureCutoff(record('delete', '2099-01-01T00:00:00.000Z', received))).toBe(received);
  });
});

describe('erasureTime', () => {
  const cutoff = '2026-06-01T12:00:00.000Z';

  it('covers an event received after the delete only when it happened before it (a retry, a replay)', () => {
    expect(isErased(erasureTime(record('track', '2026-06-01T11:59:00.000Z', '2026-06-01T12:01:00.000Z')), cutoff)).toBe(true);
    expect(isErased(erasureTime(record('track', '2026-06-01T12:00:30.000Z', '2026-06-01T12:01:00.000Z')), cutoff)).toBe(false);
  });

  it('covers an event received before the delete even when its clock ran ahead of ours', () => {
    expect(isErased(erasureTime(record('track', '2026-06-01T12:03:00.000Z', '2026-06-01T11:59:59.000Z')), cutoff)).toBe(true);
  });
});
