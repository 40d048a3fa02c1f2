/** `sources privacy ID [--set FILE | --remove]`: a source's privacy policy, applied at ingest (docs/privacy.md). */
import {
  getPrivacyPolicy,
  preparePolicy,
  PrivacyPolicyError,
  removePrivacyPolicy,
  setPrivacyPolicy,
  type PreparedPolicy,
} from '../../lib/admin/privacy-policies';
import type { PrivacyPolicy } from '../../lib/spec/privacy-policy';
import { booleanOption, stringOption } from '../core/args';
import type { Command } from '../core/command';
import { EXIT, UsageError } from '../core/errors';
import { readInputFile } from '../core/input-file';
import { write, type Io } from '../core/io';
import { withStage, type Stage } from '../core/stage';
import { TARGET_OPTIONS } from '../core/target';

const EFFECT = 'it takes effect within the key cache lifetime (KEY_CACHE_SECONDS, 60 s)';
const MAX_FILE_BYTES = 1024 * 1024;

function policies(stage: Stage) {
  return { documents: stage.clients.documents, tables: stage.target.tables };
}

export const sourcesPrivacy: Command = {
  spec: {
    name: 'sources privacy',
    summary: "Prints a source's privacy policy, or sets (--set FILE) or removes (--remove) it.",
    args: 'ID',
    minPositionals: 1,
    maxPositionals: 1,
    options: {
      set: { type: 'string', value: 'FILE', description: 'store the policy in FILE (- for stdin), after checking every rule' },
      remove: { type: 'boolean', description: 'remove the policy: events are stored as sent again' },
      ...TARGET_OPTIONS,
    },
    details: `FILE is {"ip": "keep"|"truncate"|"hash"|"drop", "fields": [{"path": "traits.email", "action": "hash"}, ...],
"keys": [{"preset": "segment-red", "action": "drop"}, {"names": ["*token*"], "action": "redact"}],
"consent": [{"category": "Advertising", "action": "drop"}, {"category": "Analytics", "action": "strip", "keep": ["properties.plan"]}]}.
Field and key actions: drop, redact, hash (keyed HMAC-SHA256, hmac-v<version>:<hex>), sha256_for_ad_matching (unkeyed),
redact_query (field rules only, with "params": [...]). A policy with a problem is refused (exit 2) naming the rule, and
nothing is stored. The manual: docs/privacy.md.`,
    examples: [
      'segment-ingest sources privacy shop-web --set policy.json',
      'segment-ingest sources privacy shop-web > policy.json',
      'segment-ingest sources privacy shop-web --remove',
    ],
  },
  async run({ values, positionals }, io, deps) {
    const sourceId = positionals[0] ?? '';
    const file = stringOption(values, 'set');
    const remove = booleanOption(values, 'remove');
    if (file !== undefined && remove) throw new UsageError('give --set FILE or --remove, not both');
    if (file !== undefined) {
      const prepared = await readPolicyFile(file, io);
      const stored = await withStage(values, io, deps, (stage) => setPrivacyPolicy(policies(stage), sourceId, prepared));
      await write(io.stdout, `Privacy policy ${stored.version} stored for source "${sourceId}": ${describePolicy(stored.policy)}.\n`);
      await write(io.stderr, `The ingest function applies it to every event from now on; ${EFFECT}.\n`);
      return EXIT.ok;
    }
    if (remove) {
      const removed = await withStage(values, io, deps, (stage) => removePrivacyPolicy(policies(stage), sourceId));
      await write(
        io.stdout,
        removed ? `Privacy policy of source "${sourceId}" removed; ${EFFECT}.\n` : `Source "${sourceId}" had no privacy policy.\n`,
      );
      return EXIT.ok;
    }
    const stored = await withStage(values, io, deps, (stage) => getPrivacyPolicy(policies(stage), sourceId));
    if (!stored) {
      await write(
        io.stderr,
        `Source "${sourceId}" has no privacy policy. Set one: segment-ingest sources privacy ${sourceId} --set policy.json\n`,
      );
      return EXIT.ok;
    }
    await write(io.stdout, `${JSON.stringify(stored.policy, null, 2)}\n`);
    await write(io.stderr, `Privacy policy ${stored.version} of source "${sourceId}", set at ${stored.setAt ?? '?'}.\n`);
    return EXIT.ok;
  },
};

/** Reads and checks a policy file; bad input is a usage error (exit 2) naming the file and every bad rule. */
async function readPolicyFile(file: string, io: Io): Promise<PreparedPolicy> {
  const text = await readInputFile(file, io, MAX_FILE_BYTES, 'privacy policy');
  try {
    return preparePolicy(text);
  } catch (error) {
    if (!(error instanceof PrivacyPolicyError)) throw error;
    throw new UsageError(`${file === '-' ? 'stdin' : file} is not a privacy policy that can be stored:\n  ${error.problems.join('\n  ')}`);
  }
}

function describePolicy(policy: PrivacyPolicy): string {
  const parts = [`ip ${policy.ip ?? 'keep'}`];
  parts.push(
    `${policy.fields?.length ?? 0} field rule(s)`,
    `${policy.keys?.length ?? 0} key matcher(s)`,
    `${policy.consent?.length ?? 0} consent rule(s)`,
  );
  return parts.join(', ');
}
