/** `sources create|list|disable|enable|set-secret|rate-limit|allow-origin`: the customer streams the service accepts events for. */
import { randomBytes } from 'node:crypto';
import type { OriginChange } from '../../lib/admin/sources';
import { parseAllowedOrigin } from '../../lib/shared/origins';
import { booleanOption, stringOption, type Values } from '../core/args';
import type { Command } from '../core/command';
import { EXIT, UsageError } from '../core/errors';
import { formatTable } from '../core/format';
import { write, type Io } from '../core/io';
import { withStage } from '../core/stage';
import { describeTarget, TARGET_OPTIONS } from '../core/target';

export const sourcesCreate: Command = {
  spec: {
    name: 'sources create',
    summary: 'Creates a source (one customer stream). Prints its id on stdout; without ID, one is generated.',
    args: '[ID]',
    maxPositionals: 1,
    options: { name: { type: 'string', value: 'NAME', description: 'a readable name (default: the id)' }, ...TARGET_OPTIONS },
    examples: ['segment-ingest sources create shop-web --name "Shop (web)"', 'segment-ingest sources create --stage prod'],
  },
  async run({ values, positionals }, io, deps) {
    const sourceId = positionals[0] ?? `src-${randomBytes(6).toString('hex')}`;
    const source = await withStage(values, io, deps, (stage) => stage.admin.createSource(sourceId, stringOption(values, 'name')));
    await write(io.stdout, `${source.sourceId}\n`);
    await write(
      io.stderr,
      `Created source "${source.sourceId}" (${source.name ?? source.sourceId}). Give it a key: segment-ingest keys create --source ${source.sourceId}\n`,
    );
    return EXIT.ok;
  },
};

export const sourcesList: Command = {
  spec: {
    name: 'sources list',
    summary: 'Lists the sources: state, webhook secret (set or not), active keys, allowed browser origins.',
    options: { json: { type: 'boolean', description: 'one JSON object per line instead of a table (no secrets)' }, ...TARGET_OPTIONS },
  },
  async run({ values }, io, deps) {
    const { sources, keys, target } = await withStage(values, io, deps, async (stage) => ({
      sources: await stage.admin.listSources(),
      keys: await stage.admin.listKeys(),
      target: stage.target,
    }));
    sources.sort((a, b) => a.sourceId.localeCompare(b.sourceId));
    const activeKeys = (sourceId: string) => keys.filter((k) => k.sourceId === sourceId && !k.revokedAt).length;
    if (booleanOption(values, 'json')) {
      for (const s of sources) {
        const line = {
          sourceId: s.sourceId,
          name: s.name,
          disabled: s.disabled === true,
          webhookSecretSet: Boolean(s.webhookSecret),
          // false: only whole-body signatures count (`sources set-webhook --batching off`).
          webhookBatching: s.webhookBatching !== false,
          activeKeys: activeKeys(s.sourceId),
          // null: every origin (no list).
          allowedOrigins: s.allowedOrigins ?? null,
          createdAt: s.createdAt,
        };
        await write(io.stdout, `${JSON.stringify(line)}\n`);
      }
      return EXIT.ok;
    }
    if (sources.length === 0) {
      await write(io.stdout, `No sources in ${describeTarget(target)}. Create one: segment-ingest sources create NAME\n`);
      return EXIT.ok;
    }
    const rows = sources.map((s) => [
      s.sourceId,
      s.name ?? '',
      s.disabled ? 'disabled' : 'enabled',
      `${s.webhookSecret ? 'set' : '-'}${s.webhookBatching === false ? ' (batching off)' : ''}`,
      String(activeKeys(s.sourceId)),
      s.allowedOrigins === undefined ? 'any' : s.allowedOrigins.length === 0 ? 'none' : s.allowedOrigins.join(' '),
      s.createdAt ?? '',
    ]);
    await write(
      io.stdout,
      formatTable(
        [
          { header: 'SOURCE' },
          { header: 'NAME', max: 40 },
          { header: 'STATE' },
          { header: 'WEBHOOK SECRET' },
          { header: 'KEYS', align: 'right' },
          { header: 'ORIGINS', max: 40 },
          { header: 'CREATED' },
        ],
        rows,
      ),
    );
    return EXIT.ok;
  },
};

function toggle(disabled: boolean): Command {
  const verb = disabled ? 'disable' : 'enable';
  return {
    spec: {
      name: `sources ${verb}`,
      summary: disabled
        ? 'Disables a source. Its keys get 403 within the key cache lifetime (KEY_CACHE_SECONDS, 60 s); nothing is deleted.'
        : 'Enables a disabled source again.',
      args: 'ID',
      minPositionals: 1,
      maxPositionals: 1,
      options: { ...TARGET_OPTIONS },
    },
    async run({ values, positionals }, io, deps) {
      const sourceId = positionals[0] ?? '';
      await withStage(values, io, deps, (stage) => stage.admin.setDisabled(sourceId, disabled));
      await write(
        io.stdout,
        `Source "${sourceId}" ${verb}d${disabled ? '; its keys are refused (403) within the key cache lifetime' : ''}.\n`,
      );
      return EXIT.ok;
    },
  };
}

