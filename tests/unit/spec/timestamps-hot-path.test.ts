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
    for (const value of [
      '',
      'soon',
      '2026-13-01T00:00:00.000Z',
      '0000-01-01T00:00:00.000Z',
      '1969-12-31T23:59:59.999Z',
      Number.NaN,
      null,
      {},
      true,
    ]) {
      expect([value, parseTimestamp(value)]).toEqual([value, undefined]);
    }
  });

  it('formats as ISO-8601 UTC with milliseconds', () => {
    expect(toIsoMillis(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe('2026-01-02T03:04:05.006Z');
  });
});

describe('toIsoMillis', () => {
  it('writes exactly what Date#toISOString writes', () => {
    const edges = [
      0,
      Date.UTC(1972, 1, 29, 23, 59, 59, 999),
      Date.UTC(2000, 1, 29),
      Date.UTC(2000, 2, 1),
      Date.UTC(2100, 1, 28, 12),
      Date.UTC(2100, 2, 1),
      Date.UTC(2026, 11, 31, 23, 59, 59, 999),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    ];
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const samples = [...edges, ...Array.from({ length: 20000 }, () => Math.floor(random() * Date.UTC(9999, 11, 31, 23, 59, 59, 999)))];
    for (const ms of samples) expect([ms, toIsoMillis(ms)]).toEqual([ms, new Date(ms).toISOString()]);
  });

  it('leaves times outside 1970-9999 and fractions to Date', () => {
    for (const ms of [-1, Date.UTC(10000, 0, 1), 1.5]) expect(toIsoMillis(ms)).toBe(new Date(ms).toISOString());
  });
});
