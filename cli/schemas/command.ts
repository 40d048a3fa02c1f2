/** `schemas list|show|drift|export`: what a source's events look like, as the worker observed them (docs/schemas-and-plans.md). */
import { storedEventKey, KEYED_TYPES } from '../../lib/spec/event-keys';
import { booleanOption, requiredSource, SOURCE_OPTION, stringOption } from '../core/args';
import type { Command } from '../core/command';
import { CliError, EXIT, UsageError } from '../core/errors';
import { formatNumber, formatTable } from '../core/format';
import { write, type Io } from '../core/io';
import { requireSource, withStage, type Stage } from '../core/stage';
import { TARGET_OPTIONS } from '../core/target';
import { parseTimeOption } from '../core/time';
import { driftSince } from './drift';
import { planFromObserved } from './export';
import {
  readObservedPaths,
  readObservedSource,
  type ObservedEvent,
  type ObservedPath,
  type ObservedSource,
} from '../../lib/tables/schemas';

const JSON_OPTION = { json: { type: 'boolean', description: 'print one JSON document instead of a table' } } as const;

const table = (stage: Stage) => stage.target.tables.schemas;

/** Every event key with its paths (one Query each, a few in parallel). */
async function readAll(stage: Stage, sourceId: string, events: readonly ObservedEvent[]) {
  const observed: Array<{ event: ObservedEvent; paths: ObservedPath[] }> = [];
  for (let i = 0; i < events.length; i += 8) {
    const slice = events.slice(i, i + 8);
    const paths = await Promise.all(slice.map((event) => readObservedPaths(stage.clients.documents, table(stage), sourceId, event)));
    slice.forEach((event, j) => observed.push({ event, paths: paths[j] ?? [] }));
  }
  return observed;
}

async function noteCappedKeys(io: Io, sourceId: string, source: ObservedSource): Promise<void> {
  if (source.cappedEventKeys > 0)
    await write(
      io.stderr,
      `Capped: source "${sourceId}" reached its limit of ${formatNumber(source.eventKeysLimit)} event keys; about ${formatNumber(source.cappedEventKeys)} more were seen and not recorded.\n`,
    );
}

export const schemasList: Command = {
  spec: {
    name: 'schemas list',
    summary: 'Lists every event key seen in a source: first and last seen, an approximate count, the number of property paths.',
    options: { ...SOURCE_OPTION, ...JSON_OPTION, ...TARGET_OPTIONS },
    details:
      'Event keys: a track event by its name, page and screen by their name ("page", "screen" when unnamed), identify and group by their type. Counts are approximate: each function instance writes what it counted at most once a minute.',
    examples: ['segment-ingest schemas list --source shop-web'],
  },
  async run({ values }, io, deps) {
    const sourceId = requiredSource(values);
    const source = await withStage(values, io, deps, async (stage) => {
      await requireSource(stage, sourceId);
      return readObservedSource(stage.clients.documents, table(stage), sourceId);
    });
    if (booleanOption(values, 'json')) {
      await write(io.stdout, `${JSON.stringify({ source: sourceId, events: source.events, cappedEventKeys: source.cappedEventKeys })}\n`);
      return EXIT.ok;
    }
    if (source.events.length === 0) {
      await write(io.stderr, `No events seen in source "${sourceId}" yet.\n`);
      return EXIT.ok;
    }
    const rows = source.events.map((e) => [
      e.type,
      e.event,
      e.firstSeen,
      e.lastSeen,
      formatNumber(e.count),
      formatNumber(e.paths),
      e.capped ? `capped (${formatNumber(e.cappedPaths)} paths)` : '-',
    ]);
    const columns = [
      { header: 'TYPE' },
      { header: 'EVENT', max: 60 },
      { header: 'FIRST SEEN' },
      { header: 'LAST SEEN' },
      { header: 'COUNT (≈)', align: 'right' as const },
      { header: 'PATHS', align: 'right' as const },
      { header: 'CAPPED' },
    ];
    await write(io.stdout, formatTable(columns, rows));
    await noteCappedKeys(io, sourceId, source);
    return EXIT.ok;
  },
};

