/**
 * The db kind: serves contract operations with direct, read-only SQL reads from a legacy database
 * (SQLite, PostgreSQL, MySQL/MariaDB, SQL Server). Each binding is a SELECT written by the migration
 * team in a .sql file of the adapter's folder, with named parameters bound from the request and a
 * declarative mapping of its rows to the contract. See docs/adapters/db.md.
 */
import { isAbsolute, join } from 'node:path';
import { defineKind, type Adapter, type AdapterContext, type BindContext, type HealthReport, type OperationHandler } from '../kind.ts';
import { bindDbOperation } from './db-binding.ts';
import { dbBindingSchema, dbConnectionSchema, type DbBinding, type DbConnection } from './db-config.ts';
import type { DbDriver, DriverSettings } from './drivers/driver.ts';
import { DEVELOPMENT_CURSOR_KEY } from './page-cursor.ts';
import { dbMetrics, type DbMetrics } from './query-metrics.ts';

/** Makes the driver of a connection; each driver module is loaded only when an adapter uses it. */
export async function createDriver(conn: DbConnection, adapter: string, root: string): Promise<DbDriver> {
  const settings: DriverSettings = {
    adapter,
    poolMax: conn.pool.max,
    poolMin: conn.pool.min,
    idleTimeoutMs: conn.pool.idleTimeoutMs,
    connectTimeoutMs: conn.connectTimeoutMs,
    statementTimeoutMs: conn.statementTimeoutMs,
    fetchSize: conn.fetchSize,
  };
  const target = { url: conn.url, host: conn.host, port: conn.port, database: conn.database, user: conn.user, password: conn.password };
  switch (conn.driver) {
    case 'sqlite': {
      const { SqliteDriver } = await import('./drivers/sqlite-driver.ts');
      const file = conn.file!;
      return new SqliteDriver(isAbsolute(file) ? file : join(root, file), settings);
    }
    case 'postgres': {
      const { PostgresDriver } = await import('./drivers/postgres-driver.ts');
      return new PostgresDriver({ ...target, ssl: conn.ssl }, settings);
    }
    case 'mysql': {
      const { MysqlDriver } = await import('./drivers/mysql-driver.ts');
      return new MysqlDriver(target, settings);
    }
    case 'mssql': {
      const { MssqlDriver } = await import('./drivers/mssql-driver.ts');
      return new MssqlDriver({ ...target, encrypt: conn.encrypt, trustServerCertificate: conn.trustServerCertificate }, settings);
    }
  }
}

class DbAdapter implements Adapter<DbBinding> {
  private readonly metrics: DbMetrics;

  constructor(
    private readonly ctx: AdapterContext<DbConnection>,
    private readonly driver: DbDriver,
  ) {
    this.metrics = dbMetrics(ctx.metrics.registry);
    if (ctx.connection.cursorKey === '') {
      ctx.logger.warn(`${ctx.file}: connection.cursorKey is not set; page cursors are signed with the development key (set it from the environment in production)`);
    }
  }

  bind(ctx: BindContext<DbBinding>): Promise<OperationHandler> {
    return bindDbOperation(ctx, {
      adapter: this.ctx.name,
      dir: this.ctx.dir,
      root: this.ctx.root,
      driver: () => this.driver,
      dialect: this.driver.dialect,
      metrics: this.metrics,
      cursorKey: this.ctx.connection.cursorKey || DEVELOPMENT_CURSOR_KEY,
    });
  }

  async health(): Promise<HealthReport> {
    try {
      await this.driver.ping(Math.min(this.ctx.connection.connectTimeoutMs + 500, 2_500));
      return { ok: true };
    } catch (err) {
      const e = err as Error & { code?: unknown };
      return { ok: false, detail: `${this.driver.where}: ${typeof e.code === 'string' && e.code !== '' ? `${e.code} ` : ''}${e.message.split('\n')[0]}` };
    }
  }

  private closing: Promise<void> | undefined;

  /** Idempotent: the drivers' pools refuse a second end. */
  close(): Promise<void> {
    this.closing ??= this.driver.close();
    return this.closing;
  }
}

export const dbKind = defineKind<DbConnection, DbBinding>({
  name: 'db',
  defaultRole: 'legacy',
  bodies: ['json', 'form'],
  connectionSchema: dbConnectionSchema,
  bindingSchema: dbBindingSchema,
  // Reads are safe to retry once; a slow legacy database is not helped by more.
  defaultPolicy: { timeoutMs: 5_000, retry: { maxRetries: 1 }, concurrency: { limit: 32, queue: 256 } },
  create: async (ctx) => new DbAdapter(ctx, await createDriver(ctx.connection, ctx.name, ctx.root)),
});
