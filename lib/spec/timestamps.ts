/**
 * Lenient timestamp parsing. Senders use ISO-8601 with or without a zone, a space instead of `T`,
 * epoch seconds or milliseconds (as numbers or strings), and RFC 2822 dates. Anything we cannot
 * read yields `undefined`; the caller falls back to the receive time and keeps the raw value.
 */

const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Returns the instant as epoch milliseconds, or `undefined` when the value is not a readable time. */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value === 'number') return fromEpoch(value);
  if (typeof value !== 'string') return undefined;
  // The form every Segment library sends (and `toIsoMillis` writes): no need to take it apart.
  if (CANONICAL.test(value)) return inRange(Date.parse(value));
  const text = value.trim();
  if (text === '') return undefined;
  if (/^-?\d+(\.\d+)?$/.test(text)) return fromEpoch(Number(text));

  // ISO-like: "2024-05-01 12:00:00", "2024-05-01T12:00:00.123456", "2024-05-01T12:00:00+0200".
  const iso = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d+))?)?\s*(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?$/.exec(text);
  if (iso) {
    const [, date, time = '00:00:00', fraction = '', zone] = iso;
    const ms = fraction.slice(0, 3).padEnd(3, '0');
    let offset = 'Z';
    if (zone && !/^(z|utc)$/i.test(zone)) {
      const digits = zone.replace(':', '');
      offset = `${digits.slice(0, 3)}:${digits.slice(3, 5) || '00'}`;
    }
    return inRange(Date.parse(`${date}T${time.length === 5 ? `${time}:00` : time}.${ms}${offset}`));
  }
  return inRange(Date.parse(text));
}

/** Epoch numbers below 1e11 are seconds (until the year 5138); larger ones are milliseconds. */
function fromEpoch(value: number): number | undefined {
  if (!Number.isFinite(value)) return undefined;
  return inRange(Math.abs(value) < 1e11 ? Math.round(value * 1000) : Math.round(value));
}

function inRange(ms: number): number | undefined {
  return Number.isFinite(ms) && ms >= EARLIEST && ms <= LATEST ? ms : undefined;
}

/** ISO-8601 UTC with milliseconds, the form sort keys use so they order as text. */
export function toIsoMillis(ms: number): string {
  // Same text as `new Date(ms).toISOString()`, computed without a Date (several times faster; it
  // runs for every event). Whole milliseconds in 1970-9999 only; anything else takes the Date path.
  if (!Number.isInteger(ms) || ms < EARLIEST || ms > LATEST) return new Date(ms).toISOString();
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  const milli = rest - second * 1000;
  // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-compatible low-level date algorithms").
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return `${year}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]}T${TWO_DIGITS[hour]}:${TWO_DIGITS[minute]}:${TWO_DIGITS[second]}.${THREE_DIGITS[milli]}Z`;
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
