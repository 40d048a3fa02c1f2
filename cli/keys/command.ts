/** `keys create|list|revoke`: API keys of a source. A key is shown once; only its SHA-256 hash is stored. */
import { booleanOption, stringOption } from '../core/args';
import type { Command } from '../core/command';
import { EXIT, UsageError } from '../core/errors';
import { formatTable } from '../core/format';
import { write } from '../core/io';
import { describeTarget, TARGET_OPTIONS } from '../core/target';
import { requireSource, withStage } from '../core/stage';
import { isKeyScope, KEY_SCOPES, scopeOf, UNSCOPED, type KeyRecord } from '../../lib/tables/sources';

/** The line `keys list` and `status` print when active keys have no scope (docs/keys-and-scopes.md). */
export function unscopedWarning(keys: ReadonlyArray<Pick<KeyRecord, 'keyPrefix' | 'revokedAt' | 'scope'>>): string | undefined {
  const unscoped = keys.filter((k) => !k.revokedAt && k.scope === undefined);
  if (unscoped.length === 0) return undefined;
  const prefixes = unscoped.map((k) => `${k.keyPrefix}…`).join(', ');
  return `! ${unscoped.length} active key(s) without a scope (${prefixes}): created before key scopes, they may still send deletes (erase users). Replace each with a key of scope "events" (web pages, SDKs) or "destination" (Segment Direct/Actions), then revoke it: see docs/keys-and-scopes.md\n`;
}

export const keysCreate: Command = {
  spec: {
    name: 'keys create',
    summary: 'Creates an API key for a source and prints it once on stdout. Only its SHA-256 hash is stored.',
    options: {
      source: { type: 'string', value: 'ID', description: 'the source the key sends to (required)' },
      scope: {
        type: 'string',
        value: 'SCOPE',
        description:
          'events (the default: every event route, never a delete; safe in a web page) or destination (may also send deletes: for Segment Direct and Actions destinations only)',
      },
      ...TARGET_OPTIONS,
    },
    examples: [
      'segment-ingest keys create --source shop-web',
      'KEY=$(segment-ingest keys create --source shop-web --stage prod)',
      'segment-ingest keys create --source shop-web --scope destination',
    ],
    details: 'A key of scope events can never erase a user; see docs/keys-and-scopes.md.',
  },
  async run({ values }, io, deps) {
    const sourceId = stringOption(values, 'source');
    if (!sourceId) throw new UsageError('--source is required: the source the key belongs to');
    const scope = stringOption(values, 'scope') ?? 'events';
    if (!isKeyScope(scope)) throw new UsageError(`--scope must be one of: ${KEY_SCOPES.join(', ')}; got "${scope}"`);
    const { key, record } = await withStage(values, io, deps, (stage) => stage.admin.createKey(sourceId, { scope }));
    await write(io.stdout, `${key}\n`);
    const power = scope === 'destination' ? 'it may send deletes: give it only to a Segment destination' : 'it sends events, never deletes';
    await write(
      io.stderr,
      `Key ${record.keyPrefix}… of scope "${scope}" created for source "${sourceId}" (${power}). Store it now: it is not shown again. Revoke it with: segment-ingest keys revoke ${record.keyPrefix}\n`,
    );
    return EXIT.ok;
  },
};

export const keysList: Command = {
  spec: {
    name: 'keys list',
    summary: `Lists API keys (prefix, scope and hash, never the key), newest first. Keys created before scopes show "${UNSCOPED}" and are flagged.`,
    options: {
      source: { type: 'string', value: 'ID', description: "only this source's keys" },
      active: { type: 'boolean', description: 'hide revoked keys' },
      json: { type: 'boolean', description: 'one JSON object per line instead of a table' },
      ...TARGET_OPTIONS,
    },
  },
  async run({ values }, io, deps) {
    const sourceId = stringOption(values, 'source');
    const { keys, target } = await withStage(values, io, deps, async (stage) => {
      if (sourceId !== undefined) await requireSource(stage, sourceId);
      return { keys: await stage.admin.listKeys(sourceId), target: stage.target };
    });
    const shown = keys
      .filter((k) => !(booleanOption(values, 'active') && k.revokedAt))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    if (booleanOption(values, 'json')) {
      for (const k of shown) await write(io.stdout, `${JSON.stringify({ ...k, scope: scopeOf(k) })}\n`);
      return EXIT.ok;
    }
    if (shown.length === 0) {
      await write(io.stdout, `No keys${sourceId ? ` for source "${sourceId}"` : ''} in ${describeTarget(target)}.\n`);
      return EXIT.ok;
    }
    const rows = shown.map((k) => [
      `${k.keyPrefix}…`,
      k.sourceId,
      scopeOf(k),
      k.revokedAt ? 'revoked' : 'active',
      k.createdAt,
      k.revokedAt ?? '',
      k.keyHash.slice(0, 16),
    ]);
    await write(
      io.stdout,
      formatTable(
        [
          { header: 'KEY' },
          { header: 'SOURCE' },
          { header: 'SCOPE' },
          { header: 'STATE' },
          { header: 'CREATED' },
          { header: 'REVOKED' },
          { header: 'HASH (SHA-256)' },
        ],
        rows,
      ),
    );
    const warning = unscopedWarning(shown);
    if (warning) await write(io.stderr, warning);
    return EXIT.ok;
  },
};

export const keysRevoke: Command = {
  spec: {
    name: 'keys revoke',
    summary:
      'Revokes a key. Give the key, its prefix or the start of its hash (the 16 characters `keys list` shows, or more); senders using it get 401 within the key cache lifetime (60 s). A key revoked again keeps its first revocation time.',
    args: 'KEY|PREFIX|HASH',
    minPositionals: 1,
    maxPositionals: 1,
    options: { ...TARGET_OPTIONS },
  },
  async run({ values, positionals }, io, deps) {
    const given = (positionals[0] ?? '').replace(/…$/, '');
    const record = await withStage(values, io, deps, (stage) => stage.admin.revokeKey(given));
    const when = record.alreadyRevoked ? `was already revoked at ${record.revokedAt ?? ''}` : `revoked at ${record.revokedAt ?? ''}`;
    await write(io.stdout, `Key ${record.keyPrefix}… of source "${record.sourceId}" ${when}.\n`);
    return EXIT.ok;
  },
};
