/**
 * The resource a table becomes: its fields in column order, each with its JSON Schema, its row
 * mapping and why it was guessed so. Beyond one column a field: the key is `id`; a YYYYMMDD date
 * and an HHMMSS time of the same stem (`LAST_UPD_DT`, `LAST_UPD_TM`) are one instant; numbered
 * columns (`ADDR_LINE1..3`) are one array of their non-blank lines; the parts of an address (city,
 * postal code, country, state) go with its lines into a nested object.
 */
import type { DialectName } from '../kinds/db/dialects.ts';
import type { ColumnInfo, TableInfo } from './db-introspect.ts';
import { camelCase, collectionSegment, fieldName, tableStem, wordsOf } from './db-names.ts';
import { quoteIdent } from './db-sample.ts';
import type { ColumnGuess, JsonSchema } from './db-types.ts';

export interface FieldNode {
  name: string;
  /** A leaf: its schema, its mapping spec, why. */
  schema?: JsonSchema;
  mapping?: Record<string, unknown>;
  why?: string;
  /** A nested object. */
  children?: FieldNode[];
}

export interface SelectColumn {
  column: ColumnInfo;
  /** How the SQL names it: the column, or `"Odd Name" AS odd_name`. */
  expr: string;
  /** The name in the rows (the mapping's and the page's column). */
  ref: string;
}

export interface ResourceModel {
  /** `Customer` */
  name: string;
  /** `customers` (path segment), `Customers` (in operation ids). */
  collection: string;
  table: TableInfo;
  /** The key columns (the get's path parameters, the page's order). */
  key: SelectColumn[];
  /** The path parameter of each key column: `customerId`. */
  keyParams: string[];
  select: SelectColumn[];
  fields: FieldNode[];
}

const ADDRESS_PARTS = new Set(['city', 'town', 'postalCode', 'postcode', 'zip', 'zipCode', 'country', 'countryCode', 'state', 'region', 'county', 'province']);

function selectColumn(dialect: DialectName, c: ColumnInfo): SelectColumn {
  const quoted = c.sql ?? quoteIdent(dialect, c.name);
  if (quoted === c.name) return { column: c, expr: c.name, ref: c.name };
  const alias = c.name
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^([^a-z_])/, '_$1');
  return { column: c, expr: `${quoted} AS ${alias}`, ref: alias };
}

function leafMapping(g: ColumnGuess, ref: string): Record<string, unknown> {
  const m: Record<string, unknown> = { column: ref };
  const as = g.conversion === 'hhmmss' ? 'integer' : g.conversion;
  if (as !== 'text') m.as = as;
  if (g.scale !== undefined) m.scale = g.scale;
  if (g.values) m.values = g.values;
  if (g.blankAsNull) m.blankAsNull = true;
  if (g.zeroAsNull) m.zeroAsNull = true;
  return m;
}

const dateStem = (name: string) => name.replace(/_?(DT|DTE|DATE|DAT)$/i, '');
const timeStem = (name: string) => name.replace(/_?(TM|TIME|TIM)$/i, '');

export interface BuildInput {
  dialect: DialectName;
  table: TableInfo;
  key: string[];
  resource: string;
  guesses: Map<string, ColumnGuess>;
  /** Per column: true when its first sampled value is never blank (for lines' minItems). */
  neverBlank: (column: string) => boolean;
}

