/** `group`: a group's merged traits and the userIds that joined it, as one JSON object. */
import { requiredSource, SOURCE_OPTION, stringOption } from '../core/args';
import type { Command } from '../core/command';
import { EXIT, UsageError } from '../core/errors';
import { write } from '../core/io';
import { requireSource, withStage } from '../core/stage';
import { TARGET_OPTIONS } from '../core/target';
import { keyText, type ProfileKey } from '../../lib/tables/profiles';
import { createProfileReader, omittedNote, printable, traitsView } from '../profile/read';

export const group: Command = {
  spec: {
    name: 'group',
    summary: "Prints a group's profile as JSON: its traits, merged from every group call, and its members' userIds.",
    options: {
      ...SOURCE_OPTION,
      group: { type: 'string', value: 'GROUP_ID', description: 'the groupId (required)' },
      ...TARGET_OPTIONS,
    },
    details: [
      'Read by key: a Query of the partition <source>#group#<groupId> (its traits, the 100 most recent printed; stderr',
      'says how many more there are) and of <source>#members#<groupId> in the profiles table; nothing is scanned.',
      'Members are the userIds of group calls, in id order (anonymous-only calls merge traits but name no member).',
      'Without the group, nothing is printed on stdout, a message on stderr, exit status 0.',
    ].join('\n'),
    examples: [
      'segment-ingest group --source shop-web --group g-42',
      'segment-ingest group --source shop-web --group g-42 | jq ".members | length"',
    ],
  },
  async run({ values }, io, deps) {
    const sourceId = requiredSource(values);
    const groupId = stringOption(values, 'group');
    if (groupId === undefined) throw new UsageError('--group GROUP_ID is required');
    const view = await withStage(values, io, deps, async (stage) => {
      await requireSource(stage, sourceId);
      const reader = createProfileReader(stage.clients.dynamodb, stage.target.tables);
      const key: ProfileKey = { kind: 'group', sourceId, id: groupId };
      const [stored, members] = await Promise.all([
        reader.get([key]).then((found) => found.get(keyText(key))),
        reader.members(sourceId, groupId),
      ]);
      if (!stored && members.length === 0) return undefined;
      return { sourceId, groupId, traits: traitsView(stored), members, note: omittedNote(stored) };
    });
    if (!view) {
      await write(io.stderr, `No group ${JSON.stringify(groupId)} in source "${sourceId}".\n`);
      return EXIT.ok;
    }
    const { note, ...printed } = view;
    if (note) await write(io.stderr, `${note}\n`);
    await write(io.stdout, `${printable(printed)}\n`);
    return EXIT.ok;
  },
};