export const schemasShow: Command = {
  spec: {
    name: 'schemas show',
    summary: 'Lists the property paths of one event key, with the JSON types seen at each and when each type was first seen.',
    options: {
      ...SOURCE_OPTION,
      event: { type: 'string', value: 'KEY', description: 'the event key (required): a track event name, a page name, identify, ...' },
      type: { type: 'string', value: 'TYPE', description: 'the event type, when several types share the key' },
      ...JSON_OPTION,
      ...TARGET_OPTIONS,
    },
    examples: [
      'segment-ingest schemas show --source shop-web --event "Order Completed"',
      'segment-ingest schemas show --source shop-web --event identify --json',
    ],
  },
  async run({ values }, io, deps) {
    const sourceId = requiredSource(values);
    const key = stringOption(values, 'event');
    if (key === undefined || key === '') throw new UsageError('--event is required');
    const type = stringOption(values, 'type');
    if (type !== undefined && !(KEYED_TYPES as readonly string[]).includes(type))
      throw new UsageError(`--type must be one of ${KEYED_TYPES.join(', ')}, got "${type}"`);
    const { event, paths } = await withStage(values, io, deps, async (stage) => {
      await requireSource(stage, sourceId);
      const found = (await readObservedSource(stage.clients.documents, table(stage), sourceId)).events.filter(
        (e) => e.event === storedEventKey(key) && (type === undefined || e.type === type),
      );
      if (found.length === 0)
        throw new CliError(
          `no event "${key}"${type ? ` of type ${type}` : ''} seen in source "${sourceId}"; see segment-ingest schemas list --source ${sourceId}`,
        );
      if (found.length > 1)
        throw new UsageError(`event key "${key}" is used by ${found.map((e) => e.type).join(' and ')} events; add --type`);
      const one = found[0] as ObservedEvent;
      return { event: one, paths: await readObservedPaths(stage.clients.documents, table(stage), sourceId, one) };
    });
    if (booleanOption(values, 'json')) {
      await write(io.stdout, `${JSON.stringify(showJson(event, paths))}\n`);
      return EXIT.ok;
    }
    const rows = paths.flatMap((p) => p.types.map((t, i) => [i === 0 ? p.path : '', t.type, t.firstSeen, i === 0 ? p.lastSeen : '']));
    await write(
      io.stdout,
      formatTable([{ header: 'PATH' }, { header: 'TYPE' }, { header: 'FIRST SEEN' }, { header: 'PATH LAST SEEN' }], rows),
    );
    await write(
      io.stderr,
      `${event.type} "${event.event}" in source "${sourceId}": ${paths.length} path(s), about ${formatNumber(event.count)} events, first seen ${event.firstSeen}, last seen ${event.lastSeen}.\n`,
    );
    if (event.capped)
      await write(
        io.stderr,
        `Capped: this event key reached its limit of paths; about ${formatNumber(event.cappedPaths)} more were seen and not recorded.\n`,
      );
    return EXIT.ok;
  },
};

function showJson(event: ObservedEvent, paths: readonly ObservedPath[]) {
  const byPath: Record<string, unknown> = {};
  for (const p of paths) {
    const value = {
      types: p.types.map((t) => t.type),
      firstSeen: p.firstSeen,
      lastSeen: p.lastSeen,
      typesFirstSeen: Object.fromEntries(p.types.map((t) => [t.type, t.firstSeen])),
    };
    Object.defineProperty(byPath, p.path, { value, enumerable: true, writable: true, configurable: true });
  }
  const { event: key, paths: pathCount, ...summary } = event;
  return { event: key, ...summary, pathCount, paths: byPath };
}

