/**
 * `ficus check`: every configuration mistake of the project (ficus.yaml, each adapter file, the
 * features' settings, each kind's checks of connections and bindings, admin tokens), all at once,
 * without starting anything. Exit 0 when there is none, 78 (EX_CONFIG) otherwise.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ConfigErrors } from '../../config/config-error.ts';

export function register(program: Command): void {
  program
    .command('check')
    .description('check ficus.yaml, the contract and every adapter file, and report every mistake at once; starts nothing (exit 0, or 78 on a mistake)')
    .option('-c, --config <file>', 'gateway config file', 'ficus.yaml')
    .option('-r, --root <dir>', 'project folder (openapi.yaml, adapters/)', '.')
    .action(async (opts: { config: string; root: string }) => {
      const notices: string[] = [];
      // (Loaded here: every other command starts without the gateway's modules.)
      const { Gateway } = await import('../../gateway.ts');
      const errors = await Gateway.check({ root: resolve(opts.root), file: opts.config, env: process.env, notices });
      // Derived operationIds and 3.0 habits in a 3.1 contract: not mistakes, but worth knowing.
      for (const n of notices) process.stderr.write(`note: ${n}\n`);
      if (errors.length > 0) throw new ConfigErrors(errors);
      process.stdout.write(`ficus check: ${opts.config} and its adapters are correct\n`);
    });
}
