/**
 * What the data says: a sample of the table's rows (the first by key), the distinct values of a
 * column over the whole table (at most a few dozen: more and it is not a code), and the code tables
 * of the database (a family, a code and its meaning, as the sample CRM's CODETBL: CUSTSTAT / A /
 * ACTIVE), which explain code columns.
 */
import type { DialectName } from '../kinds/db/dialects.ts';
import type { DbDriver } from '../kinds/db/drivers/driver.ts';
import { columnValue, type Row } from '../kinds/db/row-mapping.ts';
import { introspectTable, listTables, runQuery, type TableInfo } from './db-introspect.ts';

/** An identifier as the engine wants it written: bare when it can be, quoted otherwise. */
export function quoteIdent(dialect: DialectName, name: string): string {
  const bare = dialect === 'postgres' ? /^[a-z_][a-z0-9_]*$/.test(name) : /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
  if (bare) return name;
  if (dialect === 'mysql') return `\`${name.replace(/`/g, '``')}\``;
  if (dialect === 'mssql') return `[${name.replace(/]/g, ']]')}]`;
  return `"${name.replace(/"/g, '""')}"`;
}

/** How SQL names a column of the table. */
export function columnSql(dialect: DialectName, table: TableInfo, column: string): string {
  const c = table.columns.find((x) => x.name === column);
  return c?.sql ?? quoteIdent(dialect, column);
}

export function qualifiedTable(dialect: DialectName, table: TableInfo): string {
  const name = table.sql ?? quoteIdent(dialect, table.name);
  return table.schema ? `${quoteIdent(dialect, table.schema)}.${name}` : name;
}

/** `SELECT … ORDER BY … ` cut to `n` rows in the engine's words. */
function firstRows(dialect: DialectName, select: string, from: string, orderBy: string, n: number): string {
  const order = orderBy ? ` ORDER BY ${orderBy}` : '';
  if (dialect === 'mssql') return `SELECT TOP (${n}) ${select} FROM ${from}${order}`;
  return `SELECT ${select} FROM ${from}${order} LIMIT ${n}`;
}

/** Up to `n` rows of the table, the first by its key. */
export async function sampleRows(driver: DbDriver, table: TableInfo, key: readonly string[], n: number): Promise<Row[]> {
  const order = key.map((k) => columnSql(driver.dialect, table, k)).join(', ');
  return runQuery(driver, firstRows(driver.dialect, '*', qualifiedTable(driver.dialect, table), order, n));
}

export interface DistinctValues {
  /** Each value (trimmed text) with how many rows hold it, most frequent first. */
  values: { value: string; count: number }[];
  /** More distinct values than asked for: not a code. */
  more: boolean;
}

/** The column's distinct values over the whole table, at most `max` of them. */
export async function distinctValues(driver: DbDriver, table: TableInfo, column: string, max: number): Promise<DistinctValues> {
  const col = columnSql(driver.dialect, table, column);
  const sql = firstRows(driver.dialect, `${col} AS v, COUNT(*) AS n`, `${qualifiedTable(driver.dialect, table)} GROUP BY ${col}`, 'COUNT(*) DESC', max + 1);
  const rows = await runQuery(driver, sql);
  const merged = new Map<string, number>();
  for (const r of rows) {
    const v = columnValue(r, 'v');
    const key = v === null || v === undefined ? '' : String(v).trim();
    merged.set(key, (merged.get(key) ?? 0) + Number(columnValue(r, 'n')));
  }
  return { values: [...merged].map(([value, count]) => ({ value, count })), more: rows.length > max };
}

/** One family of codes of a code table: code → meaning (both trimmed). */
export interface CodeFamily {
  table: string;
  /** The family's name (CUSTSTAT), or '' for a table of one family. */
  family: string;
  /** The column the family is in (CD_TYP), when there are families. */
  familyColumn?: string;
  codes: Map<string, string>;
}

const CODE_TABLE_NAME = /(CODE|CDE|CD|LKUP|LOOKUP|REF|DOMAIN|DOM|TBL|TYPES?)/i;
const MAX_CODE_ROWS = 5_000;

/**
 * The code tables of the database: a table whose name says so (CODETBL, STATUS_CODES, REF_…),
 * with a text key of one column (code) or two (family, code) and a text column besides (the meaning).
 * `only`: just this table (`--code-table`).
 */
export async function findCodeFamilies(driver: DbDriver, exclude: string, only?: string): Promise<CodeFamily[]> {
  const candidates = only ? [only] : (await listTables(driver)).filter((t) => t.toUpperCase() !== exclude.toUpperCase() && CODE_TABLE_NAME.test(t)).slice(0, 20);
  const out: CodeFamily[] = [];
  for (const name of candidates) {
    const table = await introspectTable(driver, name);
    const isText = (c: string) => /char|text|clob|string/.test(table.columns.find((x) => x.name === c)?.type ?? '');
    const key = table.primaryKey;
    if (key.length < 1 || key.length > 2 || !key.every(isText)) continue;
    const meaning = table.columns.find((c) => !key.includes(c.name) && /char|text|clob|string/.test(c.type));
    if (!meaning) continue;
    const cols = [...key, meaning.name].map((c) => columnSql(driver.dialect, table, c)).join(', ');
    const rows = await runQuery(driver, firstRows(driver.dialect, cols, qualifiedTable(driver.dialect, table), '', MAX_CODE_ROWS));
    const families = new Map<string, Map<string, string>>();
    for (const r of rows) {
      const family = key.length === 2 ? String(columnValue(r, key[0]) ?? '').trim() : '';
      const code = String(columnValue(r, key[key.length - 1]) ?? '').trim();
      const desc = String(columnValue(r, meaning.name) ?? '').trim();
      if (!families.has(family)) families.set(family, new Map());
      families.get(family)!.set(code, desc);
    }
    // In code order, whatever order the engine gave them in.
    for (const [family, codes] of families) {
      const sorted = new Map([...codes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      out.push({ table: table.name, family, familyColumn: key.length === 2 ? key[0] : undefined, codes: sorted });
    }
  }
  return out;
}
