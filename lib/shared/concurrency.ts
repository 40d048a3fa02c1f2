/**
 * The one bounded-concurrency helper: the worker's batch writes, its profile statements and its
 * schema writes each run their items through it, so "at most n requests at a time" means the same
 * everywhere.
 */

/**
 * Runs `task` on every item, at most `limit` at a time, each lane taking the next item as soon as
 * its previous one settles. Rejects with the first task that rejects (the others run on to the
 * end of their current item); callers that must not stop catch inside `task`.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
