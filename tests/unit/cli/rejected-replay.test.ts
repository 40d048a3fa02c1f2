import { entryFromLine, expandEntry, exportLine, type ReplayEntry } from '../../../cli/rejected/replay-entries';
import type { RejectedEntry } from '../../../lib/tables/rejected';

const now = Date.UTC(2026, 10, 28);
const entry = (event: unknown, route = '/v1/batch'): ReplayEntry => ({
  ref: { pk: 's', sk: '2026-11-01T00:00:00.000Z#r#0' },
  sourceId: 's',
  receivedAt: '2026-11-01T00:00:00.000Z',
  route,
  event,
  label: 'x',
});

describe('expandEntry', () => {
  it('takes a valid event as it is', () => {
    const event = { type: 'track', event: 'A', userId: 'u', timestamp: '2026-10-01T00:00:00.000Z' };

    expect(expandEntry(entry(event), { maxEventBytes: 32768, now })).toEqual({ ok: true, events: [event] });
  });

  it('reports an event that is still invalid, with the reasons the service would give', () => {
    expect(expandEntry(entry({ type: 'track', userId: 'u' }), { maxEventBytes: 32768, now })).toEqual({
      ok: false,
      problem: 'still invalid: missing required field "event"',
    });
  });

  it('gives the type of a single-event route, and the first receive time to an event without timestamp', () => {
    const result = expandEntry(entry({ userId: 'u', traits: {} }, '/v1/identify'), { maxEventBytes: 32768, now });

    expect(result).toEqual({ ok: true, events: [{ type: 'identify', userId: 'u', traits: {}, timestamp: '2026-11-01T00:00:00.000Z' }] });
  });

  it('expands a quarantined batch body, merging its context into each event', () => {
    const body = {
      batch: [
        { type: 'page', userId: 'u', timestamp: 1, context: { ip: '1.1.1.1' } },
        { type: 'screen', anonymousId: 'a', timestamp: 2 },
      ],
      context: { ip: '2.2.2.2', locale: 'fr' },
    };

    const result = expandEntry(entry(body), { maxEventBytes: 32768, now });

    expect(result).toEqual({
      ok: true,
      events: [
        { type: 'page', userId: 'u', timestamp: 1, context: { ip: '1.1.1.1', locale: 'fr' } },
        { type: 'screen', anonymousId: 'a', timestamp: 2, context: { ip: '2.2.2.2', locale: 'fr' } },
      ],
    });
  });

  it('cannot replay text that is not JSON', () => {
    expect(expandEntry(entry(null), { maxEventBytes: 32768, now })).toMatchObject({
      ok: false,
      problem: expect.stringContaining('put the fixed event in "event"') as string,
    });
  });
});

describe('exportLine and entryFromLine', () => {
  it('round-trip an entry through the file an operator edits', () => {
    const stored: RejectedEntry = {
      pk: 's',
      sk: '2026-11-01T00:00:00.000Z#r#3',
      sourceId: 's',
      receivedAt: '2026-11-01T00:00:00.000Z',
      route: '/v1/batch',
      index: 3,
      reasons: ['bad'],
      raw: '{"type":"track"}',
      truncated: false,
    };

    const line = exportLine(stored);
    const back = entryFromLine(JSON.stringify(line), 'f:1');

    expect(line).toEqual({
      ref: { pk: 's', sk: stored.sk },
      sourceId: 's',
      receivedAt: stored.receivedAt,
      route: '/v1/batch',
      index: 3,
      reasons: ['bad'],
      event: { type: 'track' },
    });
    expect(back).toEqual({
      ref: { pk: 's', sk: stored.sk },
      sourceId: 's',
      receivedAt: stored.receivedAt,
      route: '/v1/batch',
      event: { type: 'track' },
      label: 'f:1',
    });
  });

  it('keeps the raw text when it is not JSON, and refuses a line that is not an export', () => {
    const stored: RejectedEntry = {
      pk: 's',
      sk: 'k',
      sourceId: 's',
      receivedAt: 't',
      route: '/v1/track',
      reasons: [],
      raw: '{oops',
      truncated: false,
    };

    expect(exportLine(stored)).toMatchObject({ event: null, raw: '{oops' });
    expect(entryFromLine('{"type":"track"}', 'f:2')).toEqual({
      problem: 'not a line of `segment-ingest rejected list --jsonl` (needs "ref", "sourceId" and "event")',
    });
  });
});
