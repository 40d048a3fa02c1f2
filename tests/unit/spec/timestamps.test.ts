import { parseTimestamp, toIsoMillis } from '../../../lib/spec/timestamps';

describe('parseTimestamp', () => {
  it('reads the canonical form and every lenient form the same way', () => {
    const ms = Date.UTC(2026, 2, 14, 9, 30, 0, 2);
    expect(parseTimestamp('2026-03-14T09:30:00.002Z')).toBe(ms);
    expect(parseTimestamp(' 2026-03-14T09:30:00.002Z ')).toBe(ms);
    expect(parseTimestamp('2026-03-14T09:30:00.002z')).toBe(ms);
    expect(parseTimestamp('2026-03-14T09:30:00.0021Z')).toBe(ms);
    expect(parseTimestamp('2026-03-14T11:30:00.002+02:00')).toBe(ms);
    expect(parseTimestamp('2026-03-14 09:30:00.002 UTC')).toBe(ms);
    expect(parseTimestamp(ms)).toBe(ms);
    expect(parseTimestamp(String(ms))).toBe(ms);
  });

  it('returns undefined for what it cannot read or what is out of range', () => {
    for (const value of ['', 'soon', '2026-13-01T00:00:00.000Z', '0000-01-01T00:00:00.000Z', '1969-12-31T23:59:59.999Z', Number.NaN, null, {}, true]) {
      expect([value, parseTimestamp(value)]).toEqual([value, undefined]);
    }
  });

  it('formats as ISO-8601 UTC with milliseconds', () => {
    expect(toIsoMillis(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe('2026-01-02T03:04:05.006Z');
  });
});
