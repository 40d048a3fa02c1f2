/**
 * Runs work items with bounded concurrency. The first failure stops new work; an abort (Ctrl-C)
 * stops new work too; in both cases the work in flight is waited for, so its outcome is known
 * before the caller saves its progress.
 */
export interface PoolOptions<T> {
  concurrency: number;
  signal?: AbortSignal;
  /** Called before each item starts (the rate limit); may throw the signal's reason. */
  beforeStart?: (item: T, signal?: AbortSignal) => Promise<void>;
}

export interface PoolResult {
  interrupted: boolean;
}

export async function runPool<T>(
  items: AsyncIterable<T> | Iterable<T>,
  options: PoolOptions<T>,
  work: (item: T) => Promise<void>,
): Promise<PoolResult> {
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const stopped = () => failure !== undefined || options.signal?.aborted === true;

  try {
    for await (const item of items) {
      if (stopped()) break;
      while (inFlight.size >= options.concurrency && !stopped()) await Promise.race(inFlight);
      if (stopped()) break;
      try {
        await options.beforeStart?.(item, options.signal);
      } catch (error) {
        if (options.signal?.aborted) break;
        throw error;
      }
      const task: Promise<void> = work(item)
        .catch((error: unknown) => {
          // Work cut short by the abort is not a failure: it is simply not done.
          if (!options.signal?.aborted) failure ??= { error };
        })
        .finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
  } finally {
    await Promise.all(inFlight);
  }
  if (failure) throw failure.error;
  return { interrupted: options.signal?.aborted === true };
}
