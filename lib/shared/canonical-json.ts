/**
 * JSON with object keys sorted at every level, so the same value gives the same text whatever order
 * its keys came in: the ingest hashes it into a derived messageId (lib/spec/normalize.ts), and the
 * profiles into a trait's order `o` (lib/tables/profiles.ts `traitOrder`). Keys whose value is
 * undefined are left out, as JSON.stringify leaves them out.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
