/** lib/shared/load-once.ts: a lazily loaded chunk is loaded once, and a failed load is tried again. */
import { loadOnce } from '../../../lib/shared/load-once';

describe('loadOnce', () => {
  it('shares one load between concurrent callers and keeps its module after', async () => {
    let loads = 0;
    const load = loadOnce(async () => ({ n: ++loads }));

    const [a, b] = await Promise.all([load(), load()]);
    const c = await load();

    expect(loads).toBe(1);
    expect(a).toBe(b);
    expect(c).toBe(a);
  });

  it('forgets a failed load, so the next call loads again', async () => {
    let loads = 0;
    const load = loadOnce(async () => {
      loads++;
      if (loads === 1) throw new Error('chunk missing');
      return 'module';
    });

    await expect(load()).rejects.toThrow('chunk missing');
    await expect(load()).resolves.toBe('module');
    await expect(load()).resolves.toBe('module');
    expect(loads).toBe(2);
  });
});