export const schemasDrift: Command = {
  spec: {
    name: 'schemas drift',
    summary: 'Reports what changed in a time window: new events, new paths, paths that gained a type, and paths not seen since.',
    options: {
      ...SOURCE_OPTION,
      since: {
        type: 'string',
        value: 'TIME',
        description: 'start of the window: an age like 24h, 7d (default 7d), ISO-8601 or epoch seconds',
      },
      ...JSON_OPTION,
      ...TARGET_OPTIONS,
    },
    details:
      'new-type is a conflict: the path now holds values of more than one JSON type (integer and number count as one). not-seen: last seen more than an hour (paths) or a minute (event keys) before the window started, the precision of last-seen times.',
    examples: [
      'segment-ingest schemas drift --source shop-web --since 7d',
      'segment-ingest schemas drift --source shop-web --since 24h --json | jq .changes',
    ],
  },
  async run({ values }, io, deps) {
    const sourceId = requiredSource(values);
    const since = parseTimeOption('since', stringOption(values, 'since') ?? '7d');
    const { source, observed } = await withStage(values, io, deps, async (stage) => {
      await requireSource(stage, sourceId);
      const found = await readObservedSource(stage.clients.documents, table(stage), sourceId);
      return { source: found, observed: await readAll(stage, sourceId, found.events) };
    });
    const changes = driftSince(observed, since);
    const capped = source.events.filter((e) => e.capped).map((e) => ({ event: e.event, type: e.type, cappedPaths: e.cappedPaths }));
    if (booleanOption(values, 'json')) {
      await write(
        io.stdout,
        `${JSON.stringify({ source: sourceId, since, changes, capped: { eventKeys: source.cappedEventKeys, events: capped } })}\n`,
      );
      return EXIT.ok;
    }
    if (changes.length > 0) {
      const rows = changes.map((c) => [c.change, c.eventType, c.event, c.path ?? '-', c.types.join(', ') || '-', c.at]);
      const columns = [
        { header: 'CHANGE' },
        { header: 'TYPE' },
        { header: 'EVENT', max: 50 },
        { header: 'PATH' },
        { header: 'TYPES' },
        { header: 'AT' },
      ];
      await write(io.stdout, formatTable(columns, rows));
    }
    await write(
      io.stderr,
      `${changes.length === 0 ? 'No changes' : `${formatNumber(changes.length)} change(s)`} in source "${sourceId}" since ${since}.\n`,
    );
    for (const e of capped)
      await write(
        io.stderr,
        `Capped: ${e.type} "${e.event}" reached its limit of paths (about ${formatNumber(e.cappedPaths)} not recorded).\n`,
      );
    await noteCappedKeys(io, sourceId, source);
    return EXIT.ok;
  },
};

export const schemasExport: Command = {
  spec: {
    name: 'schemas export',
    summary: 'Prints the observed schemas of a source as a tracking plan to start from (mode warn, unplanned warn).',
    options: {
      ...SOURCE_OPTION,
      context: {
        type: 'boolean',
        description: 'include the paths of context (left out by default: libraries set them, not your tracking)',
      },
      json: { type: 'boolean', description: 'accepted for symmetry: the plan is JSON either way' },
      ...TARGET_OPTIONS,
    },
    details:
      'Each event key gets a JSON Schema with the types seen at each path of properties and traits; nothing is required. Edit it, then: segment-ingest plan set --source ID plan.json',
    examples: ['segment-ingest schemas export --source shop-web > plan.json'],
  },
  async run({ values }, io, deps) {
    const sourceId = requiredSource(values);
    const observed = await withStage(values, io, deps, async (stage) => {
      await requireSource(stage, sourceId);
      return readAll(stage, sourceId, (await readObservedSource(stage.clients.documents, table(stage), sourceId)).events);
    });
    const { plan, notes } = planFromObserved(observed, { context: booleanOption(values, 'context') });
    await write(io.stdout, `${JSON.stringify(plan, null, 2)}\n`);
    for (const note of notes) await write(io.stderr, `note: ${note}\n`);
    await write(
      io.stderr,
      `${Object.keys(plan.events).length} event key(s) of source "${sourceId}" exported. Store it with: segment-ingest plan set --source ${sourceId} FILE\n`,
    );
    return EXIT.ok;
  },
};
