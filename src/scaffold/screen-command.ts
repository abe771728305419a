/** `ficus scaffold screen`: not built yet. */
import type { Command } from 'commander';

export function registerScreenScaffold(scaffold: Command): void {
  scaffold.command('screen').description('(not built yet)');
}
