/**
 * `ficus scaffold copybook`, the work: the copybook → a layout file beside it (copybook-layout.ts),
 * read back as the sftp kind reads it, then each record type's JSON Schema (record-schema.ts) into
 * the contract's components.schemas (contract-schemas.ts).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { LayoutFileError, loadRecordFileSpec, type RecordFileSpec } from '../records/layout-file.ts';
import { addSchemas, checkSchemasFree, readContract, writeContract } from './contract-schemas.ts';
import { scaffoldLayout, type WhenRule } from './copybook-layout.ts';
import { ScaffoldError } from './scaffold-error.ts';
import { recordSchema, schemaName, type JsonSchema } from './record-schema.ts';

export interface CopybookScaffoldOptions {
  /** The copybook: relative to the current folder, else to the project. */
  copybook: string;
  /** The project folder (ficus.yaml, the contract); default the current folder. */
  project?: string;
  record?: string;
  when?: readonly WhenRule[];
  /** Where the layout file goes; default beside the copybook, `<name>.yaml`. */
  layout?: string;
  /** The schema name when one record type is scaffolded; default from its 01 level. */
  schema?: string;
  /** Replace an existing layout file and schemas of the same names. */
  force?: boolean;
  cwd?: string;
}

export interface CopybookScaffoldResult {
  layoutFile: string;
  contractFile: string;
  /** Schema name → record type (the layout's key). */
  schemas: { name: string; type: string; schema: JsonSchema }[];
  guesses: string[];
  spec: RecordFileSpec;
}

/** The contract file of a project: `contract:` of its ficus.yaml, else openapi.yaml. */
export function contractPath(project: string): string {
  const config = join(project, 'ficus.yaml');
  if (existsSync(config)) {
    try {
      const raw = parseYaml(readFileSync(config, 'utf8')) as { contract?: unknown } | null;
      if (raw && typeof raw.contract === 'string' && !raw.contract.includes('${')) return resolve(project, raw.contract);
    } catch {
      // ficus check reports a broken ficus.yaml; the default contract is used here
    }
  }
  return join(project, 'openapi.yaml');
}

export function scaffoldCopybook(opts: CopybookScaffoldOptions): CopybookScaffoldResult {
  const cwd = opts.cwd ?? process.cwd();
  const project = resolve(cwd, opts.project ?? '.');
  const candidates = isAbsolute(opts.copybook) ? [opts.copybook] : [resolve(cwd, opts.copybook), resolve(project, opts.copybook)];
  const copybook = candidates.find((c) => existsSync(c));
  if (!copybook) throw new ScaffoldError(`no copybook ${opts.copybook} (looked at ${[...new Set(candidates)].join(', ')})`, 'give the path of a .cpy file');
  const name = basename(copybook, extname(copybook));
  const layoutFile = opts.layout ? resolve(cwd, opts.layout) : join(dirname(copybook), `${name}.yaml`);
  if (existsSync(layoutFile) && !opts.force) throw new ScaffoldError(`${relative(cwd, layoutFile)} exists`, 'give --force to write it again, or --layout <file> to write elsewhere');
  const contractFile = contractPath(project);
  const contract = readContract(contractFile);

  const scaffolded = scaffoldLayout(readFileSync(copybook, 'latin1'), {
    copybook: relative(dirname(layoutFile), copybook) || basename(copybook),
    name,
    record: opts.record,
    when: opts.when,
    copyDirs: [dirname(copybook)],
  });
  if (opts.schema && scaffolded.types.length > 1)
    throw new ScaffoldError(`--schema names one schema, and ${name} has ${scaffolded.types.length} record types`, 'add --record <name>, or leave --schema out');
  const single = (t: (typeof scaffolded.types)[number]) => t.layout.name === name;
  const names = scaffolded.types.map((t) => opts.schema ?? schemaName(single(t) ? name : t.label));
  checkSchemasFree(contract, names, opts.force ?? false);
  writeFileSync(layoutFile, scaffolded.text);
  // Read back as the sftp kind and `ficus layout` read it: a layout that does not load is not written.
  let spec: RecordFileSpec;
  try {
    spec = loadRecordFileSpec(layoutFile);
  } catch (err) {
    rmSync(layoutFile, { force: true });
    if (err instanceof LayoutFileError) throw new ScaffoldError(`the scaffolded layout does not load: ${err.message}`, 'correct the copybook or the --when rules');
    throw err;
  }
  const source = basename(copybook);
  const schemas = scaffolded.types.map((t, i) => {
    const type = spec.types.find((x) => x.name === t.key)!;
    return { name: names[i], type: t.key, schema: recordSchema(type.codec.layout, { openapi31: contract.openapi31 }, `${single(t) ? 'the record' : t.label} of ${source}`) };
  });
  addSchemas(contract, schemas, opts.force ?? false);
  writeContract(contractFile, contract);
  return { layoutFile, contractFile, schemas, guesses: scaffolded.guesses, spec };
}
