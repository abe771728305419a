/**
 * Adds schemas to a contract's `components.schemas` with the `yaml` Document API, so that what the
 * file already holds survives: where `components.schemas` is a block map, the new entries are
 * inserted as text at its end (found from the parsed document's source ranges) and every other
 * byte of the file stays as it was; otherwise (no components yet, a flow map, a schema replaced with
 * --force) the document is changed node by node and written again, comments and order kept.
 * Small schemas (only scalars and lists of scalars) are written in flow style, as the sample
 * contract writes its properties: `{ type: string, maxLength: 7 }`, `required: [a, b]`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Document, isMap, isScalar, isSeq, parseDocument, visit, YAMLMap, type Node } from 'yaml';
import { ScaffoldError } from './scaffold-error.ts';

export interface SchemaEntry {
  name: string;
  schema: unknown;
}

export interface ContractFile {
  text: string;
  doc: Document;
  /** `openapi: 3.1.x` (type arrays and null) rather than 3.0 (nullable). */
  openapi31: boolean;
  /** Entries added since it was read. */
  added: SchemaEntry[];
  /** Whether an entry replaced one (then the whole document is written again). */
  replaced: boolean;
}

export function readContract(path: string): ContractFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ScaffoldError(`cannot read the contract ${path}`, 'run in the project folder, or give it with --project <dir>');
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new ScaffoldError(`${path} is not valid YAML: ${doc.errors[0].message}`, 'correct the contract first');
  const version = String(doc.get('openapi') ?? '');
  if (!/^3\./.test(version)) throw new ScaffoldError(`${path} is not an OpenAPI 3 document (openapi: ${version || 'missing'})`, 'give the project whose contract is OpenAPI 3.0 or 3.1');
  return { text, doc, openapi31: !/^3\.0/.test(version), added: [], replaced: false };
}

function small(node: Node): boolean {
  if (isScalar(node)) return true;
  if (isSeq(node)) return node.items.every((i) => isScalar(i));
  if (isMap(node)) return node.items.every((p) => p.value !== null && (isScalar(p.value) || (isSeq(p.value) && p.value.items.every((i) => isScalar(i)))));
  return false;
}

/** A schema as a node, its small maps and lists in flow style. */
function schemaNode(doc: Document, schema: unknown): Node {
  const node = doc.createNode(schema) as Node;
  visit(node, {
    Map(_key, map) {
      if (map !== node && small(map)) map.flow = true;
    },
    Seq(_key, seq) {
      if (seq.items.every((i) => isScalar(i))) seq.flow = true;
    },
  });
  return node;
}

/** Throws when a schema of one of these names is there already (unless `replace`); returns those that are. */
export function checkSchemasFree(contract: ContractFile, names: readonly string[], replace: boolean): string[] {
  const existing = names.filter((n) => contract.doc.hasIn(['components', 'schemas', n]));
  if (existing.length > 0 && !replace)
    throw new ScaffoldError(`the contract already has ${existing.map((n) => `components.schemas.${n}`).join(', ')}`, 'give --force to replace them, or remove them first');
  return existing;
}

/** Sets each schema (refusing to replace one unless `replace`); returns the names that were already there. */
export function addSchemas(contract: ContractFile, entries: readonly SchemaEntry[], replace: boolean): string[] {
  const { doc } = contract;
  const existing = checkSchemasFree(
    contract,
    entries.map((e) => e.name),
    replace,
  );
  if (existing.length > 0) contract.replaced = true;
  if (!doc.has('components')) doc.set('components', new YAMLMap());
  if (!doc.hasIn(['components', 'schemas'])) doc.setIn(['components', 'schemas'], new YAMLMap());
  for (const e of entries) doc.setIn(['components', 'schemas', e.name], schemaNode(doc, e.schema));
  contract.added.push(...entries);
  return existing;
}

/** The new entries as text at the end of the block map `components.schemas` of the file as read; undefined where that cannot be done. */
function inserted(contract: ContractFile): string | undefined {
  if (contract.replaced || contract.added.length === 0) return undefined;
  const original = parseDocument(contract.text);
  const schemas = original.getIn(['components', 'schemas'], true);
  if (!isMap(schemas) || schemas.flow || schemas.items.length === 0 || !schemas.range) return undefined;
  const firstKey = schemas.items[0].key as Node | null;
  if (!firstKey?.range) return undefined;
  const { text } = contract;
  const lineStart = text.lastIndexOf('\n', firstKey.range[0] - 1) + 1;
  const indent = firstKey.range[0] - lineStart;
  if (text.slice(lineStart, firstKey.range[0]).trim() !== '') return undefined;
  const fresh = new Document({});
  for (const e of contract.added) fresh.set(e.name, schemaNode(fresh, e.schema));
  const block = fresh
    .toString({ lineWidth: 0, flowCollectionPadding: true })
    .replace(/\[ ([^[\]]*?) \]/g, '[$1]')
    .split('\n')
    .map((l) => (l === '' ? l : ' '.repeat(indent) + l))
    .join('\n');
  const at = schemas.range[1];
  const before = text.slice(0, at);
  return `${before}${before.endsWith('\n') ? '' : '\n'}${block}${text.slice(at)}`;
}

export function writeContract(path: string, contract: ContractFile): void {
  writeFileSync(path, inserted(contract) ?? contract.doc.toString({ lineWidth: 0 }));
}
