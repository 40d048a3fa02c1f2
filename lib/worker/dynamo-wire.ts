/**
 * DynamoDB's wire form (AttributeValue maps) of our items, built by hand for speed: the worker
 * converts every attribute of every event, and the document client's general-purpose conversion
 * cost several times more CPU (bench: worker CPU per event).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type AttributeMap = Record<string, AttributeValue>;

/**
 * An item in DynamoDB's wire form, exactly as the document client (`marshallOptions` of
 * lib/shared/clients.ts) would write it, for the values JSON and our own items hold: strings, safe
 * numbers, booleans, null, arrays and plain objects, with undefined and function values left out.
 * Returns `undefined` for anything else (unsafe or special numbers, class instances, objects with
 * their own `constructor`), which then goes through the document client itself, so its errors and
 * conversions stay exactly the same. It is several times faster than the document client's
 * general-purpose conversion, which the worker paid for every attribute of every event. Like the
 * document client, it is called for each attempt: wire forms are dropped after their send.
 */
export function marshallItem(item: Record<string, unknown>): AttributeMap | undefined {
  const out: AttributeMap = {};
  for (const key of Object.keys(item)) {
    const value = item[key];
    if (value === undefined || typeof value === 'function') continue;
    const converted = toAttribute(value);
    if (converted === undefined) return undefined;
    out[key] = converted;
  }
  return out;
}

function toAttribute(value: unknown): AttributeValue | undefined {
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'number':
      // The document client refuses these (special values, beyond 2^53); let it say so itself.
      return Number.isFinite(value) && value <= Number.MAX_SAFE_INTEGER && value >= Number.MIN_SAFE_INTEGER
        ? { N: value.toString() }
        : undefined;
    case 'boolean':
      return { BOOL: value };
    case 'object': {
      if (value === null) return { NULL: true };
      if (Array.isArray(value)) {
        const list: AttributeValue[] = [];
        for (const element of value as unknown[]) {
          if (element === undefined || typeof element === 'function') continue;
          const converted = toAttribute(element);
          if (converted === undefined) return undefined;
          list.push(converted);
        }
        return { L: list };
      }
      if (Object.getPrototypeOf(value) !== Object.prototype || Object.hasOwn(value, 'constructor')) return undefined;
      // Built like the document client builds it (plain assignment into {}), so even odd keys such
      // as "__proto__" come out the same.
      const map: AttributeMap = {};
      for (const key in value) {
        const element = (value as Record<string, unknown>)[key];
        if (element === undefined || typeof element === 'function') continue;
        const converted = toAttribute(element);
        if (converted === undefined) return undefined;
        map[key] = converted;
      }
      return { M: map };
    }
    default:
      return undefined;
  }
}

/** The text of a key attribute in wire form, as `keyOf` prints the plain value. */
export function attributeText(value: AttributeValue | undefined): string {
  if (value === undefined) return '';
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return value.N;
  return JSON.stringify(value);
}