export const sourcesDisable = toggle(true);
export const sourcesEnable = toggle(false);

export const sourcesSetSecret: Command = {
  spec: {
    name: 'sources set-secret',
    summary: "Sets the source's Webhooks shared secret (X-Signature). Without --secret, generates one and prints it once on stdout.",
    args: 'ID',
    minPositionals: 1,
    maxPositionals: 1,
    options: {
      secret: { type: 'string', value: 'SECRET', description: 'the secret to set (it stays in your shell history; prefer --secret-stdin)' },
      'secret-stdin': { type: 'boolean', description: 'read the secret from the first line of stdin' },
      'grace-seconds': {
        type: 'string',
        value: 'N',
        description:
          'how long the previous secret stays valid (default 86400, so Segment can be updated and finish its retries; 0 for a leaked secret)',
      },
      ...TARGET_OPTIONS,
    },
    details:
      'Paste the secret into the "Shared Secret" setting of the Segment Webhooks destination. The previous secret keeps working for --grace-seconds (default 24 h), then stops; with --grace-seconds 0 it stops at once (after the key cache lifetime).',
  },
  async run({ values, positionals }, io, deps) {
    const sourceId = positionals[0] ?? '';
    let secret = stringOption(values, 'secret');
    if (booleanOption(values, 'secret-stdin')) {
      if (secret !== undefined) throw new UsageError('give --secret or --secret-stdin, not both');
      secret = (await readFirstLine(io)).trim();
    }
    if (secret !== undefined && secret.length < 8) throw new UsageError('the secret must be at least 8 characters');
    const graceText = stringOption(values, 'grace-seconds');
    const graceSeconds = graceText === undefined ? undefined : Number(graceText);
    if (graceSeconds !== undefined && !(Number.isInteger(graceSeconds) && graceSeconds >= 0)) {
      throw new UsageError(`--grace-seconds must be a whole number of seconds, 0 or more, got "${graceText}"`);
    }
    const generated = secret === undefined;
    const value = secret ?? randomBytes(32).toString('hex');
    const { previousValidUntil } = await withStage(values, io, deps, (stage) =>
      stage.admin.setWebhookSecret(sourceId, value, { graceSeconds }),
    );
    const previous = previousValidUntil ? ` The previous secret stays valid until ${previousValidUntil}.` : '';
    if (generated) {
      await write(io.stdout, `${value}\n`);
      await write(
        io.stderr,
        `Webhook secret of source "${sourceId}" set.${previous} It is shown once: paste it into the Segment Webhooks destination's "Shared Secret".\n`,
      );
    } else {
      await write(io.stdout, `Webhook secret of source "${sourceId}" set.${previous}\n`);
    }
    return EXIT.ok;
  },
};

export const sourcesSetWebhook: Command = {
  spec: {
    name: 'sources set-webhook',
    summary:
      "Sets how the source's Webhooks destination signs: --batching off accepts only signatures over the whole body; on (the default) also accepts a signature over an array's first element, as Segment signs batches.",
    args: 'ID',
    minPositionals: 1,
    maxPositionals: 1,
    options: {
      batching: { type: 'string', value: 'on|off', description: "match the Segment Webhooks destination's batching setting (required)" },
      ...TARGET_OPTIONS,
    },
    examples: ['segment-ingest sources set-webhook shop-web --batching off'],
    details:
      'With batching on, a first-element signature covers that element only: a delete elsewhere in the array is refused (403) unless a key of scope destination is sent too. Takes effect within the key cache lifetime (60 s).',
  },
  async run({ values, positionals }, io, deps) {
    const sourceId = positionals[0] ?? '';
    const batching = stringOption(values, 'batching');
    if (batching !== 'on' && batching !== 'off')
      throw new UsageError(`--batching must be on or off, got ${batching === undefined ? 'nothing' : `"${batching}"`}`);
    await withStage(values, io, deps, (stage) => stage.admin.setWebhookBatching(sourceId, batching === 'on'));
    const accepted = batching === 'on' ? "the whole body or an array's first element" : 'the whole body only';
    await write(io.stdout, `Webhook batching of source "${sourceId}" is ${batching}: X-Signature must cover ${accepted}.\n`);
    return EXIT.ok;
  },
};

