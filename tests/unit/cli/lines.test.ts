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

it('yields a line over the limit as its byte count only, across chunks, and the lines around it whole', async () => {
  // Prepare: 1 MB over several 256 KB chunks, then a line under the limit that spans two chunks.
  const long = 'x'.repeat(1024 * 1024);
  const split = `${'y'.repeat(256 * 1024 - 3)}é`;
  writeFileSync(path.join(dir, 'long.jsonl'), `{"a":1}\n${long}\n${split}\n{"b":2}`);
  const file = await inspectFile('long.jsonl', dir);

  // Act
  const lines = [];
  for await (const line of readLines(file, undefined, 300 * 1024))
    lines.push({ ...line, text: line.text.length > 20 ? line.text.slice(-3) : line.text });

  // Assess
  expect(lines).toEqual([
    { lineNo: 1, text: '{"a":1}' },
    { lineNo: 2, text: '', overLimit: 1024 * 1024 },
    { lineNo: 3, text: 'yyé' },
    { lineNo: 4, text: '{"b":2}' },
  ]);
});
