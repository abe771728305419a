/**
 * SQL Server through mssql (tedious): connections made with `ApplicationIntent=ReadOnly`, the
 * statement timeout as the request timeout, every statement sent parameterised (sp_executesql with
 * @p1…, each value typed from its JavaScript type); streaming with back-pressure, and a cancel
 * (an attention to the server) when the reader stops early.
 */
import sql from 'mssql';
import type { Row } from '../row-mapping.ts';
import type { SqlValue } from '../request-params.ts';
import { abortable, type DbDriver, type DriverSettings, type QueryOptions } from './driver.ts';

export interface MssqlTarget {
  url?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  encrypt: boolean;
  trustServerCertificate: boolean;
}

/** The T-SQL type a value is sent as. */
export function mssqlTypeOf(v: SqlValue): sql.ISqlType | (() => sql.ISqlType) {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return v >= -2147483648 && v <= 2147483647 ? sql.Int() : sql.BigInt();
    return sql.Float();
  }
  if (typeof v === 'boolean') return sql.Bit();
  if (typeof v === 'string' && v.length > 4000) return sql.NVarChar(sql.MAX);
  return sql.NVarChar(4000);
}

function configOf(t: MssqlTarget, s: DriverSettings): sql.config {
  let host = t.host;
  let port = t.port;
  let database = t.database;
  let user = t.user;
  let password = t.password;
  if (t.url) {
    const u = new URL(t.url);
    host = u.hostname;
    port = u.port ? Number(u.port) : port;
    database = u.pathname.replace(/^\//, '') || database;
    user = u.username ? decodeURIComponent(u.username) : user;
    password = u.password ? decodeURIComponent(u.password) : password;
  }
  return {
    server: host ?? 'localhost',
    port: port ?? 1433,
    database,
    user,
    password,
    connectionTimeout: s.connectTimeoutMs,
    requestTimeout: s.statementTimeoutMs,
    pool: { max: s.poolMax, min: s.poolMin, idleTimeoutMillis: s.idleTimeoutMs, acquireTimeoutMillis: s.connectTimeoutMs },
    options: {
      readOnlyIntent: true,
      encrypt: t.encrypt,
      trustServerCertificate: t.trustServerCertificate,
      appName: `ficus/${s.adapter}`,
      enableArithAbort: true,
    },
  };
}

export class MssqlDriver implements DbDriver {
  readonly dialect = 'mssql' as const;
  readonly where: string;
  private readonly pool: sql.ConnectionPool;
  private connecting: Promise<sql.ConnectionPool> | undefined;

  constructor(
    target: MssqlTarget,
    private readonly settings: DriverSettings,
  ) {
    const config = configOf(target, settings);
    this.pool = new sql.ConnectionPool(config);
    this.pool.on('error', () => undefined);
    this.where = `mssql://${config.server}:${config.port ?? 1433}/${config.database ?? ''}`;
  }

  private connected(): Promise<sql.ConnectionPool> {
    if (this.pool.connected) return Promise.resolve(this.pool);
    this.connecting ??= this.pool.connect().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  private request(pool: sql.ConnectionPool, values: readonly SqlValue[]): sql.Request {
    const req = pool.request();
    values.forEach((v, i) => req.input(`p${i + 1}`, mssqlTypeOf(v), v));
    return req;
  }

  async query(text: string, values: readonly SqlValue[], opts: QueryOptions): Promise<Row[]> {
    const pool = await abortable(this.connected(), opts.signal);
    const req = this.request(pool, values);
    const onAbort = () => req.cancel();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await abortable(req.query<Row>(text), opts.signal);
      return res.recordset ?? [];
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
    }
  }

  async *stream(text: string, values: readonly SqlValue[], opts: QueryOptions): AsyncIterable<Row> {
    const pool = await abortable(this.connected(), opts.signal);
    const req = this.request(pool, values);
    const rows = req.toReadableStream({ highWaterMark: this.settings.fetchSize });
    void req.query(text).catch(() => undefined);
    let finished = false;
    const onAbort = () => req.cancel();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const row of rows) yield row as Row;
      finished = true;
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
      if (!finished) {
        req.cancel();
        rows.destroy();
      }
    }
  }

  async ping(timeoutMs: number): Promise<void> {
    const pool = await abortable(this.connected(), AbortSignal.timeout(timeoutMs));
    await abortable(pool.request().query('SELECT 1 AS ok'), AbortSignal.timeout(timeoutMs));
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => undefined);
  }
}
