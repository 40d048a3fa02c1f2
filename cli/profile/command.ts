/** `profile`: who a user (or an anonymous visitor) is now, as the worker keeps it, as one JSON object. */
import { booleanOption, identityOptions, SOURCE_OPTION } from '../core/args';
import type { Command } from '../core/command';
import { EXIT, UsageError } from '../core/errors';
import { write } from '../core/io';
import { requireSource, withStage } from '../core/stage';
import { storedIds } from '../core/stored-ids';
import { TARGET_OPTIONS } from '../core/target';
import { emptyProfile, keyText, type ProfileKey } from '../../lib/tables/profiles';
import { aliasChain, anonymousView, createProfileReader, omittedNote, printable, userView, usersOf, type ProfileReader } from './read';

export const profile: Command = {
  spec: {
    name: 'profile',
    summary: "Prints a user's profile as JSON: merged traits, anonymous ids, aliases, groups, first and last seen, counts.",
    options: {
      ...SOURCE_OPTION,
      user: { type: 'string', value: 'USER_ID', description: 'the userId' },
      anonymous: {
        type: 'string',
        value: 'ANONYMOUS_ID',
        description: 'instead of --user: an anonymous id; prints the profile of the user it belongs to, if any',
      },
      own: { type: 'boolean', description: "with --anonymous: the anonymous id's own profile, even when it belongs to a user" },
      ...TARGET_OPTIONS,
    },
    details: [
      'The profile is read by key (a Query of its partition <source>#user#<userId> in the profiles table, one item per',
      'trait and link; the 100 most recent traits and 50 of each link are printed, stderr says how many more there are);',
      'nothing is scanned.',
      'firstSeen, lastSeen and counts are derived at read time from the stored events (a Query per event table of the',
      "user's partitions, as `events` reads them): exact under redelivery and replay, and no longer counting events that",
      'were erased or expired. An anonymous id seen with a userId belongs to that user (the latest one, if several); its',
      'own profile holds what it did before (identify, group and events without a userId). A user that was aliased to',
      'another id says so in "aliasedTo". A user or anonymous id with neither a profile nor a stored event: nothing on',
      'stdout, a message on stderr, and the exit status is 0.',
    ].join('\n'),
    examples: [
      'segment-ingest profile --source shop-web --user u-123',
      'segment-ingest profile --source shop-web --anonymous 3f1c0e2a-... | jq .traits.email',
    ],
  },
  async run({ values }, io, deps) {
    const { sourceId, userId, anonymousId } = identityOptions(values);
    if (booleanOption(values, 'own') && anonymousId === undefined) throw new UsageError('--own goes with --anonymous');
    const found = await withStage(values, io, deps, async (stage) => {
      await requireSource(stage, sourceId);
      const reader = createProfileReader(stage.clients.dynamodb, stage.target.tables);
      const ids = await storedIds(stage, io, deps, sourceId, { userId, anonymousId });
      return ids.userId !== undefined
        ? lookUpUser(reader, sourceId, ids.userId)
        : lookUpAnonymous(reader, sourceId, ids.anonymousId ?? '', booleanOption(values, 'own'));
    });
    if (found.note) await write(io.stderr, `${found.note}\n`);
    if (found.view) await write(io.stdout, `${printable(found.view)}\n`);
    return EXIT.ok;
  },
};

interface Found {
  view?: Record<string, unknown>;
  note?: string;
}

async function lookUpUser(reader: ProfileReader, sourceId: string, userId: string): Promise<Found> {
  const key: ProfileKey = { kind: 'user', sourceId, id: userId };
  const [found, activity] = await Promise.all([reader.get([key]).then((profiles) => profiles.get(keyText(key))), reader.activity(key)]);
  if (!found && !activity) return { note: `No profile for user ${JSON.stringify(userId)} in source "${sourceId}".` };
  // A user seen only in events that changed no identity (tracks, pages...) has no stored fact.
  const stored = found ?? emptyProfile(key);
  const chain = await aliasChain(reader, stored);
  const last = chain.at(-1);
  const note =
    last === undefined
      ? undefined
      : `${JSON.stringify(userId)} was aliased to ${chain.map((id) => JSON.stringify(id)).join(', then ')}: ` +
        `segment-ingest profile --source ${sourceId} --user ${JSON.stringify(last)} shows the profile it went to.`;
  return { view: await userView(reader, stored, { activity }), note: joinNotes(note, omittedNote(found)) };
}

async function lookUpAnonymous(reader: ProfileReader, sourceId: string, anonymousId: string, own: boolean): Promise<Found> {
  const key: ProfileKey = { kind: 'anon', sourceId, id: anonymousId };
  const [stored, users] = await Promise.all([
    reader.get([key]).then((found) => found.get(keyText(key))),
    usersOf(reader, sourceId, anonymousId),
  ]);
  const userId = users.userIds.at(-1);
  const user = userId === undefined ? undefined : users.profiles.get(userId);
  if (own || !user) {
    // Its own activity (events without a userId) only when its own profile is printed.
    const activity = await reader.activity(key);
    if (!stored && users.userIds.length === 0 && !activity)
      return { note: `No profile for anonymous id ${JSON.stringify(anonymousId)} in source "${sourceId}".` };
    return { view: await anonymousView(reader, key, stored, users.userIds, { activity }), note: omittedNote(stored) };
  }
  const others = users.userIds.filter((id) => id !== userId);
  const note =
    `Anonymous id ${JSON.stringify(anonymousId)} belongs to user ${JSON.stringify(userId)}` +
    (others.length > 0 ? ` (it was also seen with ${others.map((id) => JSON.stringify(id)).join(', ')})` : '') +
    '; its own profile: --own.';
  return { view: await userView(reader, user), note: joinNotes(note, omittedNote(user)) };
}

function joinNotes(...notes: Array<string | undefined>): string | undefined {
  const given = notes.filter((note): note is string => note !== undefined);
  return given.length > 0 ? given.join('\n') : undefined;
}
