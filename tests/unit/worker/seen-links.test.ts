import { SeenLinks, SEEN_LINK_TTL_MS } from '../../../lib/worker/profiles/seen-links';

const link = (day: string, anonymousId = 'a-1') => ({ sourceId: 'src', userId: 'u-1', anonymousId, day });

describe('SeenLinks', () => {
  it('remembers a link for its day and earlier days, not later ones', () => {
    const seen = new SeenLinks();
    seen.note(link('2026-03-14'), 0);

    expect(seen.has(link('2026-03-14'), 0)).toBe(true);
    expect(seen.has(link('2026-03-13'), 0)).toBe(true);
    expect(seen.has(link('2026-03-15'), 0)).toBe(false);
    expect(seen.has(link('2026-03-14', 'a-2'), 0)).toBe(false);
    expect(seen.has({ ...link('2026-03-14'), sourceId: 'other' }, 0)).toBe(false);
  });

  it("holds a link only under the source's count of profile erasures it was noted with", () => {
    const seen = new SeenLinks();
    seen.note(link('2026-03-14'), 2);

    expect(seen.has(link('2026-03-14'), 3)).toBe(false);
    seen.note(link('2026-03-14'), 3);
    expect(seen.has(link('2026-03-14'), 3)).toBe(true);
    expect(seen.has(link('2026-03-14'), 2)).toBe(false);
  });

  it('keeps the later day when an earlier one is noted after it', () => {
    const seen = new SeenLinks();
    seen.note(link('2026-03-15'), 0);
    seen.note(link('2026-03-14'), 0);

    expect(seen.has(link('2026-03-15'), 0)).toBe(true);
  });

  it('is bounded: past its entries the least recently used goes, and entries expire', () => {
    let now = 0;
    const seen = new SeenLinks(2, () => now);
    seen.note(link('2026-03-14', 'a-1'), 0);
    seen.note(link('2026-03-14', 'a-2'), 0);
    expect(seen.has(link('2026-03-14', 'a-1'), 0)).toBe(true);
    seen.note(link('2026-03-14', 'a-3'), 0);

    expect(seen.size).toBe(2);
    expect(seen.has(link('2026-03-14', 'a-2'), 0)).toBe(false);
    expect(seen.has(link('2026-03-14', 'a-1'), 0)).toBe(true);
    now += SEEN_LINK_TTL_MS;
    expect(seen.has(link('2026-03-14', 'a-3'), 0)).toBe(false);
  });

  it('does not mistake ids that join into the same text', () => {
    const seen = new SeenLinks();
    seen.note({ sourceId: 'src', userId: 'u#1', anonymousId: 'a', day: '2026-03-14' }, 0);

    expect(seen.has({ sourceId: 'src', userId: 'u', anonymousId: '1#a', day: '2026-03-14' }, 0)).toBe(false);
  });
});
