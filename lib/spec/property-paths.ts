/**
 * Property paths: how the shape of an event is written down, for observed schemas and for the
 * reasons a tracking plan gives. `properties.total`, `properties.items[].sku` (array indices
 * collapsed), `context.page.url`; a name that is not plain text is quoted as a JSON string,
 * `properties["a.b"]`, and a name longer than `SCHEMA_LIMITS.nameChars` is shortened with its hash
 * (`properties["averyverylong…#1a2b3c4d5e6f"]`). Only names and types are ever taken from an
 * event, never a value.
 */
import { SCHEMA_LIMITS, shortenName, SHORTENED, TYPE_BITS, type JsonType } from '../shared/schema-records';

/** The parts of an event whose shape is learned; the envelope (ids, times, `integrations`) is not. */
export const LEARNED_PARTS = ['properties', 'traits', 'context'] as const;

/** A name written as is after a dot: no dot, bracket, quote, backslash or control character, no space at either end. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be quoted
const PLAIN = /^(?! )[^.[\]"\\\u0000-\u001f\u007f]+(?<! )$/;

/** The JSON Schema type of a JSON value; `undefined` for what JSON cannot hold. */
export function jsonTypeOf(value: unknown): JsonType | undefined {
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'number':
      return Number.isInteger(value) ? 'integer' : 'number';
    case 'boolean':
      return 'boolean';
    case 'object':
      return value === null ? 'null' : Array.isArray(value) ? 'array' : 'object';
    default:
      return undefined;
  }
}

/** The text a property name adds to its parent's path: `.name` or `["name"]`. */
export function pathSegment(name: string): string {
  if (name.length > SCHEMA_LIMITS.nameChars) return `[${JSON.stringify(shortenName(name, SCHEMA_LIMITS.nameChars))}]`;
  return PLAIN.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

export interface ShapeVisitor {
  /** A value of `type` at `path`. */
  visit(path: string, type: JsonType): void;
  /** Values not walked: deeper than `SCHEMA_LIMITS.pathDepth`, or at a path longer than `pathChars`. */
  capped(path: string): void;
}

/**
 * Calls `visitor` for every value under the learned parts of `event`, the parts themselves
 * included. Runs once per event in the worker: no allocation per value beyond the path strings.
 */
export function walkShape(event: Record<string, unknown>, visitor: ShapeVisitor): void {
  for (const part of LEARNED_PARTS) {
    const value = Object.hasOwn(event, part) ? event[part] : undefined;
    if (value !== undefined) walkValue(value, part, 1, visitor);
  }
}

function walkValue(value: unknown, path: string, depth: number, visitor: ShapeVisitor): void {
  const type = jsonTypeOf(value);
  if (type === undefined) return;
  visitor.visit(path, type);
  if (type === 'object') {
    const names = Object.keys(value as object);
    if (names.length === 0) return;
    if (depth >= SCHEMA_LIMITS.pathDepth) return visitor.capped(`${path}.*`);
    for (const name of names) {
      const child = (value as Record<string, unknown>)[name];
      if (child === undefined) continue;
      const childPath = path + pathSegment(name);
      if (childPath.length > SCHEMA_LIMITS.pathChars) visitor.capped(childPath.slice(0, SCHEMA_LIMITS.pathChars));
      else walkValue(child, childPath, depth + 1, visitor);
    }
  } else if (type === 'array') {
    const elements = value as unknown[];
    if (elements.length === 0) return;
    if (depth >= SCHEMA_LIMITS.pathDepth) return visitor.capped(`${path}[]`);
    const childPath = `${path}[]`;
    // An array of thousands of numbers is one path with one type: report each scalar type once.
    let scalarsSeen = 0;
    for (const element of elements) {
      if (typeof element === 'object' && element !== null) walkValue(element, childPath, depth + 1, visitor);
      else {
        const elementType = jsonTypeOf(element);
        if (elementType === undefined || (scalarsSeen & TYPE_BITS[elementType]) !== 0) continue;
        scalarsSeen |= TYPE_BITS[elementType];
        visitor.visit(childPath, elementType);
      }
    }
  }
}

export type PathStep = { name: string } | { items: true };

/**
 * The steps of a path written by `walkShape`: names and `[]`. `undefined` when the text is not
 * such a path, or names a shortened name (which no longer says what the property is called).
 */
export function parsePath(path: string): PathStep[] | undefined {
  const steps: PathStep[] = [];
  let i = 0;
  const plain = () => {
    const start = i;
    while (i < path.length && path[i] !== '.' && path[i] !== '[') i++;
    return i > start ? path.slice(start, i) : undefined;
  };
  const first = plain();
  if (first === undefined) return undefined;
  steps.push({ name: first });
  while (i < path.length) {
    if (path[i] === '.') {
      i++;
      const name = plain();
      if (name === undefined) return undefined;
      steps.push({ name });
    } else if (path.startsWith('[]', i)) {
      i += 2;
      steps.push({ items: true });
    } else {
      const quoted = readQuoted(path, i + 1);
      if (!quoted || path[quoted.end] !== ']' || SHORTENED.test(quoted.name)) return undefined;
      steps.push({ name: quoted.name });
      i = quoted.end + 1;
    }
  }
  return steps;
}

/** The JSON string starting at `start` (a `"`) and the index after it. */
function readQuoted(text: string, start: number): { name: string; end: number } | undefined {
  if (text[start] !== '"') return undefined;
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') {
      try {
        return { name: JSON.parse(text.slice(start, i + 1)) as string, end: i + 1 };
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * A JSON Pointer into `root` (as Ajv reports `instancePath`) written as a property path with the
 * array indices kept: `/properties/items/0/sku` is `properties.items[0].sku`. Empty for the root.
 */
export function pointerToPath(root: unknown, pointer: string): string {
  if (pointer === '') return '';
  let path = '';
  let current: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(current)) {
      path += `[${token}]`;
      current = current[Number(token)];
    } else {
      path += path === '' && PLAIN.test(token) ? token : pathSegment(token);
      current = typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[token] : undefined;
    }
  }
  return path;
}
