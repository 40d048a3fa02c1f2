/**
 * The Segment Spec's event types, and the event as the service carries it once validated. Every
 * stored type has a table of its own (`infra/resources.json`); `delete` is an erasure request and
 * is never stored as an event.
 */

/** The types stored as events, one table each. */
export const EVENT_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Every type the Spec defines: the stored ones and `delete`. */
export const SPEC_TYPES = [...EVENT_TYPES, 'delete'] as const;
export type SpecType = (typeof SPEC_TYPES)[number];

export function isEventType(type: unknown): type is EventType {
  return (EVENT_TYPES as readonly unknown[]).includes(type);
}

/** A Segment event after validation and normalisation: ids are strings, `timestamp` is ISO-8601 UTC. */
export interface SegmentEvent {
  type: SpecType;
  messageId: string;
  timestamp: string;
  userId?: string;
  anonymousId?: string;
  [field: string]: unknown;
}
