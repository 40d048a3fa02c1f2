/** `events`: a user's stored events, in event-time order, as JSON lines. */
import { EVENT_TYPES, type EventType } from '../../lib/spec/event-types';
import { identityOptions, listOption, numberOption, SOURCE_OPTION, stringOption } from '../core/args';
import type { Command } from '../core/command';
import { EXIT, UsageError } from '../core/errors';
import { lookupEvents } from '../../lib/tables/events';
import { eventForOutput } from './lookup';
import { write } from '../core/io';
import { requireSource, withStage } from '../core/stage';
import { storedIds } from '../core/stored-ids';
import { TARGET_OPTIONS } from '../core/target';
import { parseTimeOption } from '../core/time';

export const events: Command = {
  spec: {
    name: 'events',
    summary:
      "Prints a user's stored events in time order, as JSON lines, across the event tables. Order (and --since, --until) is by each event's stored timestamp, the time printed in it.",
    options: {
      ...SOURCE_OPTION,
      user: { type: 'string', value: 'USER_ID', description: 'the userId' },
      anonymous: { type: 'string', value: 'ANONYMOUS_ID', description: 'instead of --user: an anonymous visitor (events with no userId)' },
      type: {
        type: 'string',
        multiple: true,
        value: 'TYPE',
        description: `only these types (repeat or comma-separate): ${EVENT_TYPES.join(', ')}`,
      },
      since: {
        type: 'string',
        value: 'TIME',
        description: 'from this timestamp on (inclusive): ISO-8601, epoch seconds, or an age like 24h, 7d',
      },
      until: { type: 'string', value: 'TIME', description: 'before this timestamp (exclusive)' },
      limit: { type: 'string', value: 'N', description: 'stop after N events' },
      ...TARGET_OPTIONS,
    },
    details:
      'Each table is queried by partition key (<source>#<userId>, <source>#~<userId> for a userId starting with anon: or ~, or <source>#anon:<anonymousId>; see the item layout), filtered by timestamp, and the results are sorted by timestamp; nothing is scanned. An event sent without a time of its own is keyed at a fixed position but ordered and selected by the timestamp it was stored with (when it was received).',
    examples: [
      'segment-ingest events --source shop-web --user u-123',
      'segment-ingest events --source shop-web --user u-123 --type track,identify --since 7d | jq .event',
    ],
  },
  async run({ values }, io, deps) {
    const { sourceId, userId, anonymousId } = identityOptions(values);
    const types = listOption(values, 'type');
    const unknown = types.filter((t) => !EVENT_TYPES.includes(t as EventType));
    if (unknown.length > 0) throw new UsageError(`unknown --type ${unknown.join(', ')}; types are ${EVENT_TYPES.join(', ')}`);
    const now = Date.now();
    const since = stringOption(values, 'since');
    const until = stringOption(values, 'until');
    const query = {
      sourceId,
      userId,
      anonymousId,
      types: types.length > 0 ? (types as EventType[]) : EVENT_TYPES,
      since: since === undefined ? undefined : parseTimeOption('since', since, now),
      until: until === undefined ? undefined : parseTimeOption('until', until, now),
    };
    const limit = numberOption(values, 'limit', Infinity, { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
    let printed = 0;
    await withStage(values, io, deps, async (stage) => {
      await requireSource(stage, sourceId);
      const ids = await storedIds(stage, io, deps, sourceId, { userId, anonymousId });
      for await (const typed of lookupEvents(stage.clients.dynamodb, stage.target.tables, { ...query, ...ids })) {
        await write(io.stdout, `${JSON.stringify(eventForOutput(typed))}\n`);
        if (++printed >= limit) break;
      }
    });
    if (printed === 0)
      await write(
        io.stderr,
        `No events for ${userId !== undefined ? `user "${userId}"` : `anonymous "${anonymousId ?? ''}"`} in source "${sourceId}"${since || until ? ' in that time range' : ''}.\n`,
      );
    return EXIT.ok;
  },
};
