/**
 * What a legacy database says about one table, read from each engine's own catalogue: SQLite's
 * `pragma_table_info`, PostgreSQL's and MySQL/MariaDB's `information_schema` (the current schema or
 * database), SQL Server's `INFORMATION_SCHEMA` views (the default schema, or the one given as
 * `schema.TABLE`). Columns in their order with their declared types, and the primary key.
 */
import { DIALECTS, type DialectName } from '../kinds/db/dialects.ts';
import type { DbDriver } from '../kinds/db/drivers/driver.ts';
import type { SqlValue } from '../kinds/db/request-params.ts';
import { columnValue, type Row } from '../kinds/db/row-mapping.ts';
import { parseNamed } from '../kinds/db/sql-text.ts';

export interface ColumnInfo {
  /** As the catalogue spells it. */
  name: string;
  /** The declared type, lower case, without its size: `char`, `integer`, `numeric`, `character varying`. */
  type: string;
  /** Characters of a CHAR/VARCHAR column. */
  length?: number;
  precision?: number;
  scale?: number;
  nullable: boolean;
  /** How SQL names it, where not by `name` quoted as needed: PostgreSQL's folded names, written as the DDL did (`CUST_NO`). */
  sql?: string;
}

export interface TableInfo {
  /** As the catalogue spells it (PostgreSQL's folded names in upper case, as the DDL wrote them). */
  name: string;
  /** How SQL names it, where not by `name` quoted as needed. */
  sql?: string;
  /** The schema, where one was given or the engine has them. */
  schema?: string;
  columns: ColumnInfo[];
  primaryKey: string[];
}

export class IntrospectionError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = 'IntrospectionError';
  }
}

/** Runs `sql` (with :named parameters) through the driver, in its own placeholders. */
export async function runQuery(driver: DbDriver, sql: string, params: Record<string, SqlValue> = {}): Promise<Row[]> {
  const compiled = DIALECTS[driver.dialect].compile(parseNamed(sql));
  const values = compiled.order.map((n) => params[n] ?? null);
  return driver.query(compiled.text, values, { signal: AbortSignal.timeout(120_000) });
}

