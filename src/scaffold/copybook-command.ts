/** `ficus scaffold copybook`: not built yet. */
import type { Command } from 'commander';

export function registerCopybookScaffold(scaffold: Command): void {
  scaffold.command('copybook').description('(not built yet)');
}
