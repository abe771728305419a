/**
 * `ficus scaffold db --adapter crm-db --table CUSTMAST [--key CUST_NO] [--resource Customer]`: a first
 * draft of a table's resource in the contract and the adapter (db-scaffold.ts; docs/scaffolds.md).
 */
import type { Command } from 'commander';
import { ScaffoldError } from './scaffold-error.ts';

interface DbFlags {
  adapter: string;
  table: string;
  key?: string;
  resource?: string;
  project: string;
  driver?: string;
  url?: string;
  file?: string;
  sample: string;
  scale: string[];
  codeTable?: string;
  force: boolean;
}

function scales(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) {
    const m = /^([A-Za-z_][A-Za-z0-9_$#]*)=(\d{1,2})$/.exec(s);
    if (!m) throw new ScaffoldError(`--scale ${s} is not COLUMN=DIGITS`, 'write e.g. --scale CR_LMT=2 (the column holds cents: 2 implied decimal places)');
    out[m[1]] = Number(m[2]);
  }
  return out;
}

export function registerDbScaffold(scaffold: Command): void {
  scaffold
    .command('db')
    .description("draft a resource from a legacy table: its schema, a get and a list in the contract, the adapter's SQL, mapping and bindings")
    .requiredOption('--adapter <name>', 'the db adapter (adapters/<name>/); a new one needs --driver and --url or --file')
    .requiredOption('--table <name>', 'the table (schema.TABLE for another schema)')
    .option('--key <columns>', "the key column(s), comma-separated (default: the table's primary key)")
    .option('--resource <Name>', "the schema's name in the contract (default: from the table's, CUSTMAST → Customer)")
    .option('--project <dir>', 'the project folder', '.')
    .option('--driver <driver>', 'a new adapter: sqlite, postgres, mysql or mssql')
    .option('--url <url>', 'a new adapter: postgres://…, mysql://…, mssql://… (a password is never written: it goes to <ADAPTER>_URL)')
    .option('--file <file>', 'a new adapter: the SQLite file')
    .option('--sample <rows>', 'rows sampled to guess types', '1000')
    .option('--scale <COLUMN=N>', 'an integer column holding N implied decimal places (repeatable), e.g. CR_LMT=2', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--code-table <table>', 'the code table that explains code columns (default: tables named like CODE, REF, LOOKUP)')
    .option('--force', 'replace the SQL and mapping files when they exist (the contract and adapter.yaml are only added to)', false)
    .action(async (opts: DbFlags) => {
      try {
        await run(opts);
      } catch (err) {
        if (!(err instanceof ScaffoldError)) throw err;
        process.stderr.write(`ficus scaffold db: ${err.message}\n  fix: ${err.fix}\n`);
        process.exitCode = 2;
      }
    });
}

async function run(opts: DbFlags): Promise<void> {
  const sample = Number(opts.sample);
  if (!Number.isInteger(sample) || sample < 1 || sample > 1_000_000) throw new ScaffoldError(`--sample ${opts.sample} is not a number of rows`, 'give a whole number from 1 to 1000000');
  const { scaffoldDb } = await import('./db-scaffold.ts');
  const r = await scaffoldDb({
    project: opts.project,
    adapter: opts.adapter,
    table: opts.table,
    key: opts.key
      ?.split(',')
      .map((k) => k.trim())
      .filter((k) => k !== ''),
    resource: opts.resource,
    driver: opts.driver,
    url: opts.url,
    file: opts.file,
    sample,
    scale: scales(opts.scale),
    codeTable: opts.codeTable,
    force: opts.force,
  });
  const out = [
    `ficus scaffold db: ${r.model.table.name} → ${r.model.name} (${r.plan.getOperation} GET ${r.plan.itemPath}, ${r.plan.listOperation} GET ${r.plan.collectionPath})`,
    ...r.written.map((f) => `  wrote ${f}`),
    ...r.notes.map((n) => `  note: ${n}`),
    '  next: read the comments (each guess says why), then ficus check and ficus start',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}