export const sourcesRateLimit: Command = {
  spec: {
    name: 'sources rate-limit',
    summary:
      'Sets (or with --off removes) the events per second each ingest instance accepts from a source; over it senders get 429 with Retry-After.',
    args: 'ID [EVENTS_PER_SECOND]',
    minPositionals: 1,
    maxPositionals: 2,
    options: { off: { type: 'boolean', description: 'remove the limit' }, ...TARGET_OPTIONS },
    details:
      'The limit holds per function instance, with a burst of two seconds of events; Lambda may run several instances. Takes effect within the key cache lifetime.',
    examples: ['segment-ingest sources rate-limit shop-web 500', 'segment-ingest sources rate-limit shop-web --off'],
  },
  async run({ values, positionals }, io, deps) {
    const [sourceId = '', rateText] = positionals;
    const off = booleanOption(values, 'off');
    if (off === (rateText !== undefined)) throw new UsageError('give either EVENTS_PER_SECOND or --off');
    const rate = rateText === undefined ? undefined : Number(rateText);
    if (rate !== undefined && !(Number.isFinite(rate) && rate > 0))
      throw new UsageError(`EVENTS_PER_SECOND must be a positive number, got "${rateText}"`);
    await withStage(values, io, deps, (stage) => stage.admin.setRateLimit(sourceId, rate));
    await write(
      io.stdout,
      rate === undefined
        ? `Source "${sourceId}" has no rate limit.\n`
        : `Source "${sourceId}" is limited to ${rate} events/s per ingest instance.\n`,
    );
    return EXIT.ok;
  },
};

async function readFirstLine(io: Io): Promise<string> {
  if (!io.stdin) throw new UsageError('no stdin to read the secret from');
  let text = '';
  for await (const chunk of io.stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line.trim() === '') throw new UsageError('stdin held no secret');
  return line;
}

export const sourcesAllowOrigin: Command = {
  spec: {
    name: 'sources allow-origin',
    summary:
      "Sets which browser origins may send with a source's keys. Adds the ORIGINs; --remove takes them off, --any allows every origin (the default), --none no page; with neither ORIGIN nor flag, shows the list.",
    args: 'ID [ORIGIN...]',
    minPositionals: 1,
    maxPositionals: Infinity,
    options: {
      remove: { type: 'boolean', description: 'take the ORIGINs off the list (the last one leaves a list that allows no page)' },
      any: { type: 'boolean', description: 'drop the list: pages of every origin may send (the default of a new source)' },
      none: { type: 'boolean', description: 'an empty list: no page may send; servers and SDKs (no Origin header) still can' },
      ...TARGET_OPTIONS,
    },
    details:
      'An ORIGIN is scheme://host[:port] as browsers send it in the Origin header (https://shop.example, http://localhost:8080), or https://*.shop.example for every subdomain of shop.example (not shop.example itself). A page of another origin gets 403 naming its origin; requests without an Origin header are never refused by the list. Prints the origins now allowed, one a line ("*" for every origin). Takes effect within the key cache lifetime (KEY_CACHE_SECONDS, 60 s).',
    examples: [
      'segment-ingest sources allow-origin shop-web https://shop.example https://*.shop.example',
      'segment-ingest sources allow-origin shop-web --remove https://old.shop.example',
      'segment-ingest sources allow-origin shop-web --any',
      'segment-ingest sources allow-origin shop-web',
    ],
  },
  async run({ values, positionals }, io, deps) {
    const [sourceId = '', ...origins] = positionals;
    const change = originChange(values, origins);
    const allowed = await withStage(values, io, deps, async (stage) => {
      if (change) return stage.admin.changeAllowedOrigins(sourceId, change);
      const source = await stage.admin.getSource(sourceId);
      if (!source) throw new UsageError(`source "${sourceId}" does not exist`);
      return source.allowedOrigins;
    });
    await write(io.stdout, allowed === undefined ? '*\n' : allowed.map((origin) => `${origin}\n`).join(''));
    await write(io.stderr, `${describeOrigins(sourceId, allowed)}\n`);
    return EXIT.ok;
  },
};

/** The change the flags and ORIGINs ask for; `undefined` to show the list. Throws UsageError for a bad combination or origin. */
function originChange(values: Values, origins: string[]): OriginChange | undefined {
  const flags = (['remove', 'any', 'none'] as const).filter((flag) => booleanOption(values, flag));
  if (flags.length > 1) throw new UsageError(`give at most one of --${flags.join(', --')}`);
  const [flag] = flags;
  if ((flag === 'any' || flag === 'none') && origins.length > 0) throw new UsageError(`--${flag} takes no ORIGIN`);
  if (flag === 'remove' && origins.length === 0) throw new UsageError('--remove needs the ORIGINs to take off');
  const problems = origins.flatMap((origin) => {
    const parsed = parseAllowedOrigin(origin);
    return parsed.ok ? [] : [parsed.problem];
  });
  if (problems.length > 0)
    throw new UsageError(
      problems.join('\n').replace(/a source without a list of origins accepts every origin/, 'for every origin, use --any'),
    );
  if (flag === 'any') return { any: true };
  if (flag === 'none') return { none: true };
  if (flag === 'remove') return { remove: origins };
  return origins.length > 0 ? { add: origins } : undefined;
}

function describeOrigins(sourceId: string, allowed: readonly string[] | undefined): string {
  if (allowed === undefined) return `Source "${sourceId}" accepts pages of every origin (no list).`;
  if (allowed.length === 0)
    return `Source "${sourceId}" accepts no page (an empty list); requests without an Origin header still pass. --any allows every origin again.`;
  return `Source "${sourceId}" accepts pages of ${allowed.length} origin${allowed.length === 1 ? '' : 's'}; others get 403. Requests without an Origin header always pass.`;
}
