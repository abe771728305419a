/**
 * SQLite through better-sqlite3: the file opened read-only (it must exist), statements prepared
 * once and cached. better-sqlite3 is synchronous, so streaming yields to the event loop every few
 * hundred rows; a running statement cannot be interrupted, so the statement timeout is not enforced
 * (the policy's timeout still answers the caller).
 *
 * A file locked by another process (SQLITE_BUSY) is never waited for inside SQLite: its busy timeout
 * sleeps on the event loop and would stall every request of the gateway. The busy timeout is 0, and
 * a locked statement is tried again after a pause (1 ms, doubling to 50 ms) until it runs, the
 * connect timeout has passed (then 503, database unreachable), or the caller's signal fires (the
 * policy's timeout, or the caller gone).
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import type { Row } from '../row-mapping.ts';
import type { SqlValue } from '../request-params.ts';
import type { DbDriver, DriverSettings, QueryOptions } from './driver.ts';

const YIELD_EVERY = 256;
const MAX_PAUSE_MS = 50;

function isLocked(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

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

  constructor(
    private readonly file: string,
    private readonly settings: DriverSettings,
  ) {
    this.where = file;
  }

  private open(): Database.Database {
    if (this.db) return this.db;
    if (!existsSync(this.file)) throw Object.assign(new Error(`the SQLite file ${this.file} does not exist`), { code: 'ENOENT' });
    this.db = new Database(this.file, { readonly: true, fileMustExist: true, timeout: 0 });
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

  querySync(sql: string, values: readonly SqlValue[], opts: QueryOptions): Row[] | undefined {
    opts.signal.throwIfAborted();
    try {
      return this.statement(sql).all(bindable(values)) as Row[];
    } catch (err) {
      if (isLocked(err)) return undefined;
      throw err;
    }
  }

  /** Runs `fn` at once, or, while the file is locked, again after growing pauses (the event loop stays free). */
  private async unlocked<T>(fn: () => T, signal: AbortSignal): Promise<T> {
    const deadline = Date.now() + this.settings.connectTimeoutMs;
    for (let pause = 1; ; pause = Math.min(MAX_PAUSE_MS, pause * 2)) {
      signal.throwIfAborted();
      try {
        return fn();
      } catch (err) {
        if (!isLocked(err) || Date.now() >= deadline) throw err;
      }
      await sleep(pause, undefined, { signal });
    }
  }

  async query(sql: string, values: readonly SqlValue[], opts: QueryOptions): Promise<Row[]> {
    return this.unlocked(() => this.statement(sql).all(bindable(values)) as Row[], opts.signal);
  }

  async *stream(sql: string, values: readonly SqlValue[], opts: QueryOptions): AsyncIterable<Row> {
    // A statement object runs one iteration at a time: stream on a fresh one. Its first step takes
    // the read lock; once it has it, the rest of the rows are read without waiting.
    const { it, first } = await this.unlocked(() => {
      const st = this.open().prepare(sql);
      const iter = st.iterate(bindable(values)) as IterableIterator<Row>;
      return { it: iter, first: iter.next() };
    }, opts.signal);
    let n = 0;
    try {
      for (let r = first; !r.done; r = it.next()) {
        yield r.value;
        if (++n % YIELD_EVERY === 0) {
          await yieldToLoop();
          opts.signal.throwIfAborted();
        }
      }
    } finally {
      it.return?.();
    }
  }

  async ping(timeoutMs = this.settings.connectTimeoutMs): Promise<void> {
    await this.unlocked(() => this.open().prepare('SELECT 1').get(), AbortSignal.timeout(timeoutMs));
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.db?.close();
    this.db = undefined;
  }
}
