/**
 * The ingest memory bench's own logic (bench/ingest-memory.ts): the V8 flags it runs with as
 * Lambda's runtime would, the requests it fills to the limits, and when a case fails. The memory
 * figures themselves are the bench's output, not asserted here.
 */
import { caseFailures, caseMemoryMb, eventsFilling, HEAP_GROWTH_MB, lambdaNodeFlags, type CaseResult } from '../../../bench/ingest-memory';

describe('lambdaNodeFlags', () => {
  it("gives V8 the limits Lambda's Node.js bootstrap sets: a tenth for the young generation, half of it a semi-space, the rest old space", () => {
    expect(lambdaNodeFlags(256)).toEqual(['--max-semi-space-size=12', '--max-old-space-size=231']);
    expect(lambdaNodeFlags(512)).toEqual(['--max-semi-space-size=25', '--max-old-space-size=461']);
    expect(lambdaNodeFlags(1769)).toEqual(['--max-semi-space-size=88', '--max-old-space-size=1593']);
  });
});

describe('caseMemoryMb', () => {
  it('runs a case at the memory of the function its route goes to, unless --memory sets one for all', () => {
    expect(caseMemoryMb('ingest')).toBe(256);
    expect(caseMemoryMb('webhooks')).toBe(512);
    expect(caseMemoryMb('webhooks', 256)).toBe(256);
    expect(caseMemoryMb('ingest', 1024)).toBe(1024);
  });
});

describe('eventsFilling', () => {
  it.each([
    [1, 32_000],
    [465, 511_990],
    [4000, 5_242_880],
  ])('pads %i site events to exactly %i bytes of JSON', (count, bytes) => {
    const events = eventsFilling(count, bytes, 7);
    expect(events).toHaveLength(count);
    expect(Buffer.byteLength(JSON.stringify(events))).toBe(bytes);
    expect(new Set(events.map((event) => event.messageId)).size).toBe(count);
  });

  it('applies the shape before measuring, so smaller events fit more of them', () => {
    const bare = (event: Record<string, unknown>) => ({ type: event.type as string, messageId: event.messageId as string });
    expect(() => eventsFilling(2500, 511_990, 3)).toThrow(/over 511990/);
    expect(Buffer.byteLength(JSON.stringify(eventsFilling(2500, 511_990, 3, bare)))).toBe(511_990);
  });
});

describe('caseFailures', () => {
  const result = (overrides: Partial<CaseResult>): CaseResult => ({
    name: 'case',
    memoryMb: 256,
    flags: '--max-semi-space-size=12 --max-old-space-size=231',
    lambdaFlags: true,
    requestBytes: 1,
    events: 1,
    requests: 1,
    peakRssMb: 100,
    peakHeapMb: 20,
    peakExternalMb: 5,
    msPerRequest: 1,
    problems: [],
    ...overrides,
  });

  it('holds one request to half the memory', () => {
    expect(caseFailures(result({ peakRssMb: 128 }), 256)).toEqual([]);
    expect(caseFailures(result({ peakRssMb: 160 }), 256)).toEqual(['peak RSS 160.0 MB is over 50% of 256 MB']);
  });

  it('holds requests in a row to 90% of the memory and a heap after GC that does not grow', () => {
    const steady = { requests: 200, heapAfterGcEarlyMb: 12, heapAfterGcEndMb: 12 + HEAP_GROWTH_MB };
    expect(caseFailures(result({ ...steady, peakRssMb: 230 }), 256)).toEqual([]);
    expect(caseFailures(result({ ...steady, peakRssMb: 240 }), 256)).toEqual(['peak RSS 240.0 MB is over 90% of 256 MB']);
    expect(caseFailures(result({ ...steady, heapAfterGcEndMb: 30 }), 256)).toEqual(['the heap after GC grew 18.0 MB over the requests']);
  });

  it("judges runs with V8's own limits only by their answers", () => {
    expect(caseFailures(result({ lambdaFlags: false, peakRssMb: 400 }), 256)).toEqual([]);
    expect(caseFailures(result({ lambdaFlags: false, problems: ['request 0: 503'] }), 256)).toEqual(['request 0: 503']);
  });
});
