/**
 * PostgreSQL through pg: a pool whose sessions are read-only (`default_transaction_read_only`) and
 * carry the statement timeout; statements are prepared once per connection (named); streaming reads
 * through a server-side cursor (pg-cursor), a batch of rows per round trip.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import Cursor from 'pg-cursor';
import type { Row } from '../row-mapping.ts';
import type { SqlValue } from '../request-params.ts';
import { abortable, type DbDriver, type DriverSettings, type QueryOptions } from './driver.ts';

export interface PostgresTarget {
  url?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  ssl?: boolean;
}

export class PostgresDriver implements DbDriver {
  readonly dialect = 'postgres' as const;
  readonly where: string;
  private readonly pool: pg.Pool;

  constructor(
    target: PostgresTarget,
    private readonly settings: DriverSettings,
  ) {
    const options = `-c default_transaction_read_only=on -c statement_timeout=${settings.statementTimeoutMs}`;
    this.pool = new pg.Pool({
      connectionString: target.url,
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      password: target.password,
      ssl: target.ssl ? { rejectUnauthorized: true } : undefined,
      max: settings.poolMax,
      min: settings.poolMin,
      idleTimeoutMillis: settings.idleTimeoutMs,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      options,
      application_name: `ficus/${settings.adapter}`,
    });
    // An idle client that loses its connection must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
    const u = target.url ? new URL(target.url) : undefined;
    this.where = u ? `postgres://${u.host}${u.pathname}` : `postgres://${target.host ?? 'localhost'}:${target.port ?? 5432}/${target.database ?? ''}`;
  }

  /** Statements are prepared once per connection under a name made from their text. */
  private readonly names = new Map<string, string>();

  private nameOf(sql: string): string {
    let name = this.names.get(sql);
    if (!name) {
      name = `ficus_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
      this.names.set(sql, name);
    }
    return name;
  }

  async query(sql: string, values: readonly SqlValue[], opts: QueryOptions): Promise<Row[]> {
    const res = await abortable(this.pool.query<Row>({ name: this.nameOf(sql), text: sql, values: values as unknown[] }), opts.signal);
    return res.rows;
  }

  async *stream(sql: string, values: readonly SqlValue[], opts: QueryOptions): AsyncIterable<Row> {
    const client = await abortable(this.pool.connect(), opts.signal);
    // A checked-out client is the caller's to watch: pg emits 'error' on it when its connection
    // breaks (a reset, the server gone) even between reads, and an 'error' event nobody listens to
    // ends the process. The error is kept and thrown by the next read.
    let lost: Error | undefined;
    const onError = (err: Error) => (lost ??= err);
    client.on('error', onError);
    let broken = false;
    const cursor = client.query(new Cursor<Row>(sql, values as unknown[]));
    try {
      for (;;) {
        if (lost) throw lost;
        const rows = await abortable(cursor.read(this.settings.fetchSize), opts.signal);
        if (rows.length === 0) break;
        for (const r of rows) yield r;
      }
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      if (!broken && !lost) await cursor.close().catch(() => (broken = true));
      broken ||= lost !== undefined;
      // A broken client is destroyed by the pool (released with an error) and keeps our listener,
      // so that a late 'error' from its dying socket is still heard.
      if (!broken) client.off('error', onError);
      client.release(broken ? (lost ?? new Error('the stream was not read to its end')) : undefined);
    }
  }

  async ping(timeoutMs: number): Promise<void> {
    await abortable(this.pool.query('SELECT 1'), AbortSignal.timeout(timeoutMs));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
