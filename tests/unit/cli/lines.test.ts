import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { inspectFile, readLines } from '../../../cli/replay/lines';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lines-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function collect(name: string, content: Buffer | string) {
  writeFileSync(path.join(dir, name), content);
  const file = await inspectFile(name, dir);
  const lines = [];
  for await (const line of readLines(file)) lines.push(line);
  return { file, lines };
}

it('reads plain lines with their numbers, with or without CR and a final newline, dropping a BOM', async () => {
  const { file, lines } = await collect('plain.jsonl', '\uFEFF{"a":1}\r\n\r\n{"b":"é"}\n{"c":3}');

  expect(file.gzip).toBe(false);
  expect(lines).toEqual([
    { lineNo: 1, text: '{"a":1}' },
    { lineNo: 2, text: '' },
    { lineNo: 3, text: '{"b":"é"}' },
    { lineNo: 4, text: '{"c":3}' },
  ]);
});

it('reads gzip by its magic bytes, whatever the name, including concatenated gzip members', async () => {
  const { file, lines } = await collect('archive.data', Buffer.concat([gzipSync('{"a":1}\n'), gzipSync('{"b":2}\n')]));

  expect(file.gzip).toBe(true);
  expect(lines.map((l) => l.text)).toEqual(['{"a":1}', '{"b":2}']);
});

it('keeps multi-byte characters split across read chunks whole', async () => {
  const long = `{"x":"${'€'.repeat(200_000)}"}`;

  const { lines } = await collect('wide.jsonl', `${long}\n{"y":1}\n`);

  expect(lines.map((l) => l.text)).toEqual([long, '{"y":1}']);
});
