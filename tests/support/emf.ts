/** The metric lines a function writes: Powertools prints each EMF record as one JSON object per line on stdout. */

export interface EmfLine {
  _aws: { CloudWatchMetrics: Array<{ Namespace?: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> };
  [field: string]: unknown;
}

/** Runs `act` and returns the lines it wrote to stdout. */
export function captureStdout(act: () => void): string[] {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  try {
    act();
  } finally {
    spy.mockRestore();
  }
  return lines;
}

/** Runs `act` and returns the EMF records it wrote. */
export function captureEmf(act: () => void): EmfLine[] {
  return captureStdout(act)
    .map((line) => JSON.parse(line) as EmfLine)
    .filter((line) => line._aws !== undefined);
}
