/**
 * `ficus scaffold db`: from one table of a legacy database to a first draft of its resource in the
 * project: the schema, a get and a list in openapi.yaml, the adapter's SQL files, row mapping and
 * bindings. The connection is the adapter's own (adapters/<name>/adapter.yaml), or the one given
 * (a new adapter). Reads the catalogue and a sample of rows, guesses (db-types.ts, db-resource.ts),
 * checks that nothing it would write is there already, and only then writes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ConfigError } from '../config/config-error.ts';
import { interpolateEnv, type Env } from '../config/env.ts';
import { dbConnectionSchema, type DbConnection } from '../kinds/db/db-config.ts';
import { createDriver } from '../kinds/db/db-kind.ts';
import type { DbDriver } from '../kinds/db/drivers/driver.ts';
import { columnValue } from '../kinds/db/row-mapping.ts';
import { addToContract, contractConflicts, planContract, type ContractPlan } from './db-contract.ts';
import { bindingEntries, envPrefix, fileNames, getSql, listSql, mappingYaml, newAdapterYaml } from './db-files.ts';
import { introspectTable, IntrospectionError, type TableInfo } from './db-introspect.ts';
import { resourceName } from './db-names.ts';
import { buildResource, type ResourceModel } from './db-resource.ts';
import { distinctValues, findCodeFamilies, sampleRows, type CodeFamily } from './db-sample.ts';
import { guessColumn, guessEnum, keyBounds, maybeCode, type ColumnGuess } from './db-types.ts';
import { addEntries } from './yaml-edit.ts';
import { ScaffoldError } from './scaffold-error.ts';

export interface DbScaffoldOptions {
  /** The project folder (ficus.yaml, openapi.yaml, adapters/). */
  project: string;
  adapter: string;
  table: string;
  /** The key column(s); default the table's primary key. */
  key?: string[];
  /** The resource's name in the contract; default from the table's (CUSTMAST → Customer). */
  resource?: string;
  /** A new adapter's connection (when adapters/<adapter>/adapter.yaml does not exist). */
  driver?: string;
  url?: string;
  file?: string;
  /** Further connection settings of a new adapter (e.g. encrypt: false for SQL Server). */
  connection?: Record<string, unknown>;
  /** Rows sampled (default 1000). */
  sample?: number;
  /** Implied decimal places by column (`--scale CR_LMT=2`). */
  scale?: Record<string, number>;
  /** The code table to explain codes with (default: tables whose name says code, ref, lookup…). */
  codeTable?: string;
  /** Replace the SQL and mapping files if they are there (the contract and adapter.yaml are only ever added to). */
  force?: boolean;
  env?: Env;
  now?: Date;
}

export interface DbScaffoldResult {
  model: ResourceModel;
  plan: ContractPlan;
  /** Files written or changed, relative to the project. */
  written: string[];
  /** What the user should know (guesses to check, settings to make). */
  notes: string[];
}

export { ScaffoldError };

interface ProjectLayout {
  root: string;
  contractFile: string;
  adaptersDir: string;
}

function projectLayout(project: string, env: Env): ProjectLayout {
  const root = resolve(project);
  const gatewayFile = join(root, 'ficus.yaml');
  let contract = 'openapi.yaml';
  let adapters = 'adapters';
  if (existsSync(gatewayFile)) {
    const raw = interpolateEnv(parseYaml(readFileSync(gatewayFile, 'utf8')) ?? {}, env, 'ficus.yaml', []) as { contract?: unknown; adaptersDir?: unknown };
    if (typeof raw.contract === 'string') contract = raw.contract;
    if (typeof raw.adaptersDir === 'string') adapters = raw.adaptersDir;
  } else if (!existsSync(join(root, contract))) {
    throw new ScaffoldError(`${root} is not a Ficus project (no ficus.yaml, no openapi.yaml)`, 'run ficus init there first, or give --project <folder of the project>');
  }
  const contractFile = join(root, contract);
  if (!existsSync(contractFile)) throw new ScaffoldError(`the contract ${relative(process.cwd(), contractFile)} does not exist`, 'create it (ficus init writes an empty one)');
  return { root, contractFile, adaptersDir: join(root, adapters) };
}

