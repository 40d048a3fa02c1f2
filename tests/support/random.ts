/** Deterministic shuffles for tests that deliver the same events in several orders. */
import { random } from '../../bench/fixtures';

/** `items` in an order fixed by `seed` (Fisher-Yates with the bench's seeded generator). */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const rand = random(seed);
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}
