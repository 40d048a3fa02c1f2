/**
 * Lenient timestamp parsing. Senders use ISO-8601 with or without a zone, a space instead of `T`,
 * epoch seconds or milliseconds (as numbers or strings), and RFC 2822 dates. Anything we cannot
 * read yields `undefined`; the caller falls back to the receive time and keeps the raw value.
 */

const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Returns the instant as epoch milliseconds, or `undefined` when the value is not a readable time. */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value === 'number') return fromEpoch(value);
  if (typeof value !== 'string') return undefined;
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
  return new Date(ms).toISOString();
}
