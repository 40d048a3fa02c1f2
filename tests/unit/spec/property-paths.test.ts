/** Property paths: the walk the worker learns shapes with, the path syntax, and its parser. */
import { SCHEMA_LIMITS } from '../../../lib/tables/schemas';
import { eventKeyOf, storedEventKey } from '../../../lib/spec/event-keys';
import { jsonTypeOf, parsePath, pathSegment, PathTree, pointerToPath, walkShape } from '../../../lib/spec/property-paths';

function shapeOf(event: Record<string, unknown>, tree = new PathTree<number>(100)): { seen: string[]; capped: string[] } {
  const seen: string[] = [];
  const capped: string[] = [];
  walkShape(event, tree, { visit: (node, type) => seen.push(`${node.path}: ${type}`), capped: (path) => capped.push(path) });
  return { seen, capped };
}

describe('walkShape', () => {
  it('names every value of properties, traits and context by path and JSON type, and nothing of the envelope', () => {
    const event = {
      type: 'track',
      event: 'Order Completed',
      messageId: 'm1',
      userId: 'u1',
      integrations: { All: true },
      properties: { total: 27.5, count: 2, paid: true, coupon: null, tags: ['a', 'b'] },
      context: { page: { url: 'https://shop.example/' } },
    };

    const { seen } = shapeOf(event);

    expect(seen).toEqual([
      'properties: object',
      'properties.total: number',
      'properties.count: integer',
      'properties.paid: boolean',
      'properties.coupon: null',
      'properties.tags: array',
      'properties.tags[]: string',
      'context: object',
      'context.page: object',
      'context.page.url: string',
    ]);
  });

  it('collapses array indices: an array of objects has one path per property of its elements', () => {
    const event = { properties: { items: [{ sku: 'a', qty: 1 }, { sku: 'b', price: 9.5 }, 'odd'] } };

    const { seen } = shapeOf(event);

    expect(seen).toEqual([
      'properties: object',
      'properties.items: array',
      'properties.items[]: object',
      'properties.items[].sku: string',
      'properties.items[].qty: integer',
      'properties.items[]: object',
      'properties.items[].sku: string',
      'properties.items[].price: number',
      'properties.items[]: string',
    ]);
  });

  it('quotes names that are not plain, shortens long ones with a hash, and never takes a value', () => {
    const long = 'x'.repeat(500);
    const event = { traits: { 'a.b': 1, '': 2, 'Product Name': 'secret value', __proto__x: 3, [long]: 4 } };

    const { seen } = shapeOf(event);

    expect(seen.slice(1, 5)).toEqual([
      'traits["a.b"]: integer',
      'traits[""]: integer',
      'traits.Product Name: string',
      'traits.__proto__x: integer',
    ]);
    expect(seen[5]).toMatch(/^traits\["x+…#[0-9a-f]{12}"\]: integer$/);
    expect(seen[5]?.length).toBeLessThan(SCHEMA_LIMITS.nameChars + 20);
    expect(seen.join(' ')).not.toContain('secret value');
  });

  it('stops at the depth limit and reports what it did not walk', () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 20; i++) deep = { level: deep };

    const { seen, capped } = shapeOf({ properties: deep });

    expect(seen).toHaveLength(SCHEMA_LIMITS.pathDepth);
    expect(capped).toEqual([`properties${'.level'.repeat(SCHEMA_LIMITS.pathDepth - 1)}.*`]);
  });
  it('reports a path longer than the path limit once, clipped, and walks nothing under it', () => {
    const name = (c: string) => c.repeat(SCHEMA_LIMITS.nameChars);
    const event = { properties: { [name('a')]: { [name('b')]: { [name('c')]: { deeper: 1 } } } } };

    const { seen, capped } = shapeOf(event);

    expect(seen).toHaveLength(3);
    expect(capped).toEqual([`properties.${name('a')}.${name('b')}.${name('c')}`.slice(0, SCHEMA_LIMITS.pathChars)]);
    expect(seen.join(' ')).not.toContain('deeper');
  });

  it('reports the scalar elements of an array at a path that is too long as capped, not as seen', () => {
    const name = 'n'.repeat(SCHEMA_LIMITS.nameChars);
    // The array's own path is 299 characters; its elements' (`[]`) are 301.
    const event = { properties: { [name]: { [name]: { [name.slice(0, 86)]: [1, 2, 'x'] } } } };

    const { seen, capped } = shapeOf(event);

    expect(seen.at(-1)).toMatch(/: array$/);
    expect(capped).toHaveLength(2);
    expect(capped[0]?.length).toBe(SCHEMA_LIMITS.pathChars);
  });

  it('at the depth limit reports arrays with elements as capped, and an empty object or array as seen without anything capped', () => {
    let deep: Record<string, unknown> = { list: [1], none: {}, empty: [] };
    for (let i = 0; i < SCHEMA_LIMITS.pathDepth - 2; i++) deep = { level: deep };

    const { seen, capped } = shapeOf({ properties: deep });

    const at = `properties${'.level'.repeat(SCHEMA_LIMITS.pathDepth - 2)}`;
    expect(seen.slice(-3)).toEqual([`${at}.list: array`, `${at}.none: object`, `${at}.empty: array`]);
    expect(capped).toEqual([`${at}.list[]`]);
  });

  it('walks an empty array as an array with no element path', () => {
    const { seen } = shapeOf({ properties: { tags: [] } });

    expect(seen).toEqual(['properties: object', 'properties.tags: array']);
  });

  it('skips what JSON cannot hold (undefined, functions, bigints) and names every JSON type', () => {
    const event = { properties: { gone: undefined, call: () => 1, big: 1n, list: [undefined, 2] } };

    const { seen } = shapeOf(event);

    expect(seen).toEqual(['properties: object', 'properties.list: array', 'properties.list[]: integer']);
    expect([undefined, () => 1, 1n, Symbol('s')].map(jsonTypeOf)).toEqual([undefined, undefined, undefined, undefined]);
    expect(['s', 1, 1.5, true, null, [], {}].map(jsonTypeOf)).toEqual([
      'string',
      'integer',
      'number',
      'boolean',
      'null',
      'array',
      'object',
    ]);
  });
});

