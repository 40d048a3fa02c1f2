/**
 * An event's key: what observed schemas (lib/worker/schemas/) and tracking plans
 * (lib/ingest/plan-checks.ts) group events by. A track event is keyed by its `event` name, a page or
 * screen by its `name` (an unnamed one is `page` or `screen`), identify by `identify` (its traits)
 * and group by `group` (its traits). Alias and delete have no key: they carry no properties.
 */
import { shortenName } from './property-paths';

/** UTF-16 units of an event key as stored; a longer one is shortened with a hash (`storedEventKey`). */
export const EVENT_KEY_CHARS = 200;

/** The types whose events have a key. */
export const KEYED_TYPES = ['track', 'identify', 'page', 'screen', 'group'] as const;
export type KeyedType = (typeof KEYED_TYPES)[number];

export function isKeyedType(type: unknown): type is KeyedType {
  return type === 'track' || type === 'identify' || type === 'page' || type === 'screen' || type === 'group';
}

/** The key of a validated event (the Spec guarantees track's `event`); `undefined` for alias and delete. */
export function eventKeyOf(event: { type?: unknown; event?: unknown; name?: unknown; [field: string]: unknown }): string | undefined {
  switch (event.type) {
    case 'track':
      return typeof event.event === 'string' ? event.event : undefined;
    case 'page':
    case 'screen':
      return typeof event.name === 'string' && event.name !== '' ? event.name : event.type;
    case 'identify':
    case 'group':
      return event.type;
    default:
      return undefined;
  }
}

/** The event key as the schemas table stores it: bounded, a long one shortened with its hash. */
export function storedEventKey(key: string): string {
  return shortenName(key, EVENT_KEY_CHARS);
}
