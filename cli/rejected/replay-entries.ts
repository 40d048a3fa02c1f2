/**
 * Sending quarantined events back through the pipeline. An entry is one item of the `rejected`
 * table: its raw text as stored (events that are valid now, e.g. after a validation fix or a raised
 * limit), or the `event` an operator fixed in an exported JSON-lines file. Each entry is checked
 * with the service's own validation first, so one that is still invalid is reported instead of
 * being quarantined a second time. An entry whose events were all accepted is marked `replayedAt`.
 */
import { EVENT_TYPES, type EventType } from '../../lib/spec/event-types';
import { normalizeEvent } from '../../lib/spec/normalize';
import type { RejectedEntry } from '../../lib/tables/rejected';

/** A line of `rejected list --jsonl`, and of the file `rejected replay FILE` reads back. */
export interface ExportLine {
  ref: { pk: string; sk: string };
  sourceId: string;
  receivedAt: string;
  route: string;
  index?: number;
  messageId?: string;
  reasons: string[];
  /** The rejected event parsed from its raw text; `null` when that text is not JSON (or was cut at 48 KB). Edit this. */
  event: unknown;
  /** The raw text, only when `event` is null. */
  raw?: string;
  replayedAt?: string;
}

export interface ReplayEntry {
  ref: { pk: string; sk: string };
  sourceId: string;
  /** When the service first received it: the event time of an event that has none. */
  receivedAt: string;
  route: string;
  event: unknown;
  /** How messages name the entry: `<receivedAt> <route>[#index]`, or `file:line`. */
  label: string;
}

export function exportLine(entry: RejectedEntry): ExportLine {
  const event = parseRaw(entry);
  return {
    ref: { pk: entry.pk, sk: entry.sk },
    sourceId: entry.sourceId,
    receivedAt: entry.receivedAt,
    route: entry.route,
    ...(entry.index === undefined ? {} : { index: entry.index }),
    ...(entry.messageId === undefined ? {} : { messageId: entry.messageId }),
    reasons: entry.reasons,
    event,
    ...(event === null ? { raw: entry.raw } : {}),
    ...(entry.replayedAt ? { replayedAt: entry.replayedAt } : {}),
  };
}

export function entryFromTable(entry: RejectedEntry): ReplayEntry {
  return {
    ref: { pk: entry.pk, sk: entry.sk },
    sourceId: entry.sourceId,
    receivedAt: entry.receivedAt,
    route: entry.route,
    event: parseRaw(entry),
    label: labelOf(entry),
  };
}

/** Reads one line of an edited export; returns the problem when the line is not one. */
export function entryFromLine(text: string, label: string): ReplayEntry | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON (${(error as Error).message})` };
  }
  const line = value as Partial<ExportLine> | null;
  if (
    typeof line !== 'object' ||
    line === null ||
    typeof line.ref?.pk !== 'string' ||
    typeof line.ref.sk !== 'string' ||
    typeof line.sourceId !== 'string'
  ) {
    return { problem: 'not a line of `segment-ingest rejected list --jsonl` (needs "ref", "sourceId" and "event")' };
  }
  const receivedAt = typeof line.receivedAt === 'string' ? line.receivedAt : (line.ref.sk.split('#')[0] ?? '');
  return {
    ref: { pk: line.ref.pk, sk: line.ref.sk },
    sourceId: line.sourceId,
    receivedAt,
    route: typeof line.route === 'string' ? line.route : '',
    event: line.event ?? null,
    label,
  };
}

function labelOf(entry: RejectedEntry): string {
  return `${entry.receivedAt} ${entry.sourceId} ${entry.route}${entry.index === undefined ? '' : `#${entry.index}`}`;
}

function parseRaw(entry: RejectedEntry): unknown {
  if (entry.truncated) return null;
  try {
    return JSON.parse(entry.raw) as unknown;
  } catch {
    return null;
  }
}

export type Expansion = { ok: true; events: Record<string, unknown>[] } | { ok: false; problem: string };

/**
 * The events an entry stands for, each checked like the service checks it. A whole quarantined
 * body may hold several: a `{"batch":[...]}` (batch context and integrations merged into each
 * item, the item's keys winning) or a webhook array. A single-event route (`/v1/track`) supplies
 * the type when the event has none. An event with no `timestamp` (nor `originalTimestamp`) gets the
 * time the service first received it: its event time is then what it would have been, and
 * replaying the entry twice yields the same derived messageId, so it is stored once.
 */
export function expandEntry(entry: ReplayEntry, options: { maxEventBytes: number; now: number }): Expansion {
  const { event } = entry;
  if (event === null || event === undefined) {
    return {
      ok: false,
      problem:
        'its raw text is not JSON (or was cut at 48 KB): export it (rejected list --jsonl), put the fixed event in "event", and replay the file',
    };
  }
  let items: unknown[];
  let defaults: { context?: unknown; integrations?: unknown } = {};
  if (Array.isArray(event)) {
    items = event;
  } else if (isObject(event) && Array.isArray(event.batch) && event.type === undefined) {
    items = event.batch;
    defaults = { context: event.context, integrations: event.integrations };
  } else {
    items = [event];
  }
  if (items.length === 0) return { ok: false, problem: 'it holds no event' };
  const routeType = /^\/v1\/(\w+)$/.exec(entry.route)?.[1];
  const events: Record<string, unknown>[] = [];
  const problems: string[] = [];
  items.forEach((item, i) => {
    let candidate = item;
    if (isObject(item)) {
      candidate = { ...item };
      const c = candidate as Record<string, unknown>;
      if (c.type === undefined && routeType && EVENT_TYPES.includes(routeType as EventType)) c.type = routeType;
      if (
        (c.timestamp === undefined || c.timestamp === null) &&
        (c.originalTimestamp === undefined || c.originalTimestamp === null) &&
        entry.receivedAt
      )
        c.timestamp = entry.receivedAt;
      for (const field of ['context', 'integrations'] as const) {
        const fallback = defaults[field];
        if (isObject(fallback)) c[field] = isObject(c[field]) ? { ...fallback, ...c[field] } : (c[field] ?? fallback);
      }
    }
    const verdict = normalizeEvent(candidate, {
      allowedTypes: EVENT_TYPES,
      clock: 'library',
      receivedAtMs: options.now,
      maxEventBytes: options.maxEventBytes,
    });
    if (verdict.ok) events.push(candidate as Record<string, unknown>);
    else problems.push(`${items.length > 1 ? `event ${i}: ` : ''}${verdict.reasons.join('; ')}`);
  });
  return problems.length > 0 ? { ok: false, problem: `still invalid: ${problems.join(' | ')}` } : { ok: true, events };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
