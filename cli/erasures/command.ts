/** `erasures show`: whether and when a user was erased, what each delete erased, and whether its sweep finished. */
import { EVENT_TYPES } from '../../lib/spec/event-types';
import { booleanOption, requiredSource, SOURCE_OPTION, stringOption } from '../core/args';
import type { Command } from '../core/command';
import { EXIT, UsageError } from '../core/errors';
import { formatNumber, formatTable } from '../core/format';
import { write } from '../core/io';
import { requireSource, withStage } from '../core/stage';
import { storedIds } from '../core/stored-ids';
import { describeTarget, TARGET_OPTIONS } from '../core/target';
import { readErasureHashKey } from './hash-key';
import { lookupErasure, type ErasureStatus } from '../../lib/tables/erasures';

export const erasuresShow: Command = {
  spec: {
    name: 'erasures show',
    summary:
      'Shows whether a user was erased (a Segment delete), when, with what cut-off, how many items each delete erased per table, and whether the sweep finished.',
    options: {
      ...SOURCE_OPTION,
      user: {
        type: 'string',
        value: 'USER_ID',
        description: 'the userId the delete named (required); hashed as the erasures table stores it',
      },
      json: { type: 'boolean', description: 'print the status as JSON' },
      ...TARGET_OPTIONS,
    },
    details: [
      'The erasures table names users only by a hash of the userId, so the id you give is hashed the way the worker does and looked up by key: the tombstone, and the audit records of the source (a Query of audit#<source> filtered by the hash). Nothing is scanned.',
      `Exit status: 0 when an erasure is recorded (even if its sweep is still running), ${EXIT.notFound} when no erasure is recorded for that user, 1 and 2 as for every command.`,
    ].join('\n\n'),
    examples: [
      'segment-ingest erasures show --source shop-web --user u-123',
      'segment-ingest erasures show --source shop-web --user u-123 --stage prod --json',
    ],
  },
  async run({ values }, io, deps) {
    const sourceId = requiredSource(values);
    const userId = stringOption(values, 'user');
    if (userId === undefined || userId === '') throw new UsageError('--user USER_ID is required: the userId of the delete');
    const { status, where } = await withStage(values, io, deps, async (stage) => {
      await requireSource(stage, sourceId);
      const hashKey = await readErasureHashKey(stage.target, io.env, io.cwd, deps);
      // A source whose privacy policy hashes userIds erased the hashed id: the deletes were hashed at ingest too.
      const stored = (await storedIds(stage, io, deps, sourceId, { userId })).userId ?? userId;
      return {
        status: await lookupErasure(stage.clients.documents, stage.target.tables.erasures, sourceId, stored, hashKey),
        where: describeTarget(stage.target),
      };
    });
    if (booleanOption(values, 'json')) await write(io.stdout, `${JSON.stringify(status, null, 2)}\n`);
    else if (status.erased) await write(io.stdout, formatErasure(status, where));
    if (!status.erased) {
      await write(io.stderr, `No erasure recorded for that user: user "${userId}" in source "${sourceId}", ${where}.\n`);
      return EXIT.notFound;
    }
    return EXIT.ok;
  },
};

/** The readable report: the erasure, each delete request, the items erased per table. */
export function formatErasure(status: ErasureStatus, where: string): string {
  const lines = [`User "${status.userId}" in source "${status.sourceId}" was erased.`, ''];
  const field = (name: string, value: string) => lines.push(`${name.padEnd(10)}  ${value}`);
  field('stage', where);
  field('user hash', status.userHash);
  if (status.tombstone) {
    field(
      'cut-off',
      `${status.tombstone.cutoff}  (events of the user timed at or before it, or received before it, are deleted and never stored again)`,
    );
    field('recorded', status.tombstone.updatedAt ?? '-');
  }
  const requests = status.requests.length;
  field(
    'sweep',
    requests === 0
      ? 'not run yet: the delete is recorded, the worker has not finished a run of it (it retries until it does)'
      : `${status.sweepComplete ? 'complete' : 'NOT complete: the worker retries the delete until it is'}; ${formatNumber(status.totals.erasedItems)} item(s) erased by ${requests} delete request(s)`,
  );
  if (requests > 0) {
    lines.push('', 'DELETE REQUESTS (oldest first)');
    const rows = status.requests.map((r) => [
      r.receivedAt,
      r.cutoff,
      r.messageId,
      String(r.runs),
      formatNumber(r.erasedItems),
      r.completedAt ?? 'not yet',
    ]);
    lines.push(
      formatTable(
        [
          { header: 'RECEIVED' },
          { header: 'CUT-OFF' },
          { header: 'MESSAGE ID', max: 40 },
          { header: 'RUNS', align: 'right' },
          { header: 'ITEMS', align: 'right' },
          { header: 'COMPLETED' },
        ],
        rows,
      ).trimEnd(),
      '',
      'ITEMS ERASED PER TABLE',
      formatTable(
        [{ header: 'TABLE' }, { header: 'ITEMS', align: 'right' }],
        EVENT_TYPES.map((type) => [type, formatNumber(status.totals.perTable[type])]),
      ).trimEnd(),
      '',
      'REMOVED FROM THE PROFILES TABLE',
      formatTable(
        [{ header: 'WHAT' }, { header: 'ITEMS', align: 'right' }],
        [
          ['profile', formatNumber(status.totals.profiles.profiles)],
          ['links in other profiles', formatNumber(status.totals.profiles.links)],
          ['group memberships', formatNumber(status.totals.profiles.memberships)],
        ],
      ).trimEnd(),
    );
  }
  return `${lines.join('\n')}\n`;
}
