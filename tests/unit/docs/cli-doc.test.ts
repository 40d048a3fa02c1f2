/**
 * docs/cli.md is generated from the commands' definitions (scripts/docs-cli.ts): this fails when a
 * command, an option or an exit code changed and the page was not written again.
 */
import { readFileSync } from 'node:fs';
import { CLI_DOC_FILE, cliReference } from '../../../scripts/docs-cli';
import { COMMANDS } from '../../../cli/main';

describe('docs/cli.md', () => {
  it('is up to date with the commands (run `npm run docs:cli` when this fails)', () => {
    expect(readFileSync(CLI_DOC_FILE, 'utf8')).toBe(cliReference());
  });

  it('has a section for every command, with every option of it', () => {
    // Prepare
    const page = readFileSync(CLI_DOC_FILE, 'utf8');

    // Assess
    for (const command of COMMANDS) {
      expect(page).toContain(`## \`${command.spec.name}\``);
      for (const option of Object.keys(command.spec.options)) expect(page).toContain(`--${option}`);
    }
  });
});
