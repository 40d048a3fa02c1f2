/** Text for people: aligned tables, grouped numbers, durations. */

export function formatNumber(value: number): string {
  return value.toLocaleString('en-US');
}

/** `1h 02m`, `3m 05s`, `12.3s`, `450ms`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(s).padStart(2, '0')}s`;
}

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** Longest text shown; longer cells end with "…". */
  max?: number;
}

/** A plain-text table: a header row, then one row per entry, columns separated by two spaces. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => columns.map((column, i) => clip(row[i] ?? '', column.max)));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (values: readonly string[]) =>
    values
      .map((value, i) => (columns[i]?.align === 'right' ? value.padStart(widths[i] ?? 0) : value.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

function clip(text: string, max: number | undefined): string {
  const single = text.replace(/\s+/g, ' ');
  return max !== undefined && single.length > max ? `${single.slice(0, Math.max(1, max - 1))}…` : single;
}

/** `[#########...........]` for a fraction from 0 to 1. */
export function formatBar(fraction: number, width = 24): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
