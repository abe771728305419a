/**
 * `ficus scaffold copybook layouts/X.cpy [--record name] [--project dir] [--when ITEM:FIELD=v,...]`:
 * writes the layout file beside the copybook and each record's JSON Schema into the contract
 * (docs/scaffolds.md). Exit 0; 2 on bad usage or a copybook it cannot read, with the fix.
 */
import type { Command } from 'commander';
import { relative } from 'node:path';
import { scaffoldCopybook } from './copybook-scaffold.ts';
import { parseWhen, type WhenRule } from './copybook-layout.ts';
import { ScaffoldError } from './scaffold-error.ts';

interface Options {
  record?: string;
  project?: string;
  when: string[];
  layout?: string;
  schema?: string;
  force: boolean;
}

export function runCopybookScaffold(copybook: string, opts: Options, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): number {
  try {
    const when: WhenRule[] = opts.when.map(parseWhen);
    const r = scaffoldCopybook({ copybook, project: opts.project, record: opts.record, when, layout: opts.layout, schema: opts.schema, force: opts.force });
    const cwd = process.cwd();
    io.stdout.write(`wrote ${relative(cwd, r.layoutFile) || r.layoutFile} (${r.spec.types.map((t) => `${t.name}: ${t.codec.layout.length} bytes`).join(', ')})\n`);
    io.stdout.write(`added to ${relative(cwd, r.contractFile) || r.contractFile}: ${r.schemas.map((s) => `components.schemas.${s.name} (${s.type})`).join(', ')}\n`);
    if (r.guesses.length > 0) io.stdout.write(`guessed (check them; each is marked "guess" in the layout):\n${r.guesses.map((g) => `  - ${g}`).join('\n')}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ScaffoldError)) throw err;
    io.stderr.write(`ficus scaffold copybook: ${err.message}\n  fix: ${err.fix}\n`);
    return 2;
  }
}

export function registerCopybookScaffold(scaffold: Command): void {
  scaffold
    .command('copybook')
    .description('a layout file and the JSON Schema of each record of a COBOL copybook (into the contract)')
    .argument('<copybook>', 'the .cpy file (relative to this folder or to the project)')
    .option('--record <name>', 'only this 01 level (COBOL or camelCase name)')
    .option('--project <dir>', 'the project folder (ficus.yaml, openapi.yaml)', '.')
    .option('--when <rule>', 'decode a REDEFINES item when a field has one of some values: ITEM:FIELD=v1,v2 (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--layout <file>', 'where to write the layout (default: beside the copybook, <name>.yaml)')
    .option('--schema <name>', 'the schema name, for one record (default: from its 01 level, e.g. ProductRecord)')
    .option('--force', 'replace an existing layout file and schemas of the same names', false)
    .action((copybook: string, opts: Options) => {
      process.exitCode = runCopybookScaffold(copybook, opts, { stdout: process.stdout, stderr: process.stderr });
    });
}