describe('PathTree', () => {
  it('builds each path once and hands back the same node on the next walk', () => {
    const tree = new PathTree<string>(100);
    const nodes: unknown[][] = [[], []];
    for (const pass of [0, 1]) {
      walkShape({ properties: { a: { b: 1 } } }, tree, { visit: (node) => nodes[pass]?.push(node), capped: () => {} });
    }

    expect(nodes[1]).toHaveLength(3);
    nodes[1]?.forEach((node, i) => expect(node).toBe(nodes[0]?.[i]));
  });

  it('keeps at most its bound of nodes, and still names every path past it', () => {
    const tree = new PathTree<number>(5);
    const names = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]));

    const first = shapeOf({ properties: names }, tree);
    const again = shapeOf({ properties: names }, tree);

    expect(first.seen).toHaveLength(21);
    expect(again.seen).toEqual(first.seen);
    expect(tree.child(tree.part('properties'), 'k4')).toBe(tree.child(tree.part('properties'), 'k4'));
    expect(tree.child(tree.part('properties'), 'k5')).not.toBe(tree.child(tree.part('properties'), 'k5'));
  });
});

describe('parsePath', () => {
  it('reads back what walkShape writes', () => {
    expect(parsePath('properties.items[].sku')).toEqual([{ name: 'properties' }, { name: 'items' }, { items: true }, { name: 'sku' }]);
    expect(parsePath(`traits${pathSegment('a.b')}${pathSegment('say "hi"')}`)).toEqual([
      { name: 'traits' },
      { name: 'a.b' },
      { name: 'say "hi"' },
    ]);
  });

  it('refuses shortened names and malformed text', () => {
    expect(parsePath(`properties${pathSegment('y'.repeat(300))}`)).toBeUndefined();
    expect(parsePath('properties..x')).toBeUndefined();
    expect(parsePath('properties["open')).toBeUndefined();
    expect(parsePath('.properties')).toBeUndefined();
    expect(parsePath('[]')).toBeUndefined();
    expect(parsePath('properties[total]')).toBeUndefined();
    expect(parsePath('properties["bad \\q escape"]')).toBeUndefined();
  });
});

describe('pointerToPath', () => {
  it('writes an Ajv instance path as a property path, with array indices', () => {
    const event = { properties: { items: [{ sku: 1 }, { sku: 2 }], 'a/b': 1 } };

    expect(pointerToPath(event, '/properties/items/1/sku')).toBe('properties.items[1].sku');
    expect(pointerToPath(event, '/properties/a~1b')).toBe('properties.a/b');
    expect(pointerToPath(event, '')).toBe('');
    expect(pointerToPath(event, '/properties/a~1b/more/x')).toBe('properties.a/b.more.x');
  });
});

describe('event keys', () => {
  it('keys track by event, page and screen by name (or their type), identify and group by their type', () => {
    expect(eventKeyOf({ type: 'track', event: 'Order Completed' })).toBe('Order Completed');
    expect(eventKeyOf({ type: 'page', name: 'Pricing' })).toBe('Pricing');
    expect(eventKeyOf({ type: 'page' })).toBe('page');
    expect(eventKeyOf({ type: 'screen', name: '' })).toBe('screen');
    expect(eventKeyOf({ type: 'identify', traits: {} })).toBe('identify');
    expect(eventKeyOf({ type: 'group', groupId: 'g' })).toBe('group');
    expect(eventKeyOf({ type: 'alias' })).toBeUndefined();
    expect(storedEventKey('e'.repeat(1000)).length).toBeLessThanOrEqual(SCHEMA_LIMITS.eventKeyChars);
  });
});
