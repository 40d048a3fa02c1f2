/** `npx tsx bench/profile-summary.ts FILE.cpuprofile [N]`: the N functions with the most self time, and by file. */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const [file = '', top = '40'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
const total = profile.samples.length;
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const node of profile.nodes) {
  const hits = node.hitCount ?? 0;
  const url = node.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/main\//, '');
  const name = `${node.callFrame.functionName || '(anonymous)'} ${url}:${node.callFrame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
  const where =
    url
      .split('/')
      .slice(0, url.startsWith('@') ? 2 : 1)
      .join('/') || node.callFrame.functionName;
  byFile.set(where, (byFile.get(where) ?? 0) + hits);
}
const show = (map: Map<string, number>, n: number) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
process.stdout.write(`${show(byFunction, Number(top))}\n\nby package or folder:\n${show(byFile, 20)}\n`);
