/**
 * The site-day traffic model (bench/site-day.ts): skewed events per visitor, the identity calls the
 * model states, and invocations that keep each profile key's windows apart and in time order.
 */
import { packWindows, profileKeys, siteDayEvents, warmUpEvents, SITE_DAY_QUICK, type SiteDayModel } from '../../../bench/site-day';

const model: SiteDayModel = { ...SITE_DAY_QUICK, visitors: 200 };

describe('siteDayEvents', () => {
  const day = siteDayEvents(model);

  it('is the same on every run, in time order, within the day', () => {
    expect(siteDayEvents(model)).toEqual(day);
    expect(day.every((d, i) => i === 0 || (day[i - 1]?.at ?? 0) <= d.at)).toBe(true);
    expect(day.every((d) => d.at >= 0 && d.at < model.daySeconds)).toBe(true);
  });

  it('skews events per visitor: most visitors send a few, the heaviest many', () => {
    const perVisitor = new Map<string, number>();
    for (const { event } of day) perVisitor.set(String(event.anonymousId), (perVisitor.get(String(event.anonymousId)) ?? 0) + 1);
    const counts = [...perVisitor.values()].sort((a, b) => a - b);
    const median = counts[Math.floor(counts.length / 2)] ?? 0;
    expect(median).toBeLessThanOrEqual(5);
    expect(counts.at(-1)).toBeGreaterThan(10 * median);
  });

  it('has anonymous visitors, identifies of known users, groups and sign-up aliases', () => {
    const types = (type: string) => day.filter((d) => d.event.type === type).length;
    expect(day.filter((d) => d.event.userId === undefined).length).toBeGreaterThan(day.length / 2);
    expect(types('identify')).toBeGreaterThan(types('group'));
    expect(types('alias')).toBeGreaterThan(0);
    expect(day.filter((d) => d.event.type === 'alias').every((d) => d.event.previousId === d.event.anonymousId)).toBe(true);
    expect(warmUpEvents(model).every((e) => e.type === 'identify' || e.type === 'group')).toBe(true);
  });
});

describe('packWindows', () => {
  it("keeps every event, each key's windows in separate invocations and in time order", () => {
    const day = siteDayEvents(model);
    const windowSeconds = 100 / model.ratePerSecond;
    const windowOf = new Map(day.map((d) => [d.event.messageId, Math.floor(d.at / windowSeconds)]));
    const invocations = packWindows(day, model, 100, 100);

    expect(invocations.flat()).toHaveLength(day.length);
    expect(invocations.every((events) => events.length <= 100)).toBe(true);
    const lastWindow = new Map<string, number>();
    for (const events of invocations) {
      const windowsOfKey = new Map<string, Set<number>>();
      for (const event of events)
        for (const key of profileKeys(event))
          windowsOfKey.set(key, (windowsOfKey.get(key) ?? new Set()).add(windowOf.get(event.messageId) ?? -1));
      for (const [key, windows] of windowsOfKey) {
        expect(windows.size).toBe(1);
        const window = [...windows][0] ?? -1;
        expect(window).toBeGreaterThan(lastWindow.get(key) ?? -1);
        lastWindow.set(key, window);
      }
    }
  });
});
