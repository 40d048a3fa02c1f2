import { parseTimeOption } from '../../../cli/core/time';
import { sortKeyRange } from '../../../lib/tables/rejected';

const now = Date.UTC(2026, 10, 28, 12, 0, 0);

it('reads ages, absolute times and epoch seconds as ISO-8601 UTC', () => {
  expect(parseTimeOption('since', '24h', now)).toBe('2026-11-27T12:00:00.000Z');
  expect(parseTimeOption('since', '90m', now)).toBe('2026-11-28T10:30:00.000Z');
  expect(parseTimeOption('since', '2w', now)).toBe('2026-11-14T12:00:00.000Z');
  expect(parseTimeOption('since', '2026-11-01', now)).toBe('2026-11-01T00:00:00.000Z');
  expect(parseTimeOption('since', '2026-11-01T10:00:00+02:00', now)).toBe('2026-11-01T08:00:00.000Z');
  expect(parseTimeOption('until', '1764590400', now)).toBe('2025-12-01T12:00:00.000Z');
  expect(parseTimeOption('until', 'now', now)).toBe('2026-11-28T12:00:00.000Z');
});

it('refuses what is not a time', () => {
  expect(() => parseTimeOption('since', 'yesterday', now)).toThrow('--since must be a time');
});

it('makes a sort key range that includes since and excludes until', () => {
  const { lower, upper } = sortKeyRange('2026-11-01T00:00:00.000Z', '2026-11-02T00:00:00.000Z');
  const inside = (sk: string) => sk >= lower && sk <= upper;

  expect(inside('2026-11-01T00:00:00.000Z#m1')).toBe(true);
  expect(inside('2026-11-01T23:59:59.999Z#m2')).toBe(true);
  expect(inside('2026-11-02T00:00:00.000Z#m3')).toBe(false);
  expect(sortKeyRange(undefined, undefined)).toEqual({ lower: '0', upper: '~' });
});
