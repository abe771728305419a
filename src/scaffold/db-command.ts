/** `ficus scaffold db`: not built yet. */
import type { Command } from 'commander';

export function registerDbScaffold(scaffold: Command): void {
  scaffold.command('db').description('(not built yet)');
}
