/**
 * A lazily loaded chunk (`import()` of a file the build splits off, scripts/build.ts CHUNKS), loaded
 * at most once per instance: every caller shares the one load while it runs and its module after;
 * a load that fails is forgotten, so the next call tries again (the request that saw the failure
 * is answered 503 by its caller).
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    (loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    }));
}