export function buildResource(input: BuildInput): ResourceModel {
  const { dialect, table, guesses } = input;
  const stem = tableStem(table.name);
  const select = table.columns.map((c) => selectColumn(dialect, c));
  const byName = new Map(select.map((s) => [s.column.name, s]));
  const key = input.key.map((k) => byName.get(k)!);
  const resourceWords = input.resource.replace(/([a-z0-9])([A-Z])/g, '$1 $2').split(' ');
  const keyParams = key.map((k, i) => (key.length === 1 ? camelCase([...resourceWords, 'id']) : fieldName(k.column.name, 'plain', stem) || `key${i + 1}`));

  /** Fields by the position of their first column. */
  const placed: { at: number; node: FieldNode; address?: boolean }[] = [];
  const used = new Set<string>();
  const indexOf = (col: string) => table.columns.findIndex((c) => c.name === col);

  // The key.
  if (key.length === 1) {
    const g = guesses.get(key[0].column.name)!;
    placed.push({
      at: indexOf(key[0].column.name),
      node: {
        name: 'id',
        schema: g.schema,
        mapping: leafMapping(g, key[0].ref),
        why: `${g.why}: the key (${table.primaryKey.join(',') === input.key.join(',') ? 'the primary key' : 'given with --key'})`,
      },
    });
    used.add(key[0].column.name);
  }

  // Date + time pairs: one instant.
  for (const [col, g] of guesses) {
    if (used.has(col) || g.conversion !== 'yyyymmdd') continue;
    const t = [...guesses.values()].find((x) => x.conversion === 'hhmmss' && !used.has(x.column) && timeStem(x.column).toUpperCase() === dateStem(col).toUpperCase());
    if (!t) continue;
    const nullable = g.nullable || t.nullable;
    const mapping: Record<string, unknown> = { columns: [byName.get(col)!.ref, byName.get(t.column)!.ref], as: 'timestamp' };
    if (g.zeroAsNull) mapping.zeroAsNull = true;
    placed.push({
      at: indexOf(col),
      node: {
        name: fieldName(dateStem(col), 'instant', stem),
        schema: { type: nullable ? ['string', 'null'] : 'string', format: 'date-time' },
        mapping,
        why: `${col} + ${t.column}: a YYYYMMDD date and an HHMMSS time of the same stem: one instant, read as UTC (check: the legacy may keep local time)`,
      },
    });
    used.add(col).add(t.column);
  }

  // Numbered columns: one array of lines.
  const groups = new Map<string, string[]>();
  for (const c of table.columns) {
    const m = /^(.*?)_?(\d+)$/.exec(c.name);
    if (!m || used.has(c.name) || guesses.get(c.name)?.conversion !== 'text') continue;
    groups.set(m[1].toUpperCase(), [...(groups.get(m[1].toUpperCase()) ?? []), c.name]);
  }
  let addressAt: number | undefined;
  for (const [prefix, cols] of groups) {
    if (cols.length < 2) continue;
    let words = wordsOf(prefix);
    if (words[words.length - 1] === 'line' && words.length > 1) words = words.slice(0, -1);
    const parent = camelCase(words);
    const node: FieldNode = {
      name: 'lines',
      schema: { type: 'array', ...(input.neverBlank(cols[0]) ? { minItems: 1 } : {}), maxItems: cols.length, items: { type: 'string' } },
      mapping: { columns: cols.map((c) => byName.get(c)!.ref), as: 'lines' },
      why: `${cols.join(', ')}: numbered lines of one thing: an array of the lines that are not blank${input.neverBlank(cols[0]) ? ` (${cols[0]} is never blank in the sample: minItems 1)` : ''}`,
    };
    for (const c of cols) used.add(c);
    if (parent === 'address' && addressAt === undefined) {
      addressAt = indexOf(cols[0]);
      placed.push({ at: addressAt, node: { name: 'address', children: [node] }, address: true });
    } else {
      placed.push({ at: indexOf(cols[0]), node: { ...node, name: camelCase([...words, 'lines']) } });
    }
  }

  // Every other column.
  const address = placed.find((p) => p.address)?.node;
  for (const c of table.columns) {
    if (used.has(c.name)) continue;
    const g = guesses.get(c.name)!;
    const ref = byName.get(c.name)!.ref;
    const name = fieldName(c.name, g.conversion === 'hhmmss' ? 'plain' : g.role, stem);
    const why = g.conversion === 'hhmmss' ? `${g.why}; no date column of the same stem: kept as a number` : g.why;
    const leaf: FieldNode = { name, schema: g.schema, mapping: leafMapping(g, ref), why };
    const words = wordsOf(c.name);
    if (address && (ADDRESS_PARTS.has(name) || (words[0] === 'address' && words.length > 1))) {
      const inner = words[0] === 'address' && words.length > 1 ? camelCase(words.slice(1)) : name;
      address.children!.push({ ...leaf, name: inner });
    } else {
      placed.push({ at: indexOf(c.name), node: leaf });
    }
  }

  const fields = placed.sort((a, b) => a.at - b.at).map((p) => p.node);
  dedupe(fields);
  return { name: input.resource, collection: collectionSegment(input.resource), table, key, keyParams, select, fields };
}

/** Two fields of one name: the second and later get a number. */
function dedupe(nodes: FieldNode[]): void {
  const seen = new Map<string, number>();
  for (const n of nodes) {
    const k = seen.get(n.name) ?? 0;
    seen.set(n.name, k + 1);
    if (k > 0) n.name = `${n.name}${k + 1}`;
    if (n.children) dedupe(n.children);
  }
}

/** The JSON Schema of the resource (nested objects inline). */
export function resourceSchema(fields: readonly FieldNode[]): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    required: fields.map((f) => f.name),
    properties: Object.fromEntries(fields.map((f) => [f.name, f.children ? resourceSchema(f.children) : f.schema])),
  };
}

/** The mapping spec of the resource (src/kinds/db/row-mapping.ts). */
export function resourceMapping(fields: readonly FieldNode[]): Record<string, unknown> {
  return Object.fromEntries(fields.map((f) => [f.name, f.children ? resourceMapping(f.children) : f.mapping]));
}
