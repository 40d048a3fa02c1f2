/** Writing generated files (validators, docs/cli.md) only when their content changed, so a build touches nothing it need not. */
import { readFileSync, writeFileSync } from 'node:fs';

/** Writes `text` to `file` unless it already holds it; returns true when it wrote. */
export function writeIfChanged(file: string, text: string): boolean {
  let previous = '';
  try {
    previous = readFileSync(file, 'utf8');
  } catch {
    // First generation.
  }
  if (previous === text) return false;
  writeFileSync(file, text);
  return true;
}