/** The connection: the adapter's own, or the one given for a new adapter. */
function connectionOf(opts: DbScaffoldOptions, adapterFile: string, env: Env): { connection: DbConnection; isNew: boolean } {
  const given = opts.driver !== undefined || opts.url !== undefined || opts.file !== undefined;
  if (existsSync(adapterFile)) {
    if (given) throw new ScaffoldError(`${opts.adapter} exists already (${adapterFile}); its connection is used`, 'leave out --driver, --url and --file, or name a new adapter');
    const raw = parseYaml(readFileSync(adapterFile, 'utf8')) as { kind?: unknown; connection?: unknown } | null;
    if (!raw || raw.kind !== 'db') throw new ScaffoldError(`${adapterFile} is not a db adapter (kind: ${String(raw?.kind)})`, 'name an adapter of kind db, or a new one with --driver');
    const errors: ConfigError[] = [];
    const connection = interpolateEnv(raw.connection ?? {}, env, adapterFile, errors);
    if (errors.length > 0) throw new ScaffoldError(`${adapterFile}: ${errors.map((e) => e.problem).join('; ')}`, 'set the variables its connection needs');
    const parsed = dbConnectionSchema.safeParse(connection);
    if (!parsed.success)
      throw new ScaffoldError(`${adapterFile}: connection: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'correct the connection (ficus check says more)');
    return { connection: parsed.data, isNew: false };
  }
  if (!opts.driver)
    throw new ScaffoldError(`there is no adapter ${opts.adapter} yet, and no connection was given`, 'give --driver sqlite --file <db file>, or --driver postgres|mysql|mssql --url <url>');
  // A file given on the command line is where the command runs from, not the project.
  const parsed = dbConnectionSchema.safeParse({ driver: opts.driver, url: opts.url, file: opts.file !== undefined ? resolve(opts.file) : undefined, ...opts.connection });
  if (!parsed.success)
    throw new ScaffoldError(
      `the connection given: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'driver'}: ${i.message}`).join('; ')}`,
      'give --driver sqlite --file <db file>, or --driver postgres|mysql|mssql --url <url>',
    );
  return { connection: parsed.data, isNew: true };
}

function keyOf(table: TableInfo, asked: string[] | undefined): string[] {
  const find = (k: string) => table.columns.find((c) => c.name === k) ?? table.columns.find((c) => c.name.toUpperCase() === k.toUpperCase());
  if (asked && asked.length > 0) {
    return asked.map((k) => {
      const c = find(k);
      if (!c) throw new ScaffoldError(`${table.name} has no column ${k}`, `give one of: ${table.columns.map((x) => x.name).join(', ')}`);
      return c.name;
    });
  }
  if (table.primaryKey.length === 0) throw new ScaffoldError(`${table.name} has no primary key`, 'give --key <column> (or columns, comma-separated) whose values are unique together');
  return table.primaryKey;
}

async function guessAll(
  driver: DbDriver,
  table: TableInfo,
  key: string[],
  opts: DbScaffoldOptions,
): Promise<{ guesses: Map<string, ColumnGuess>; neverBlank: (c: string) => boolean; sampled: number }> {
  const rows = await sampleRows(driver, table, key, opts.sample ?? 1000);
  const scale = new Map(Object.entries(opts.scale ?? {}).map(([k, v]) => [k.toUpperCase(), v]));
  for (const k of scale.keys()) {
    if (!table.columns.some((c) => c.name.toUpperCase() === k))
      throw new ScaffoldError(`--scale names ${k}, which is not a column of ${table.name}`, `use one of: ${table.columns.map((c) => c.name).join(', ')}`);
  }
  const guesses = new Map<string, ColumnGuess>();
  let families: CodeFamily[] | undefined;
  for (const c of table.columns) {
    const values = rows.map((r) => columnValue(r, c.name));
    const isKey = key.includes(c.name);
    let g = guessColumn({ column: c, values, isKey, scale: scale.get(c.name.toUpperCase()) });
    if (maybeCode(g, c, values, isKey)) {
      families ??= await findCodeFamilies(driver, table.name, opts.codeTable);
      g = guessEnum(g, await distinctValues(driver, table, c.name, 50), families) ?? g;
    }
    guesses.set(c.name, g);
  }
  const neverBlank = (col: string) => rows.length > 0 && rows.every((r) => String(columnValue(r, col) ?? '').trim() !== '');
  return { guesses, neverBlank, sampled: rows.length };
}

function write(root: string, file: string, text: string, written: string[]): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  written.push(relative(root, file));
}

