/**
 * Property paths: how the shape of an event is written down, for observed schemas and for the
 * reasons a tracking plan gives. `properties.total`, `properties.items[].sku` (array indices
 * collapsed), `context.page.url`; a name that is not plain text is quoted as a JSON string,
 * `properties["a.b"]`, and a name longer than `PATH_LIMITS.nameChars` is shortened with its hash
 * (`properties["averyverylong…#1a2b3c4d5e6f"]`). Only names and types are ever taken from an
 * event, never a value.
 */
import { createHash } from 'node:crypto';

/** The JSON types a path can have, as JSON Schema names them (`integer`: a number without a fraction). */
export const JSON_TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'] as const;
export type JsonType = (typeof JSON_TYPES)[number];

/** One bit per type, for sets of types held as a number. */
export const TYPE_BITS: Readonly<Record<JsonType, number>> = {
  string: 1,
  number: 2,
  integer: 4,
  boolean: 8,
  object: 16,
  array: 32,
  null: 64,
};

/** The types of a set of `TYPE_BITS`, in `JSON_TYPES` order. */
export function typesOfMask(mask: number): JsonType[] {
  return JSON_TYPES.filter((type) => (mask & TYPE_BITS[type]) !== 0);
}

/**
 * The bounds of one path: what is deeper or longer is not recorded, and a long name is shortened,
 * so no path can reach DynamoDB's key limits (1,024 bytes a sort key).
 */
export const PATH_LIMITS = {
  /** Segments of a path (`properties.items[].sku` has 4); deeper values are not walked. */
  pathDepth: 12,
  /** UTF-16 units of a path: at most 900 bytes of UTF-8 in a sort key of 1,024. */
  pathChars: 300,
  /** UTF-16 units of one property name; a longer one is shortened with a hash (`shortenName`). */
  nameChars: 100,
} as const;

/** Marks a name shortened by `shortenName`: `…#` and 12 hex digits of its SHA-256. */
export const SHORTENED = /…#[0-9a-f]{12}$/;

/**
 * `text` when it has at most `max` UTF-16 units; else its first part, `…#` and 12 hex digits of
 * the SHA-256 of the whole, so two long names stay apart and the result fits any key.
 */
export function shortenName(text: string, max: number): string {
  if (text.length <= max) return text;
  const hash = createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 12);
  let end = Math.max(1, max - 14);
  // Never half of a surrogate pair: DynamoDB would store a replacement character.
  if (/[\uD800-\uDBFF]/.test(text.charAt(end - 1))) end--;
  return `${text.slice(0, end)}…#${hash}`;
}

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
  if (name.length > PATH_LIMITS.nameChars) return `[${JSON.stringify(shortenName(name, PATH_LIMITS.nameChars))}]`;
  return PLAIN.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

/**
 * One path of a `PathTree`: its text, built once, and whatever the caller keeps for it (`data`).
 * Walking an event again costs a Map lookup per property name (names JSON.parse has interned), no
 * string building.
 */
export interface PathNode<T> {
  readonly path: string;
  /** Segments, the part (`properties`) being 1. */
  readonly depth: number;
  /** Longer than `PATH_LIMITS.pathChars`: not recorded, nor anything under it. */
  readonly tooLong: boolean;
  data: T | undefined;
  children?: Map<string, PathNode<T>>;
  items?: PathNode<T>;
}

/**
 * What a kept node is counted as holding, for the byte budgets of its owners: its path at two
 * bytes a character (V8 keeps Latin-1 text in one; the estimate stays on the safe side) and this
 * for the node object and its place in its parent's Map.
 */
const NODE_OVERHEAD_BYTES = 120;

/** The paths seen under the learned parts of some events, at most `maxNodes` of them kept. */
export class PathTree<T> {
  private size = 0;
  /** Estimated bytes of the nodes kept (see `NODE_OVERHEAD_BYTES`). */
  bytes = 0;
  private readonly parts = new Map<string, PathNode<T>>();

