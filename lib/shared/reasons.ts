/**
 * Why something was refused, as a short fixed name: the `reason` dimension of the `EventsRejected`
 * metric and the `reason` field of log lines. The full reason can quote the sender's data (a JSON
 * parse error shows part of the body), so logs and metrics carry only this. Every refusal carries
 * its category from where it is decided; nothing is inferred from message text.
 */
export const REFUSAL_REASONS = [
  'unreadable-body',
  'empty-batch',
  'bad-shape',
  'bad-type',
  'missing-identity',
  'missing-field',
  'too-large',
  'invalid-field',
  'unauthorized',
  'forbidden',
  'not-found',
  'method-not-allowed',
  'unsupported-media',
  'rate-limited',
  'refused-by-dynamodb',
  /** A valid event that breaks its source's tracking plan in block mode (lib/ingest/plan-checks.ts). */
  'tracking-plan',
  'unreadable-message',
  'other',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** One reason an event or a body was refused: the sentence for the sender, and its category. */
export interface Problem {
  reason: RefusalReason;
  message: string;
}

/**
 * The category of an event with several problems: the one earliest in `REFUSAL_REASONS`, which
 * lists the more fundamental problems first (a wrong type before a missing field).
 */
export function mainReason(problems: readonly Problem[]): RefusalReason {
  let best: RefusalReason = 'other';
  let bestRank: number = REFUSAL_REASONS.length;
  for (const { reason } of problems) {
    const rank = REFUSAL_REASONS.indexOf(reason);
    if (rank < bestRank) {
      best = reason;
      bestRank = rank;
    }
  }
  return best;
}