export async function scaffoldDb(opts: DbScaffoldOptions): Promise<DbScaffoldResult> {
  const env = opts.env ?? process.env;
  const layout = projectLayout(opts.project, env);
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(opts.adapter)) throw new ScaffoldError(`"${opts.adapter}" is not an adapter name`, 'use letters, digits, - and _, e.g. crm-db');
  const adapterDir = join(layout.adaptersDir, opts.adapter);
  const adapterFile = join(adapterDir, 'adapter.yaml');
  const { connection, isNew } = connectionOf(opts, adapterFile, env);
  // The scaffold's reads may take longer than a request's: the whole table is grouped once per code column.
  const driver = await createDriver({ ...connection, statementTimeoutMs: Math.max(connection.statementTimeoutMs, 120_000), pool: { ...connection.pool, max: 1, min: 0 } }, opts.adapter, layout.root);
  try {
    let table: TableInfo;
    try {
      table = await introspectTable(driver, opts.table);
    } catch (err) {
      if (err instanceof IntrospectionError) throw new ScaffoldError(err.message, err.fix);
      throw new ScaffoldError(
        `cannot read the catalogue of ${driver.where}: ${(err as Error).message.split('\n')[0]}`,
        'check the connection (ficus explore, or the database client) and that the user may read the catalogue',
      );
    }
    const key = keyOf(table, opts.key);
    const { guesses, neverBlank, sampled } = await guessAll(driver, table, key, opts);
    const resource = opts.resource ?? resourceName(table.name);
    if (!/^[A-Z][A-Za-z0-9]*$/.test(resource)) throw new ScaffoldError(`"${resource}" is not a schema name`, 'give --resource in PascalCase, e.g. Customer');
    const model = buildResource({ dialect: driver.dialect, table, key, resource, guesses, neverBlank });
    const when = (opts.now ?? new Date()).toISOString().slice(0, 10);
    const header = `Drafted by ficus scaffold db on ${when} from ${table.name} (${driver.dialect}, ${sampled} rows sampled): every guess says why; check each before serving it.`;

    // Check everything before writing anything.
    const contractText = readFileSync(layout.contractFile, 'utf8');
    const plan = planContract(contractText, model);
    const conflicts = contractConflicts(contractText, model, plan);
    const adapterText = isNew ? undefined : readFileSync(adapterFile, 'utf8');
    if (adapterText !== undefined) {
      const ops = (parseYaml(adapterText) as { operations?: Record<string, unknown> } | null)?.operations ?? {};
      for (const id of [plan.getOperation, plan.listOperation]) if (id in ops) conflicts.push(`operations.${id} in ${relative(layout.root, adapterFile)}`);
    }
    const files = fileNames(model);
    if (!opts.force) for (const f of [files.getSql, files.listSql, files.mapping]) if (existsSync(join(adapterDir, f))) conflicts.push(relative(layout.root, join(adapterDir, f)));
    if (conflicts.length > 0) {
      throw new ScaffoldError(
        `the project has already: ${conflicts.join(', ')}`,
        `choose another --resource (or --adapter), or remove those first${conflicts.some((c) => c.endsWith('.sql') || c.endsWith('.yaml')) ? '; --force replaces the SQL and mapping files' : ''}`,
      );
    }
    const keySchemas = model.key.map((k) => ({ ...guesses.get(k.column.name)!.schema, ...keyBounds(k.column, driver.dialect) }));
    const newContract = addToContract(contractText, model, plan, keySchemas, ` ${header}`);

    const written: string[] = [];
    const notes: string[] = [];
    write(layout.root, join(adapterDir, files.getSql), getSql(driver.dialect, model, plan, header), written);
    write(layout.root, join(adapterDir, files.listSql), listSql(driver.dialect, model, plan, header), written);
    write(layout.root, join(adapterDir, files.mapping), mappingYaml(model, header), written);
    let adapterYaml: string;
    if (isNew) {
      const prefix = envPrefix(opts.adapter);
      let fileSetting: string | undefined;
      let urlSetting: string | undefined;
      if (connection.driver === 'sqlite' && connection.file) {
        const abs = isAbsolute(connection.file) ? connection.file : resolve(connection.file);
        const rel = relative(layout.root, abs);
        fileSetting = rel.startsWith('..') ? abs : rel;
      } else if (connection.url) {
        const u = new URL(connection.url);
        if (u.password) {
          urlSetting = `\${env:${prefix}_URL}`;
          notes.push(`the URL given has a password, which is never written in a file: set ${prefix}_URL to it when the gateway runs`);
        } else urlSetting = `\${env:${prefix}_URL:-${connection.url}}`;
      }
      adapterYaml = newAdapterYaml(opts.adapter, connection, table.name, header, fileSetting, urlSetting);
    } else adapterYaml = adapterText!;
    adapterYaml = addEntries(adapterYaml, ['operations'], bindingEntries(model, plan, files));
    write(layout.root, adapterFile, adapterYaml, written);
    write(layout.root, layout.contractFile, newContract, written);

    for (const [col, g] of guesses) {
      if (g.conversion === 'enum' && g.why.includes('no code table')) notes.push(`${col}: codes with no meaning found: name them in the enum and the mapping`);
      if (g.why.includes('scaffold again with --scale')) notes.push(`${col}: an amount kept whole; if it holds cents, scaffold again with --scale ${col}=2`);
    }
    notes.push(`set ${envPrefix(opts.adapter)}_CURSOR_KEY (16 characters or more) in production: page cursors are signed with it`);
    return { model, plan, written, notes };
  } finally {
    await driver.close();
  }
}
