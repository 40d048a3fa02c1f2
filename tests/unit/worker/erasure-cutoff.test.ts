/** The erasure cut-off (issue 10, 7): the later of the delete's time and its receipt, never past receipt + 5 minutes. */
import type { EventRecord } from '../../../lib/message/format';
import { erasureCutoff, ERASURE_SKEW_MS } from '../../../lib/worker/erasure';

function deleteRecord(timestamp: string, receivedAt: string): EventRecord {
  return { kind: 'event', sourceId: 's', receivedAt, requestId: 'r', event: { type: 'delete', userId: 'u', messageId: 'm', timestamp } };
}

describe('erasureCutoff', () => {
  const received = '2026-06-01T12:00:00.000Z';

  it('is the receive time for a delete dated before it', () => {
    expect(erasureCutoff(deleteRecord('2026-06-01T11:00:00.000Z', received))).toBe(received);
  });

  it('follows a delete dated a little ahead, within the skew allowance', () => {
    expect(erasureCutoff(deleteRecord('2026-06-01T12:03:00.000Z', received))).toBe('2026-06-01T12:03:00.000Z');
  });

  it('stops at the receive time plus 5 minutes, whatever the delete says (2099 included)', () => {
    const latest = new Date(Date.parse(received) + ERASURE_SKEW_MS).toISOString();

    expect(latest).toBe('2026-06-01T12:05:00.000Z');
    expect(erasureCutoff(deleteRecord('2026-06-01T13:00:00.000Z', received))).toBe(latest);
    expect(erasureCutoff(deleteRecord('2099-01-01T00:00:00.000Z', received))).toBe(latest);
  });
});
