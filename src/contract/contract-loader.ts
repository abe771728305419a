/**
 * The start-up path of a contract: the root file read (YAML or JSON), its version found (3.0 or
 * 3.1), every file it refers to by relative `$ref` bundled into one document by
 * @apidevtools/json-schema-ref-parser (external references become internal ones; recursive ones
 * stay references; discriminator mappings that name other files follow them), the result checked against the OpenAPI schema of its version, and each mistake
 * placed in the file and line where it is written.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { $RefParser, getJsonSchemaRefParserDefaultOptions, type FileInfo, type Plugin } from '@apidevtools/json-schema-ref-parser';
import { LineCounter, parseDocument } from 'yaml';
import { Contract, displayPath, versionOf } from './contract.ts';
import { checkDocument } from './document-check.ts';
import { componentsFor, diskPath, DiscriminatorMappings, type MissingTarget } from './discriminator-mapping.ts';
import { pointerTokens, SourceLines } from './source-lines.ts';
import type { OpenApiVersion } from './schema-dialect.ts';

export interface ContractMistake {
  file: string;
  /** JSON pointer in `file` ('' for the whole file). */
  pointer: string;
  line?: number;
  problem: string;
  fix: string;
}

/** A contract that cannot be used, with every mistake found. */
export class ContractError extends Error {
  constructor(readonly mistakes: ContractMistake[]) {
    super(mistakes.map((m) => `${m.file}${m.line !== undefined ? `:${m.line}` : ''}: ${m.pointer === '' ? '(top level)' : `#${m.pointer}`}: ${m.problem}\n  fix: ${m.fix}`).join('\n'));
    this.name = 'ContractError';
  }
}

function readRoot(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ContractError([{ file, pointer: '', problem: `cannot be read: ${(err as Error).message}`, fix: 'point contract at an existing OpenAPI file' }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new ContractError([{ file, pointer: '', line: e.linePos?.[0].line, problem: `not valid YAML or JSON: ${e.message.split('\n')[0]}`, fix: 'correct the syntax at that line' }]);
  }
  const value = doc.toJS() as unknown;
  if (!value || typeof value !== 'object' || Array.isArray(value) || (!('openapi' in value) && !('swagger' in value))) {
    throw new ContractError([{ file, pointer: '', line: 1, problem: 'not an OpenAPI document (no top-level "openapi" key)', fix: 'point contract at an OpenAPI 3.0 or 3.1 document' }]);
  }
  return value as Record<string, unknown>;
}

function fixFor(version: OpenApiVersion): string {
  return `correct the document there (OpenAPI ${version} rules: https://spec.openapis.org/oas/v${version === '3.0' ? '3.0.3' : '3.1.0'})`;
}

/** Whether `node` holds a `$ref` anywhere. */
function hasRef(node: unknown): boolean {
  if (!node || typeof node !== 'object') return false;
  if (typeof (node as { $ref?: unknown }).$ref === 'string') return true;
  return Object.values(node).some(hasRef);
}

/** Parsers that parse as the ref parser's own do, and note each file's discriminators first. */
function notingParsers(mappings: DiscriminatorMappings): { json: Plugin; yaml: Plugin } {
  const defaults = getJsonSchemaRefParserDefaultOptions().parse;
  const noting = (plugin: Plugin): Plugin => ({
    ...plugin,
    parse: async (f: FileInfo) => {
      const value = await (plugin.parse as (f: FileInfo) => unknown)(f);
      mappings.noteFile(diskPath(f.url), value);
      return value;
    },
  });
  return { json: noting(defaults.json as Plugin), yaml: noting(defaults.yaml as Plugin) };
}

async function bundleOnce(file: string, root: Record<string, unknown>): Promise<{ bundled: Record<string, unknown>; mappings: DiscriminatorMappings }> {
  const mappings = new DiscriminatorMappings();
  mappings.noteFile(resolvePath(file), root);
  try {
    const bundled = (await $RefParser.bundle(file, root, {
      resolve: { http: false, external: true },
      parse: notingParsers(mappings),
      dereference: { circular: true },
    })) as Record<string, unknown>;
    return { bundled, mappings };
  } catch (err) {
    const e = err as Error & { source?: string; path?: string; errors?: (Error & { source?: string })[] };
    const all = e.errors && e.errors.length > 0 ? e.errors : [e];
    throw new ContractError(
      all.map((x) => ({
        file: (x as { source?: string }).source ?? file,
        pointer: '',
        problem: `a $ref cannot be resolved: ${x.message}`,
        fix: 'make each $ref name a file (relative to the file it is in) and a JSON pointer that exist; references over HTTP are not followed',
      })),
    );
  }
}

/** A discriminator mapping value that names no schema, placed where it is written. */
function mappingMistake(mappings: DiscriminatorMappings, target: MissingTarget, rootFile: string): ContractMistake {
  const owner = mappings.ownerOf(target);
  const file = owner?.file ?? rootFile;
  const pointer = owner?.pointer ?? '';
  return {
    file,
    pointer,
    line: new SourceLines().lineOf(file, pointerTokens(pointer)),
    problem: `discriminator mapping value "${owner?.value ?? target.file}" names no schema (${existsSync(target.file) ? `nothing at #${target.pointer} in ${displayPath(target.file)}` : `${displayPath(target.file)} does not exist`})`,
    fix: 'make the value a schema name of components.schemas, or a reference (relative to the file it is in) to a schema that exists',
  };
}

/**
 * The document with every file it refers to bundled in. Top-level extensions (`x-topics`, say)
 * are left as written: they are for other tools, and may refer to files (Markdown) that a
 * published contract does not ship. `discriminator.mapping` references into other files are
 * rewritten to where the bundled document holds their schemas (discriminator-mapping.ts); a schema
 * that only a mapping names is bundled into `components.schemas` (a second pass).
 */
async function bundle(file: string, root: Record<string, unknown>): Promise<Record<string, unknown>> {
  const extensions: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(root)) {
    if (k.startsWith('x-') && hasRef(v)) extensions[k] = v;
    else rest[k] = v;
  }
  const rootFile = resolvePath(file);
  let { bundled, mappings } = await bundleOnce(file, structuredClone(rest));
  let missing = mappings.rewrite(bundled, rootFile);
  const nowhere = missing.filter((m) => m.nowhere);
  if (nowhere.length > 0) throw new ContractError(nowhere.map((m) => mappingMistake(mappings, m, rootFile)));
  if (missing.length > 0) {
    const components = (rest.components ?? {}) as Record<string, unknown>;
    const added = componentsFor(missing, rootFile, rest);
    const again = { ...rest, components: { ...components, schemas: { ...((components.schemas ?? {}) as Record<string, unknown>), ...added } } };
    ({ bundled, mappings } = await bundleOnce(file, structuredClone(again)));
    missing = mappings.rewrite(bundled, rootFile);
    if (missing.length > 0) throw new ContractError(missing.map((m) => mappingMistake(mappings, m, rootFile)));
  }
  return { ...bundled, ...extensions };
}

export async function openContract(file: string): Promise<Contract> {
  const root = readRoot(file);
  let version: OpenApiVersion;
  try {
    version = versionOf(root, file);
  } catch (err) {
    throw new ContractError([
      {
        file,
        pointer: '/openapi',
        line: new SourceLines().lineOf(file, ['openapi']),
        problem: (err as Error).message.replace(`${file}: `, ''),
        fix: 'give "openapi: 3.0.3" or "openapi: 3.1.0" (the version the document follows)',
      },
    ]);
  }
  const document = await bundle(file, root);
  const lines = new SourceLines();
  const mistakes = checkDocument(document, version).map((m): ContractMistake => {
    const place = lines.place(file, m.pointer);
    return { file: place.file, pointer: place.pointer, line: place.line, problem: `${m.message} (OpenAPI ${version} schema)`, fix: fixFor(version) };
  });
  if (mistakes.length > 0) throw new ContractError(mistakes);
  let contract: Contract;
  try {
    contract = new Contract(document, file, { version });
  } catch (err) {
    throw new ContractError([{ file, pointer: '', problem: (err as Error).message.replace(`${file}: `, ''), fix: fixFor(version) }]);
  }
  for (const n of contract.dialectNotices) {
    const place = lines.place(file, n.pointer);
    contract.notices.push(`${displayPath(place.file)}${place.line !== undefined ? `:${place.line}` : ''}: #${place.pointer}: ${n.message}`);
  }
  return contract;
}
