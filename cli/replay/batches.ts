/**
 * Events into `/v1/batch` bodies within the SPEC limits: at most 500 KB and 2500 events a request,
 * and no event over 32 KB (those are reported, not sent). Event text is sent exactly as read, so
 * numbers and field order survive.
 */
import { describeJsonType } from '../../lib/spec/normalize';

export interface BatchLimits {
  /** Whole request body, bytes. */
  batchBytes: number;
  batchEvents: number;
  /** One event, bytes. */
  eventBytes: number;
}

/** Segment's limits, which the service enforces by default (docs/spec.md section 2). */
export const DEFAULT_LIMITS: BatchLimits = { batchBytes: 500 * 1024, batchEvents: 2500, eventBytes: 32 * 1024 };

const BODY_HEAD = '{"batch":[';
const BODY_TAIL = ']}';
const ENVELOPE_BYTES = BODY_HEAD.length + BODY_TAIL.length;

export type LineVerdict = { kind: 'blank' } | { kind: 'event'; text: string; bytes: number } | { kind: 'invalid'; problem: string };

/** What to do with one line of a replay file. */
export function classifyLine(line: string, limits: BatchLimits): LineVerdict {
  const text = line.trim();
  if (text === '') return { kind: 'blank' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { kind: 'invalid', problem: `not JSON (${(error as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { kind: 'invalid', problem: `not a JSON object (${describeJsonType(value)})` };
  const bytes = Buffer.byteLength(text);
  if (bytes > limits.eventBytes)
    return { kind: 'invalid', problem: `event is ${bytes} bytes, over the ${limits.eventBytes}-byte limit; not sent` };
  return { kind: 'event', text, bytes };
}

export interface Batch<M> {
  texts: string[];
  /** Per event, in order: what the caller needs to map the answer back (a line number, an entry). */
  metas: M[];
  /** Size of the request body. */
  bytes: number;
}

export function batchBody(batch: Batch<unknown>): string {
  return `${BODY_HEAD}${batch.texts.join(',')}${BODY_TAIL}`;
}

/** Fills batches up to the limits; `add` returns the previous batch when the new event does not fit in it. */
export class BatchBuilder<M> {
  private current: Batch<M> = { texts: [], metas: [], bytes: ENVELOPE_BYTES };

  constructor(private readonly limits: Pick<BatchLimits, 'batchBytes' | 'batchEvents'>) {}

  add(text: string, bytes: number, meta: M): Batch<M> | undefined {
    const separator = this.current.texts.length > 0 ? 1 : 0;
    let full: Batch<M> | undefined;
    if (
      this.current.texts.length > 0 &&
      (this.current.texts.length >= this.limits.batchEvents || this.current.bytes + separator + bytes > this.limits.batchBytes)
    ) {
      full = this.current;
      this.current = { texts: [], metas: [], bytes: ENVELOPE_BYTES };
    }
    this.current.bytes += (this.current.texts.length > 0 ? 1 : 0) + bytes;
    this.current.texts.push(text);
    this.current.metas.push(meta);
    return full;
  }

  /** The batch being filled, if it has any event; the builder starts over. */
  flush(): Batch<M> | undefined {
    if (this.current.texts.length === 0) return undefined;
    const batch = this.current;
    this.current = { texts: [], metas: [], bytes: ENVELOPE_BYTES };
    return batch;
  }
}
