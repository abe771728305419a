/**
 * `ficus scaffold db|copybook|screen`: first drafts of a contract's schemas, bindings, layouts and
 * flows, written from what the legacy systems say about themselves (docs/scaffolds.md). Each
 * subcommand lives with its scaffold under src/scaffold/.
 */
import type { Command } from 'commander';
import { registerCopybookScaffold } from '../../scaffold/copybook-command.ts';
import { registerDbScaffold } from '../../scaffold/db-command.ts';
import { registerScreenScaffold } from '../../scaffold/screen-command.ts';

export function register(program: Command): void {
  const scaffold = program.command('scaffold').description('draft a contract, bindings, layouts and flows from the legacy systems themselves');
  registerDbScaffold(scaffold);
  registerCopybookScaffold(scaffold);
  registerScreenScaffold(scaffold);
}