  constructor(private readonly maxNodes: number) {}

  part(name: string): PathNode<T> {
    let node = this.parts.get(name);
    if (node === undefined) {
      this.parts.set(name, (node = newNode(name, 1)));
      this.bytes += nodeBytes(node);
    }
    return node;
  }

  /** The node of `parent`'s property `name`; past `maxNodes`, a node that is not kept (a flood of names costs memory only once). */
  child(parent: PathNode<T>, name: string): PathNode<T> {
    const known = parent.children?.get(name);
    if (known !== undefined) return known;
    const node = newNode<T>(parent.path + pathSegment(name), parent.depth + 1);
    if (this.size < this.maxNodes) {
      (parent.children ??= new Map()).set(name, node);
      this.size++;
      this.bytes += nodeBytes(node);
    }
    return node;
  }

  /** The node of `parent`'s array elements (`[]`). */
  elements(parent: PathNode<T>): PathNode<T> {
    if (parent.items !== undefined) return parent.items;
    const node = newNode<T>(`${parent.path}[]`, parent.depth + 1);
    if (this.size < this.maxNodes) {
      parent.items = node;
      this.size++;
      this.bytes += nodeBytes(node);
    }
    return node;
  }
}

function nodeBytes(node: PathNode<unknown>): number {
  return 2 * node.path.length + NODE_OVERHEAD_BYTES;
}

function newNode<T>(path: string, depth: number): PathNode<T> {
  return { path, depth, tooLong: path.length > PATH_LIMITS.pathChars, data: undefined };
}

export interface ShapeVisitor<T> {
  /** A value of `type` at `node`'s path. */
  visit(node: PathNode<T>, type: JsonType): void;
  /** Values not walked: deeper than `PATH_LIMITS.pathDepth`, or at a path longer than `pathChars`. */
  capped(path: string): void;
}

/**
 * Calls `visitor` for every value under the learned parts of `event`, the parts themselves
 * included, with the nodes of `tree`. Runs once per event in the worker.
 */
export function walkShape<T>(event: Record<string, unknown>, tree: PathTree<T>, visitor: ShapeVisitor<T>): void {
  for (const part of LEARNED_PARTS) {
    const value = Object.hasOwn(event, part) ? event[part] : undefined;
    if (value !== undefined) walkValue(value, tree.part(part), tree, visitor);
  }
}

function walkValue<T>(value: unknown, node: PathNode<T>, tree: PathTree<T>, visitor: ShapeVisitor<T>): void {
  const type = jsonTypeOf(value);
  if (type === undefined) return;
  if (node.tooLong) return visitor.capped(node.path.slice(0, PATH_LIMITS.pathChars));
  visitor.visit(node, type);
  if (type === 'object') {
    const object = value as Record<string, unknown>;
    // for...in, not Object.keys: no array per object walked (JSON objects have only own enumerable keys).
    if (node.depth >= PATH_LIMITS.pathDepth) {
      for (const _name in object) return visitor.capped(`${node.path}.*`);
      return;
    }
    for (const name in object) {
      const child = object[name];
      if (child !== undefined) walkValue(child, tree.child(node, name), tree, visitor);
    }
  } else if (type === 'array') {
    const elements = value as unknown[];
    if (elements.length === 0) return;
    if (node.depth >= PATH_LIMITS.pathDepth) return visitor.capped(`${node.path}[]`);
    const items = tree.elements(node);
    // An array of thousands of numbers is one path with one type: report each scalar type once.
    let scalarsSeen = 0;
    for (const element of elements) {
      if (typeof element === 'object' && element !== null) walkValue(element, items, tree, visitor);
      else {
        const elementType = jsonTypeOf(element);
        if (elementType === undefined || (scalarsSeen & TYPE_BITS[elementType]) !== 0) continue;
        scalarsSeen |= TYPE_BITS[elementType];
        if (items.tooLong) visitor.capped(items.path.slice(0, PATH_LIMITS.pathChars));
        else visitor.visit(items, elementType);
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
