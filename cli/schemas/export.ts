/**
 * The observed schemas of a source written as a tracking plan to start from (`schemas export`):
 * one JSON Schema per event key, with the types seen at each path of `properties` and `traits`
 * (and `context` when asked). Nothing is `required` and nothing else is forbidden: what was seen
 * is allowed, the rest is for the operator to tighten.
 */
import { parsePath, SHORTENED, type JsonType, type PathStep } from '../../lib/spec/property-paths';
import type { PlanDocument } from '../../lib/spec/tracking-plan';
import type { ObservedEvent, ObservedPath } from '../../lib/tables/schemas';

interface Node {
  types: Set<JsonType>;
  children: Map<string, Node>;
  items?: Node;
}

const newNode = (): Node => ({ types: new Set(), children: new Map() });

export interface ExportedPlan {
  plan: PlanDocument;
  /** What could not be written into the plan, for the operator. */
  notes: string[];
}

export function planFromObserved(
  observed: ReadonlyArray<{ event: ObservedEvent; paths: readonly ObservedPath[] }>,
  options: { context: boolean },
): ExportedPlan {
  const parts = new Set(['properties', 'traits', ...(options.context ? ['context'] : [])]);
  const roots = new Map<string, Node>();
  const notes: string[] = [];
  let unnamed = 0;
  for (const { event, paths } of observed) {
    if (SHORTENED.test(event.event)) {
      notes.push(`event key ${JSON.stringify(event.event)} (${event.type}) was shortened when recorded; it is left out`);
      continue;
    }
    if (event.capped)
      notes.push(`event key ${JSON.stringify(event.event)} reached the cap on paths: its schema has only the paths recorded`);
    const root = roots.get(event.event) ?? newNode();
    roots.set(event.event, root);
    root.types.add('object');
    for (const path of paths) {
      const steps = parsePath(path.path);
      if (steps === undefined) unnamed++;
      else if (parts.has((steps[0] as { name: string }).name)) addPath(root, steps, path.types);
    }
  }
  if (unnamed > 0) notes.push(`${unnamed} path(s) with shortened property names are left out`);
  const events: Record<string, object> = {};
  for (const [key, root] of roots) define(events, key, { $schema: 'http://json-schema.org/draft-07/schema#', ...schemaOf(root) });
  return { plan: { mode: 'warn', unplanned: 'warn', events }, notes };
}

function addPath(root: Node, steps: readonly PathStep[], types: ReadonlyArray<{ type: JsonType }>): void {
  let node = root;
  for (const step of steps) {
    if ('items' in step) node = node.items ??= newNode();
    else {
      let child = node.children.get(step.name);
      if (child === undefined) node.children.set(step.name, (child = newNode()));
      node = child;
    }
  }
  for (const { type } of types) node.types.add(type);
}

function schemaOf(node: Node): Record<string, unknown> {
  const types = [...node.types].filter((type) => !(type === 'integer' && node.types.has('number')));
  const schema: Record<string, unknown> = {};
  if (types.length > 0) schema.type = types.length === 1 ? types[0] : types;
  if (node.children.size > 0) {
    const properties: Record<string, unknown> = {};
    for (const [name, child] of node.children) define(properties, name, schemaOf(child));
    schema.properties = properties;
  }
  if (node.items) schema.items = schemaOf(node.items);
  return schema;
}

/** Sets a key as data, whatever its name (`__proto__` included). */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
