/**
 * MySQL and MariaDB through mysql2: server-side prepared statements (`execute`), a pool whose
 * sessions are set read-only (`SET SESSION TRANSACTION READ ONLY`) and carry the statement timeout
 * (MariaDB `max_statement_time`, MySQL `max_execution_time`); streaming reads rows as they arrive.
 */
import type { Connection as CoreConnection } from 'mysql2';
import mysql from 'mysql2/promise';
import type { Row } from '../row-mapping.ts';
import type { SqlValue } from '../request-params.ts';
import { abortable, type DbDriver, type DriverSettings, type QueryOptions } from './driver.ts';

export interface MysqlTarget {
  url?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
}

export class MysqlDriver implements DbDriver {
  readonly dialect = 'mysql' as const;
  readonly where: string;
  private readonly pool: mysql.Pool;

  constructor(
    target: MysqlTarget,
    private readonly settings: DriverSettings,
  ) {
    const common = {
      connectionLimit: settings.poolMax,
      maxIdle: Math.max(settings.poolMin, 1),
      idleTimeout: settings.idleTimeoutMs,
      connectTimeout: settings.connectTimeoutMs,
      waitForConnections: true,
      queueLimit: 0,
      enableKeepAlive: true,
      timezone: 'Z',
      supportBigNumbers: true,
      multipleStatements: false,
      connectAttributes: { program_name: `ficus/${settings.adapter}` },
    };
    this.pool = target.url
      ? mysql.createPool({ uri: target.url, ...common })
      : mysql.createPool({ host: target.host, port: target.port, database: target.database, user: target.user, password: target.password, ...common });
    const seconds = settings.statementTimeoutMs / 1000;
    // Runs on each new connection before any query of ours (commands queue per connection).
    this.pool.pool.on('connection', (conn) => {
      conn.query('SET SESSION TRANSACTION READ ONLY', () => undefined);
      conn.query(`SET SESSION max_statement_time = ${seconds}`, (err: unknown) => {
        if (err) conn.query(`SET SESSION max_execution_time = ${Math.round(settings.statementTimeoutMs)}`, () => undefined);
      });
    });
    const u = target.url ? new URL(target.url) : undefined;
    this.where = u ? `mysql://${u.host}${u.pathname}` : `mysql://${target.host ?? 'localhost'}:${target.port ?? 3306}/${target.database ?? ''}`;
  }

  async query(sql: string, values: readonly SqlValue[], opts: QueryOptions): Promise<Row[]> {
    const [rows] = await abortable(this.pool.execute(sql, values as SqlValue[]), opts.signal);
    return rows as Row[];
  }

  async *stream(sql: string, values: readonly SqlValue[], opts: QueryOptions): AsyncIterable<Row> {
    const conn = await abortable(this.pool.getConnection(), opts.signal);
    // The promise wrapper's `connection` is the callback-style connection (typed as the promise one).
    const core = conn.connection as unknown as CoreConnection;
    const rows = core.execute(sql, values as SqlValue[]).stream({ highWaterMark: this.settings.fetchSize });
    let finished = false;
    const onAbort = () => rows.destroy(opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted'));
    opts.signal.addEventListener('abort', onAbort, { once: true });
    // A fatal error (a reset connection) of a command without a callback goes to the connection, not
    // to the row stream, which would wait for ever: end the stream with it.
    const onLost = (err: Error) => rows.destroy(err);
    core.on('error', onLost);
    try {
      for await (const row of rows) yield row as Row;
      finished = true;
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
      core.off('error', onLost);
      // A result not read to its end cannot be abandoned on a MySQL connection: drop the connection.
      if (finished) conn.release();
      else conn.destroy();
    }
  }

  async ping(timeoutMs: number): Promise<void> {
    await abortable(this.pool.query('SELECT 1'), AbortSignal.timeout(timeoutMs));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
