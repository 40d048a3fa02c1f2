/**
 * Ids as the customer knows them, turned into the form their source stores them in: a source whose
 * privacy policy hashes `userId` or `anonymousId` (docs/privacy.md) stores only the hash, so
 * `events`, `profile` and `erasures show` apply the same policy to the id given before looking it up.
 * An id given already in its stored form (`hmac-v1:...`) is left as it is: hashing is idempotent.
 */
import { parsePrivacyKeyRing } from '../../lib/shared/privacy-hash';
import { readPrivacyPolicy } from '../../lib/spec/privacy-policy';
import { applyPolicy, compilePolicy } from '../../lib/spec/privacy-rules';
import { readPrivacyHashKey } from '../erasures/hash-key';
import type { CommandDeps } from './command';
import { CliError, EXIT } from './errors';
import type { Io } from './io';
import type { Stage } from './stage';

export interface Ids {
  userId?: string;
  anonymousId?: string;
}

/** `ids` as `sourceId`'s policy stores them; unchanged for a source without one. Throws when the policy leaves nothing to look up. */
export async function storedIds(stage: Stage, io: Io, deps: CommandDeps, sourceId: string, ids: Ids): Promise<Ids> {
  const text = (await stage.admin.getSource(sourceId))?.privacyPolicy;
  if (text === undefined) return ids;
  const read = readPrivacyPolicy(JSON.parse(text));
  if ('problems' in read)
    throw new CliError(`the privacy policy of source "${sourceId}" cannot be read: ${read.problems.join('; ')}`, EXIT.failed);
  const hashes = read.policy.ip === 'hash' || [...(read.policy.fields ?? []), ...(read.policy.keys ?? [])].some((r) => r.action === 'hash');
  const ring = hashes ? parsePrivacyKeyRing(await readPrivacyHashKey(stage.target, io.env, io.cwd, deps)) : undefined;
  if (ring && 'problems' in ring)
    throw new CliError(`the stage's privacy hash key cannot be used: ${ring.problems.join('; ')}`, EXIT.failed);
  const policy = compilePolicy(read.policy, ring?.ring.current);
  const applied = applyPolicy(policy, { ...ids }, new Map());
  const event = 'event' in applied ? applied.event : {};
  const stored: Ids = {};
  for (const field of ['userId', 'anonymousId'] as const) {
    if (ids[field] === undefined) continue;
    const value = event[field];
    if (typeof value !== 'string' || value === '[redacted]')
      throw new CliError(
        `the privacy policy of source "${sourceId}" does not store ${field} (it drops or redacts it): there is nothing to look up by it`,
        EXIT.failed,
      );
    stored[field] = value;
  }
  return stored;
}
