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

/**
 * What to make of an attribute of no type DynamoDB has today (a newer SDK reads a future type as
 * `{ $unknown: ... }`): `null` for a reader that must go on (the worker's profile reads, whose
 * failure would hold back every event of the user), or `throw` a TypeError naming the keys it holds
 * for one whose output must be whole (an export turned into a replay).
 */
export type UnknownAttributes = 'null' | 'throw';

/**
 * The inverse of `marshallItem`: an item as the low-level client or a DynamoDB export to S3 gives
 * it back, as plain JSON, every map key kept as data (a trait named `__proto__` stays a trait).
 * Sets, which the worker never writes, read as arrays; binary as base64 text (an export already
 * holds it so; the client gives bytes).
 */
export function unmarshallItem(map: AttributeMap, unknown: UnknownAttributes): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const key of Object.keys(map)) {
    const value = map[key];
    if (value !== undefined) setOwn(object, key, fromAttribute(value, unknown));
  }
  return object;
}

function fromAttribute(value: AttributeValue, unknown: UnknownAttributes): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return Number(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.L !== undefined) return value.L.map((element) => fromAttribute(element, unknown));
  if (value.M !== undefined) return unmarshallItem(value.M, unknown);
  if (value.SS !== undefined) return [...value.SS];
  if (value.NS !== undefined) return value.NS.map(Number);
  if (value.B !== undefined) return base64(value.B);
  if (value.BS !== undefined) return value.BS.map(base64);
  if (unknown === 'null') return null;
  throw new TypeError(`an attribute of no DynamoDB type: {${Object.keys(value).join(', ')}}`);
}

const base64 = (bytes: Uint8Array | string): string => (typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('base64'));

/** The text of a key attribute in wire form, as `keyOf` prints the plain value. */
export function attributeText(value: AttributeValue | undefined): string {
  if (value === undefined) return '';
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return value.N;
  return JSON.stringify(value);
}
