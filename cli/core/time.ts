/** Time options (`--since`, `--until`): an absolute time in any form the service reads, or an age like `24h`. */
import { parseTimestamp, toIsoMillis } from '../../lib/spec/timestamps';
import { UsageError } from './errors';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** ISO-8601 UTC ms for `value`: `now`, an age (`90m`, `24h`, `7d`, `2w`: that long ago), ISO-8601, epoch seconds or ms. */
export function parseTimeOption(option: string, value: string, now: number = Date.now()): string {
  const text = value.trim();
  if (text === 'now') return toIsoMillis(now);
  const age = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(text);
  if (age) return toIsoMillis(now - Number(age[1]) * (UNITS[(age[2] ?? 's').toLowerCase()] ?? 1000));
  const ms = parseTimestamp(text);
  if (ms === undefined)
    throw new UsageError(
      `--${option} must be a time (2026-11-01, 2026-11-01T12:00:00Z, epoch seconds) or an age (90m, 24h, 7d), got "${value}"`,
    );
  return toIsoMillis(ms);
}
