/**
 * SQLite through better-sqlite3: the file opened read-only (it must exist), statements prepared
 * once and cached. better-sqlite3 is synchronous, so streaming yields to the event loop every few
 * hundred rows; a running statement cannot be interrupted, so the statement timeout is not enforced
 * (the policy's timeout still answers the caller).
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Row } from '../row-mapping.ts';
import type { SqlValue } from '../request-params.ts';
import type { DbDriver, DriverSettings, QueryOptions } from './driver.ts';

const YIELD_EVERY = 256;

/** SQLite has no booleans: true and false are bound as 1 and 0 (the values are passed as one array). */
function bindable(values: readonly SqlValue[]): readonly unknown[] {
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] === 'boolean') return values.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
  }
  return values;
}

export class SqliteDriver implements DbDriver {
  readonly dialect = 'sqlite' as const;
  readonly where: string;
  private db: Database.Database | undefined;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly file: string, private readonly settings: DriverSettings) {
    this.where = file;
  }

  private open(): Database.Database {
    if (this.db) return this.db;
    if (!existsSync(this.file)) throw Object.assign(new Error(`the SQLite file ${this.file} does not exist`), { code: 'ENOENT' });
    this.db = new Database(this.file, { readonly: true, fileMustExist: true, timeout: this.settings.connectTimeoutMs });
    return this.db;
  }

  private statement(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.open().prepare(sql);
      if (!st.reader) throw new Error('the statement returns no rows');
      this.statements.set(sql, st);
    }
    return st;
  }

  querySync(sql: string, values: readonly SqlValue[], opts: QueryOptions): Row[] {
    opts.signal.throwIfAborted();
    return this.statement(sql).all(bindable(values)) as Row[];
  }

  async query(sql: string, values: readonly SqlValue[], opts: QueryOptions): Promise<Row[]> {
    return this.querySync(sql, values, opts);
  }

  async *stream(sql: string, values: readonly SqlValue[], opts: QueryOptions): AsyncIterable<Row> {
    opts.signal.throwIfAborted();
    // A statement object runs one iteration at a time: stream on a fresh one.
    const st = this.open().prepare(sql);
    const it = st.iterate(bindable(values)) as IterableIterator<Row>;
    let n = 0;
    try {
      for (const row of it) {
        yield row;
        if (++n % YIELD_EVERY === 0) {
          await yieldToLoop();
          opts.signal.throwIfAborted();
        }
      }
    } finally {
      it.return?.();
    }
  }

  async ping(): Promise<void> {
    this.open().prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.db?.close();
    this.db = undefined;
  }
}
