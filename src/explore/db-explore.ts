/**
 * `ficus explore` for a db adapter: the tables the adapter's database user can see, from each
 * engine's catalogue (sqlite_master; information_schema on PostgreSQL, MySQL/MariaDB and SQL
 * Server), and their row counts, through the kind's own read-only drivers and their statement
 * timeout. A count that fails or takes too long is reported for its table; the others go on.
 */
import type { DbConnection } from '../kinds/db/db-config.ts';
import { createDriver } from '../kinds/db/db-kind.ts';
import type { DialectName } from '../kinds/db/dialects.ts';
import type { DbDriver } from '../kinds/db/drivers/driver.ts';

export interface TableLook {
  /** The schema (PostgreSQL, SQL Server), else absent. */
  schema?: string;
  name: string;
  rows?: number;
  /** Why the count is missing. */
  error?: string;
}

export interface DbLook {
  where: string;
  driver: DialectName;
  tables: TableLook[];
  /** More tables than were counted. */
  more?: number;
}

const CATALOGUE: Record<DialectName, string> = {
  sqlite: "SELECT NULL AS tschema, name AS tname FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
  postgres:
    "SELECT table_schema AS tschema, table_name AS tname FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY table_schema, table_name",
  mysql: "SELECT NULL AS tschema, table_name AS tname FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name",
  mssql: "SELECT TABLE_SCHEMA AS tschema, TABLE_NAME AS tname FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME",
};

/** An identifier quoted for the engine (from the catalogue, never from a caller). */
export function quoteIdent(dialect: DialectName, name: string): string {
  if (dialect === 'mysql') return `\`${name.replace(/`/g, '``')}\``;
  if (dialect === 'mssql') return `[${name.replace(/]/g, ']]')}]`;
  return `"${name.replace(/"/g, '""')}"`;
}

function text(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** At most this many tables are counted (a legacy schema may have thousands). */
export const MAX_TABLES = 500;

export async function exploreDb(conn: DbConnection, adapter: string, root: string, opts: { timeoutMs?: number; driver?: DbDriver } = {}): Promise<DbLook> {
  const driver = opts.driver ?? (await createDriver(conn, adapter, root));
  const signal = () => AbortSignal.timeout(opts.timeoutMs ?? conn.statementTimeoutMs + 1_000);
  try {
    const rows = await driver.query(CATALOGUE[driver.dialect], [], { signal: signal() });
    const all = rows.map((r) => ({ schema: text(r.tschema ?? r.TSCHEMA), name: text(r.tname ?? r.TNAME) ?? '' })).filter((t) => t.name !== '');
    const tables: TableLook[] = [];
    for (const t of all.slice(0, MAX_TABLES)) {
      const target = t.schema ? `${quoteIdent(driver.dialect, t.schema)}.${quoteIdent(driver.dialect, t.name)}` : quoteIdent(driver.dialect, t.name);
      const look: TableLook = t.schema ? { schema: t.schema, name: t.name } : { name: t.name };
      try {
        const [r] = await driver.query(`SELECT COUNT(*) AS n FROM ${target}`, [], { signal: signal() });
        look.rows = Number(r?.n ?? r?.N);
      } catch (err) {
        look.error = (err as Error).message.split('\n')[0];
      }
      tables.push(look);
    }
    return { where: driver.where, driver: driver.dialect, tables, ...(all.length > MAX_TABLES ? { more: all.length - MAX_TABLES } : {}) };
  } finally {
    if (!opts.driver) await driver.close();
  }
}
