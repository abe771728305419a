/**
 * `ficus init [dir]`: a new, empty project that `ficus check` accepts as it is (src/scaffold/init-project.ts;
 * docs/scaffolds.md).
 */
import type { Command } from 'commander';
import { initProject } from '../../scaffold/init-project.ts';

export function register(program: Command): void {
  program
    .command('init')
    .argument('[dir]', 'the new project folder (made if missing; must be empty)', '.')
    .description('start a new project: ficus.yaml, an empty contract, adapters/, recordings/, layouts/, CI and README stubs')
    .option('--force', 'write into a folder that is not empty (files already there are kept)', false)
    .option('--title <title>', "the API's title in openapi.yaml (default: from the folder's name)")
    .option('--ficus-package <spec>', 'how package.json depends on Ficus (default: this installation, file:…)')
    .action((dir: string, opts: { force: boolean; title?: string; ficusPackage?: string }) => {
      const r = initProject({ dir, force: opts.force, title: opts.title, ficusPackage: opts.ficusPackage });
      const lines = [
        `ficus init: a new project in ${r.root}`,
        ...r.written.map((f) => `  wrote ${f}`),
        ...r.kept.map((f) => `  kept  ${f} (already there)`),
        '  next: npm install, then npx ficus scaffold db --adapter <name> --driver … --table <TABLE>, then npx ficus check',
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
