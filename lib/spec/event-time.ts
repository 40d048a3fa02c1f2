/**
 * An event's times, by Segment's rules (docs/spec.md section 2):
 *
 * - `timestamp`, the time users read and order by. From Segment's libraries on the Tracking API the
 *   library's `timestamp` is the device's clock: when `sentAt` (the device's clock at sending, on the
 *   event or its batch) is given, it is corrected for the device's skew,
 *   `timestamp = receivedAt - (sentAt - originalTimestamp)`, and the device time is kept as
 *   `originalTimestamp`. `/segment` and `/webhook` carry Segment's own corrected `timestamp`, which is
 *   kept as is. A time more than a day ahead of the receive time is clamped to it, with a warning.
 *   An event without a readable time gets its receive time (and keeps an unreadable one as
 *   `rawTimestamp`).
 * - the key time, which goes into the sort key: the time the sender gave, never a corrected or a
 *   receive time, so every retry and replay of an event has the same key. It is the device time
 *   (`originalTimestamp`, else `timestamp` as sent) on every route, so an event stored live by
 *   Segment and replayed from an archive through the Tracking API lands on the same item. An event
 *   with no time of its own has `NO_KEY_TIME`, a fixed position before every real time.
 */
import { parseTimestamp, toIsoMillis } from './timestamps';

/** Whose clock an event's `timestamp` is on. */
export type EventClock = 'library' | 'segment';

/** The sort position of events that carry no time of their own: before every real time (1970 and later). */
export const NO_KEY_TIME = '0000-00-00T00:00:00.000Z';

/** How far ahead of the receive time a timestamp may be before it is clamped: a day, as Segment's clients allow. */
export const MAX_FUTURE_MS = 24 * 3600 * 1000;

export interface EventTime {
  /** ISO-8601 UTC ms: the corrected or given time, clamped. */
  timestamp: string;
  /** ISO-8601 UTC ms, or `NO_KEY_TIME`. */
  keyTime: string;
  /** Set when the correction moved the library's `timestamp` to `originalTimestamp`. */
  originalTimestamp?: unknown;
  warning?: string;
}

/**
 * Resolves the times of `event` (its fields as sent). `sentAt` is the batch's when the event has
 * none. Pure: the caller writes the result into the event.
 */
export function resolveEventTime(
  event: Record<string, unknown>,
  clock: EventClock,
  receivedAtMs: number,
  batchSentAt?: unknown,
): EventTime {
  const givenMs = parseTimestamp(event.timestamp);
  // Segment's own events often carry the same text in both: parsed once.
  const originalMs = event.originalTimestamp === event.timestamp ? givenMs : parseTimestamp(event.originalTimestamp);
  const deviceMs = originalMs ?? givenMs;
  const keyTime = deviceMs === undefined ? NO_KEY_TIME : toIsoMillis(deviceMs);

  let timeMs = givenMs ?? originalMs;
  let originalTimestamp: unknown;
  // An event holding both fields was processed by Segment already (an archive replayed through the
  // Tracking API): its timestamp is corrected, and its sentAt is from the first delivery.
  const processed = event.timestamp !== undefined && event.originalTimestamp !== undefined;
  if (clock === 'library' && deviceMs !== undefined && !processed) {
    const sentAtMs = parseTimestamp(event.sentAt) ?? parseTimestamp(batchSentAt);
    if (sentAtMs !== undefined) {
      // A corrected time before 1970 means the clocks are nonsense: keep the device's time then.
      timeMs = Math.max(receivedAtMs - (sentAtMs - deviceMs), 0) || deviceMs;
      if (event.originalTimestamp === undefined) originalTimestamp = event.timestamp;
    }
  }

  const time: EventTime = { timestamp: toIsoMillis(timeMs ?? receivedAtMs), keyTime };
  if (originalTimestamp !== undefined) time.originalTimestamp = originalTimestamp;
  if (timeMs !== undefined && timeMs > receivedAtMs + MAX_FUTURE_MS) {
    time.timestamp = toIsoMillis(receivedAtMs);
    time.warning = `"timestamp" ${toIsoMillis(Math.min(timeMs, 253402300799999))} is more than a day ahead of the receive time; stored as the receive time`;
  }
  return time;
}
