/**
 * DynamoDB's wire form (AttributeValue maps) of our items, built by hand for speed: the worker
 * converts every attribute of every event, and the document client's general-purpose conversion
 * cost several times more CPU (bench: worker CPU per event).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { setOwn } from '../shared/own-keys';

export type AttributeMap = Record<string, AttributeValue>;

/**
 * An item in DynamoDB's wire form, exactly as the document client (`marshallOptions` of
 * lib/shared/clients.ts) would write it for the values JSON holds: strings, safe numbers, booleans,
 * null, arrays and objects, with undefined values left out. Unlike the document client it keeps
 * every key as data: an object whose keys are `constructor`, `__proto__` or `toString` is stored
 * with all its fields. Throws `UnsupportedValueError` for anything JSON cannot produce (an unsafe
 * or special number, a class instance): the worker builds items from JSON, so that is a bug, and
 * the item is quarantined rather than written wrong.
 *
 * It is several times faster than the document client's general-purpose conversion, which the
 * worker paid for every attribute of every event. Wire forms are made per attempt and dropped after
 * their send: kept for the whole batch, these trees outlived young-generation collections.
 */
export function marshallItem(item: Record<string, unknown>): AttributeMap {
  return toMap(item);
}

/** A value the wire form cannot hold; its message names where it is, never the value. */
export class UnsupportedValueError extends Error {
  constructor(what: string) {
    super(`the item holds ${what}, which DynamoDB cannot store`);
    this.name = 'UnsupportedValueError';
  }
}

function toMap(value: object): AttributeMap {
  const map: AttributeMap = {};
  for (const key of Object.keys(value)) {
    const element = (value as Record<string, unknown>)[key];
    if (element === undefined) continue;
    const converted = toAttribute(element);
    setOwn(map, key, converted);
  }
  return map;
}

function toAttribute(value: unknown): AttributeValue {
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'number':
      if (!Number.isFinite(value) || value > Number.MAX_SAFE_INTEGER || value < Number.MIN_SAFE_INTEGER) {
        throw new UnsupportedValueError('a number beyond 2^53 or not finite');
      }
      return { N: value.toString() };
    case 'boolean':
      return { BOOL: value };
    case 'object': {
      if (value === null) return { NULL: true };
      if (Array.isArray(value)) {
        const list: AttributeValue[] = [];
        for (const element of value as unknown[]) if (element !== undefined) list.push(toAttribute(element));
        return { L: list };
      }
      const prototype: unknown = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) throw new UnsupportedValueError('an object that is not plain JSON');
      return { M: toMap(value) };
    }
    default:
      throw new UnsupportedValueError(`a ${typeof value}`);
  }
}

/** The text of a key attribute in wire form, as `keyOf` prints the plain value. */
export function attributeText(value: AttributeValue | undefined): string {
  if (value === undefined) return '';
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return value.N;
  return JSON.stringify(value);
}