const text = (row: Row, c: string): string => String(columnValue(row, c) ?? '');
const num = (row: Row, c: string): number | undefined => {
  const v = columnValue(row, c);
  if (v === null || v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};

/** `CHAR(40)` → char, 40; `NUMERIC(9,2)` → numeric, 9, 2; `varchar` → varchar. */
export function parseDeclaredType(declared: string): { type: string; size?: number; scale?: number } {
  const m = /^\s*([A-Za-z][A-Za-z0-9 _]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$/.exec(declared);
  if (!m) return { type: declared.trim().toLowerCase() };
  return { type: m[1].toLowerCase(), size: m[2] ? Number(m[2]) : undefined, scale: m[3] ? Number(m[3]) : undefined };
}

/** The same catalogue queries on PostgreSQL and MySQL/MariaDB (information_schema), with each one's current schema. */
const INFORMATION_SCHEMA = {
  columns: `SELECT table_name AS tbl, column_name AS col_name, data_type AS data_type, character_maximum_length AS char_len,
     numeric_precision AS num_prec, numeric_scale AS num_scale, is_nullable AS nullable
FROM information_schema.columns
 WHERE table_schema = {schema} AND lower(table_name) = lower(:table)
 ORDER BY table_name, ordinal_position`,
  primaryKey: `SELECT k.column_name AS col_name
FROM information_schema.table_constraints t
JOIN information_schema.key_column_usage k
  ON k.constraint_name = t.constraint_name AND k.table_schema = t.table_schema AND k.table_name = t.table_name
 WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = {schema} AND t.table_name = :table
 ORDER BY k.ordinal_position`,
  tables: `SELECT table_name AS tbl FROM information_schema.tables WHERE table_schema = {schema} AND table_type = 'BASE TABLE' ORDER BY table_name`,
};

const CATALOGUE: Record<Exclude<DialectName, 'sqlite'>, { schema: string; columns: string; primaryKey: string; tables: string }> = {
  postgres: { schema: 'current_schema()', ...INFORMATION_SCHEMA },
  mysql: { schema: 'DATABASE()', ...INFORMATION_SCHEMA },
  mssql: {
    schema: 'SCHEMA_NAME()',
    columns: `SELECT TABLE_NAME AS tbl, COLUMN_NAME AS col_name, DATA_TYPE AS data_type, CHARACTER_MAXIMUM_LENGTH AS char_len,
       NUMERIC_PRECISION AS num_prec, NUMERIC_SCALE AS num_scale, IS_NULLABLE AS nullable
  FROM INFORMATION_SCHEMA.COLUMNS
 WHERE TABLE_SCHEMA = {schema} AND UPPER(TABLE_NAME) = UPPER(:table)
 ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    primaryKey: `SELECT k.COLUMN_NAME AS col_name
  FROM INFORMATION_SCHEMA.TABLE_CONSTRAINTS t
  JOIN INFORMATION_SCHEMA.KEY_COLUMN_USAGE k
    ON k.CONSTRAINT_NAME = t.CONSTRAINT_NAME AND k.TABLE_SCHEMA = t.TABLE_SCHEMA AND k.TABLE_NAME = t.TABLE_NAME
 WHERE t.CONSTRAINT_TYPE = 'PRIMARY KEY' AND t.TABLE_SCHEMA = {schema} AND t.TABLE_NAME = :table
 ORDER BY k.ORDINAL_POSITION`,
    tables: `SELECT TABLE_NAME AS tbl FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = {schema} AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`,
  },
};

function splitTable(table: string): { schema?: string; name: string } {
  const dot = table.lastIndexOf('.');
  return dot > 0 ? { schema: table.slice(0, dot), name: table.slice(dot + 1) } : { name: table };
}

function notFound(table: string, where: string, tables: string[]): IntrospectionError {
  return new IntrospectionError(
    `there is no table ${table} in ${where}`,
    tables.length > 0 ? `give one of its tables: ${tables.slice(0, 30).join(', ')}${tables.length > 30 ? ', …' : ''}` : 'check the connection: the database has no tables',
  );
}

/** The tables of the database (of the current schema), for messages and to find code tables. */
export async function listTables(driver: DbDriver, schema?: string): Promise<string[]> {
  if (driver.dialect === 'sqlite') {
    const rows = await runQuery(driver, "SELECT name AS tbl FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
    return rows.map((r) => text(r, 'tbl'));
  }
  const c = CATALOGUE[driver.dialect];
  const rows = await runQuery(driver, c.tables.replace('{schema}', schema !== undefined ? ':schema' : c.schema), { schema: schema ?? null });
  return rows.map((r) => text(r, 'tbl'));
}

/** The table's columns and primary key, from the engine's catalogue. */
export async function introspectTable(driver: DbDriver, table: string): Promise<TableInfo> {
  const { schema, name } = splitTable(table);
  if (driver.dialect === 'sqlite') {
    const tables = await listTables(driver);
    const actual = tables.find((t) => t === name) ?? tables.find((t) => t.toUpperCase() === name.toUpperCase());
    if (!actual) throw notFound(table, driver.where, tables);
    const rows = await runQuery(driver, 'SELECT name AS col_name, type AS col_type, "notnull" AS not_null, pk AS pk FROM pragma_table_info(:table) ORDER BY cid', { table: actual });
    const columns = rows.map((r): ColumnInfo => {
      const t = parseDeclaredType(text(r, 'col_type'));
      const isText = /char|clob|text/.test(t.type);
      return {
        name: text(r, 'col_name'),
        type: t.type,
        length: isText ? t.size : undefined,
        precision: isText ? undefined : t.size,
        scale: t.scale,
        nullable: Number(columnValue(r, 'not_null')) === 0,
      };
    });
    const primaryKey = rows
      .filter((r) => Number(columnValue(r, 'pk')) > 0)
      .sort((a, b) => Number(columnValue(a, 'pk')) - Number(columnValue(b, 'pk')))
      .map((r) => text(r, 'col_name'));
    return { name: actual, columns, primaryKey };
  }
  const c = CATALOGUE[driver.dialect];
  const schemaExpr = schema !== undefined ? ':schema' : c.schema;
  const rows = await runQuery(driver, c.columns.replace('{schema}', schemaExpr), { table: name, schema: schema ?? null });
  if (rows.length === 0) throw notFound(table, driver.where, await listTables(driver, schema));
  // The exact spelling first, then any case (PostgreSQL folds unquoted names to lower case).
  const names = [...new Set(rows.map((r) => text(r, 'tbl')))];
  const actual = names.find((t) => t === name) ?? names[0];
  const columns = rows
    .filter((r) => text(r, 'tbl') === actual)
    .map((r): ColumnInfo => ({
      name: text(r, 'col_name'),
      type: text(r, 'data_type').toLowerCase(),
      length: num(r, 'char_len'),
      precision: num(r, 'num_prec'),
      scale: num(r, 'num_scale'),
      nullable: text(r, 'nullable').toUpperCase() === 'YES',
    }));
  const pk = await runQuery(driver, c.primaryKey.replace('{schema}', schemaExpr), { table: actual, schema: schema ?? null });
  const primaryKey = pk.map((r) => text(r, 'col_name'));
  if (driver.dialect !== 'postgres') return { name: actual, schema, columns, primaryKey };
  // PostgreSQL folds unquoted names to lower case: they are shown (and written) in upper case, as the DDL wrote them.
  const fold = (n: string) => (/^[a-z_][a-z0-9_]*$/.test(n) ? n.toUpperCase() : undefined);
  return {
    name: fold(actual) ?? actual,
    sql: fold(actual),
    schema,
    columns: columns.map((col) => ({ ...col, name: fold(col.name) ?? col.name, sql: fold(col.name) })),
    primaryKey: primaryKey.map((k) => fold(k) ?? k),
  };
}
