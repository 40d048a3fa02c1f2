import { BatchBuilder, batchBody, classifyLine, DEFAULT_LIMITS } from '../../../cli/replay/batches';

describe('classifyLine', () => {
  it('takes a JSON object as an event, sent as the exact text read', () => {
    expect(classifyLine('  {"type":"track","n":12345678901234567890}\t', DEFAULT_LIMITS)).toEqual({
      kind: 'event',
      text: '{"type":"track","n":12345678901234567890}',
      bytes: 41,
    });
  });

  it('ignores blank lines', () => {
    expect(classifyLine('   ', DEFAULT_LIMITS)).toEqual({ kind: 'blank' });
  });

  it('reports text that is not JSON, or not an object', () => {
    expect(classifyLine('{"type":', DEFAULT_LIMITS)).toMatchObject({
      kind: 'invalid',
      problem: expect.stringMatching(/^not JSON \(/) as string,
    });
    expect(classifyLine('"track"', DEFAULT_LIMITS)).toEqual({ kind: 'invalid', problem: 'not a JSON object (a string)' });
    expect(classifyLine('null', DEFAULT_LIMITS)).toEqual({ kind: 'invalid', problem: 'not a JSON object (null)' });
  });

  it('reports an event over the limit instead of sending it', () => {
    const line = JSON.stringify({ type: 'track', blob: 'é'.repeat(16_400) });

    expect(classifyLine(line, DEFAULT_LIMITS)).toEqual({
      kind: 'invalid',
      problem: `event is ${Buffer.byteLength(line)} bytes, over the 32768-byte limit; not sent`,
    });
  });
});

describe('BatchBuilder', () => {
  const fill = (builder: BatchBuilder<number>, texts: string[]) => {
    const batches = texts.map((text, i) => builder.add(text, Buffer.byteLength(text), i)).filter((b) => b !== undefined);
    const last = builder.flush();
    return last ? [...batches, last] : batches;
  };

  it('never builds a body over the byte limit, and fills each batch as far as it goes', () => {
    const event = JSON.stringify({ type: 'track', pad: 'x'.repeat(1000) });
    const batches = fill(
      new BatchBuilder<number>(DEFAULT_LIMITS),
      Array.from({ length: 1200 }, () => event),
    );

    for (const batch of batches) {
      expect(Buffer.byteLength(batchBody(batch))).toBe(batch.bytes);
      expect(batch.bytes).toBeLessThanOrEqual(500 * 1024);
    }
    expect(batches.slice(0, -1).every((b) => b.bytes + event.length + 1 > 500 * 1024)).toBe(true);
    expect(batches.reduce((sum, b) => sum + b.texts.length, 0)).toBe(1200);
    expect(batches.flatMap((b) => b.metas)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
  });

  it('never puts more than 2500 events in a batch', () => {
    const batches = fill(
      new BatchBuilder<number>(DEFAULT_LIMITS),
      Array.from({ length: 6000 }, () => '{}'),
    );

    expect(batches.map((b) => b.texts.length)).toEqual([2500, 2500, 1000]);
  });

  it('makes a body the service reads as a batch', () => {
    const [batch] = fill(new BatchBuilder<number>(DEFAULT_LIMITS), ['{"a":1}', '{"b":2}']);

    expect(JSON.parse(batchBody(batch ?? { texts: [], metas: [], bytes: 0 }))).toEqual({ batch: [{ a: 1 }, { b: 2 }] });
  });
});
