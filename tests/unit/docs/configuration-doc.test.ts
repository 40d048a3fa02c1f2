/**
 * docs/configuration.md against the code: its table of environment variables must name every
 * variable `loadConfig` reads and every one `serverless.yml` sets (and nothing else), each default it
 * gives must be the one `loadConfig` uses, and its table of stage parameters must be
 * `serverless.yml`'s `params`, with the same defaults and prod values.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../lib/shared/config';

const root = path.resolve(__dirname, '..', '..', '..');
const doc = readFileSync(path.join(root, 'docs', 'configuration.md'), 'utf8');
const serverless = readFileSync(path.join(root, 'serverless.yml'), 'utf8');

/** The rows of the Markdown table under `heading`, as cells without surrounding spaces. */
function tableUnder(heading: string): string[][] {
  const section = doc.slice(doc.indexOf(`\n## ${heading}\n`));
  const table = /\n(\|.*\|\n)+/.exec(section)?.[0] ?? '';
  return table
    .trim()
    .split('\n')
    .slice(2)
    .map((line) =>
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
}

const names = (cell: string) => [...cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] ?? '');
const envRows = tableUnder('Environment variables of the functions');
const documented = new Map(envRows.flatMap((row) => names(row[0] ?? '').map((name) => [name, row] as const)));

/** Every variable `loadConfig` reads, seen through an environment that records each lookup. */
function variablesRead(): Set<string> {
  const read = new Set<string>();
  const env = new Proxy({} as Record<string, string | undefined>, {
    get: (_target, name) => {
      if (typeof name === 'string') read.add(name);
      return undefined;
    },
  });
  loadConfig(env);
  return read;
}

/** Names under every `environment:` block of serverless.yml (provider's and each function's). */
function variablesSet(): Set<string> {
  const set = new Set<string>();
  const lines = serverless.split('\n');
  lines.forEach((line, index) => {
    const block = /^( *)environment:(?: &\w+)?\s*$/.exec(line); // `&name`: a YAML anchor other functions reuse
    if (!block) return;
    const indent = (block[1] ?? '').length;
    for (const next of lines.slice(index + 1)) {
      if (next.trim() === '' || next.trim().startsWith('#')) continue;
      const depth = next.length - next.trimStart().length;
      if (depth <= indent) break;
      const key = /^([A-Z][A-Z0-9_]*):/.exec(next.trimStart());
      if (key && depth === indent + 2) set.add(key[1] ?? '');
    }
  });
  return set;
}

/** `params.<stage>` of serverless.yml as name -> value text. */
function params(stage: string): Map<string, string> {
  const block = new RegExp(`\\n  ${stage}:\\n((?: {4}.*\\n|\\s*#.*\\n)+)`).exec(serverless)?.[1] ?? '';
  return new Map([...block.matchAll(/^ {4}(\w+): (.*)$/gm)].map((m) => [m[1] ?? '', (m[2] ?? '').replace(/^'(.*)'$/, '$1')] as const));
}

describe('docs/configuration.md', () => {
  it('documents every variable loadConfig reads or serverless.yml sets, and no other', () => {
    // Prepare
    const expected = new Set([...variablesRead(), ...variablesSet()]);

    // Assess
    expect(expected.size).toBeGreaterThan(20);
    expect([...documented.keys()].sort()).toEqual([...expected].sort());
  });

  it('says which variables serverless.yml sets, exactly those', () => {
    const saysSet = [...documented].filter(([, row]) => (row[2] ?? '') !== '').map(([name]) => name);
    expect(saysSet.sort()).toEqual([...variablesSet()].sort());
  });

  it('gives each default loadConfig uses', () => {
    // Prepare: a documented default, given explicitly, must change nothing.
    const base = loadConfig({});
    const checked: string[] = [];
    for (const [name, row] of documented) {
      const value = /^`?([\w.-]+)`?(?: \(.*\))?$/.exec(row[1] ?? '')?.[1];
      if (value === undefined || value === '–' || names(row[0] ?? '').length > 1 || name === 'NODE_OPTIONS') continue;
      if (value.includes('<')) continue;

      // Act
      const given = loadConfig({ [name]: value });

      // Assess
      expect({ name, config: given }).toEqual({ name, config: base });
      checked.push(name);
    }
    expect(checked.length).toBeGreaterThan(15);
  });

  it("lists serverless.yml's stage parameters with their defaults and prod values", () => {
    // Prepare
    const rows = tableUnder('Stage parameters');
    const defaults = params('default');
    const prod = params('prod');

    // Assess
    expect(rows.map((row) => (row[0] ?? '').replace(/`/g, '')).sort()).toEqual([...defaults.keys()].sort());
    for (const row of rows) {
      const name = (row[0] ?? '').replace(/`/g, '');
      const value = defaults.get(name) ?? '';
      const shown = (row[1] ?? '').replace(/`/g, '').replace(/ \(.*\)$/, '');
      if (value.startsWith('${')) continue; // from another file (resources.json), named in the cell
      expect({ name, default: shown === 'empty' ? '' : shown }).toEqual({ name, default: value });
      expect({ name, prod: (row[2] ?? '').replace(/`/g, '') }).toEqual({ name, prod: prod.get(name) ?? '' });
    }
  });
});
