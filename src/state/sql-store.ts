/**
 * The state store: where run-time state lives (route modes, audit log, idempotency keys, outbox,
 * dead letters). SQLite (a file) by default; PostgreSQL when several gateway instances share state.
 * One small SQL interface over both: statements use `?` placeholders (rewritten to `$1…` for
 * PostgreSQL) and portable SQL; each feature creates its tables with `migrate`.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

export type SqlParam = string | number | bigint | boolean | null | Buffer;

export interface SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined>;
  run(sql: string, params?: readonly SqlParam[]): Promise<{ changes: number }>;
}

export interface SqlStore extends SqlExecutor {
  /** Runs `fn` in one transaction (SQLite: BEGIN IMMEDIATE, serialised; PostgreSQL: one pooled client). */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Applies each step once, in order, remembering what was applied under `component`. */
  migrate(component: string, steps: readonly string[]): Promise<void>;
  close(): Promise<void>;
  /** A description for logs: the file or the database (never a password). */
  readonly where: string;
  /** The PostgreSQL pool, for features that need LISTEN/NOTIFY; undefined on SQLite. */
  readonly pgPool?: pg.Pool;
}

export type StateConfig = { driver: 'sqlite'; file: string } | { driver: 'postgres'; url: string; poolSize?: number };

/** Rewrites `?` placeholders (outside quoted strings) to `$1`, `$2`, … */
export function toPgPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  let quote: string | undefined;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = undefined;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === '?') out += `$${++n}`;
    else out += ch;
  }
  return out;
}

function sqliteParams(params: readonly SqlParam[]): unknown[] {
  return params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async lock<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/**
 * The state store holds queued writes, dead letters and mismatches: its file is created with mode
 * 600 (read and written by the gateway's user only), and an existing file is made so.
 */
function privateFile(file: string, create: boolean): void {
  if (create) closeSync(openSync(file, 'a', 0o600));
  try {
    chmodSync(file, 0o600);
  } catch {
    // Not ours to change (another user's file, a read-only mount): SQLite says so if it cannot use it.
  }
}

class SqliteStore implements SqlStore {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly mutex = new Mutex();
  private inTx = false;
  readonly where: string;

  constructor(file: string) {
    if (file !== ':memory:') {
      mkdirSync(dirname(file), { recursive: true });
      privateFile(file, true);
    }
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // SQLite gives the -wal and -shm files the database file's mode; ones left by an older run are made private too.
    if (file !== ':memory:') for (const f of [`${file}-wal`, `${file}-shm`]) if (existsSync(f)) privateFile(f, false);
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.where = `sqlite:${file}`;
  }

  private direct(): SqlExecutor {
    const db = this.db;
    return {
      dialect: 'sqlite',
      all: async <T>(sql: string, params: readonly SqlParam[] = []) => db.prepare(sql).all(...sqliteParams(params)) as T[],
      get: async <T>(sql: string, params: readonly SqlParam[] = []) => db.prepare(sql).get(...sqliteParams(params)) as T | undefined,
      run: async (sql: string, params: readonly SqlParam[] = []) => ({ changes: db.prepare(sql).run(...sqliteParams(params)).changes }),
    };
  }

  // Outside a transaction, statements run at once (better-sqlite3 is synchronous, so each is atomic);
  // while one is open they wait, so that nothing slips into another caller's transaction.
  private outside<T>(fn: (x: SqlExecutor) => Promise<T>): Promise<T> {
    return this.inTx ? this.mutex.lock(() => fn(this.direct())) : fn(this.direct());
  }

  all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    return this.outside((x) => x.all<T>(sql, params));
  }
  get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    return this.outside((x) => x.get<T>(sql, params));
  }
  run(sql: string, params?: readonly SqlParam[]): Promise<{ changes: number }> {
    return this.outside((x) => x.run(sql, params));
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.mutex.lock(async () => {
      this.inTx = true;
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn(this.direct());
        this.db.exec('COMMIT');
        return out;
      } catch (err) {
        this.db.exec('ROLLBACK');
        throw err;
      } finally {
        this.inTx = false;
      }
    });
  }

  async migrate(component: string, steps: readonly string[]): Promise<void> {
    // In one IMMEDIATE transaction: two processes starting together on one file take turns.
    await this.transaction((tx) => migrate(tx, component, steps));
  }

  async close(): Promise<void> {
    await this.mutex.lock(async () => this.db.close());
  }
}

class PostgresStore implements SqlStore {
  readonly dialect = 'postgres' as const;
  readonly pgPool: pg.Pool;
  readonly where: string;

  constructor(url: string, poolSize: number) {
    this.pgPool = new pg.Pool({ connectionString: url, max: poolSize });
    this.pgPool.on('error', () => undefined); // idle client errors surface on the next query
    const u = new URL(url);
    this.where = `postgres://${u.host}${u.pathname}`;
  }

  static executor(q: pg.Pool | pg.PoolClient): SqlExecutor {
    return {
      dialect: 'postgres',
      all: async <T>(sql: string, params: readonly SqlParam[] = []) => (await q.query(toPgPlaceholders(sql), [...params])).rows as T[],
      get: async <T>(sql: string, params: readonly SqlParam[] = []) => (await q.query(toPgPlaceholders(sql), [...params])).rows[0] as T | undefined,
      run: async (sql: string, params: readonly SqlParam[] = []) => ({ changes: (await q.query(toPgPlaceholders(sql), [...params])).rowCount ?? 0 }),
    };
  }

  all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    return PostgresStore.executor(this.pgPool).all<T>(sql, params);
  }
  get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    return PostgresStore.executor(this.pgPool).get<T>(sql, params);
  }
  run(sql: string, params?: readonly SqlParam[]): Promise<{ changes: number }> {
    return PostgresStore.executor(this.pgPool).run(sql, params);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pgPool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn(PostgresStore.executor(client));
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async migrate(component: string, steps: readonly string[]): Promise<void> {
    // One instance at a time: an advisory lock keeps two gateways starting together from racing.
    const client = await this.pgPool.connect();
    try {
      await client.query('SELECT pg_advisory_lock(81723)');
      await migrate(PostgresStore.executor(client), component, steps);
    } finally {
      await client.query('SELECT pg_advisory_unlock(81723)').catch(() => undefined);
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pgPool.end();
  }
}

async function migrate(x: SqlExecutor, component: string, steps: readonly string[]): Promise<void> {
  await x.run('CREATE TABLE IF NOT EXISTS ficus_migrations (component TEXT NOT NULL, step INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, step))');
  const done = new Set((await x.all<{ step: number }>('SELECT step FROM ficus_migrations WHERE component = ?', [component])).map((r) => Number(r.step)));
  for (let i = 0; i < steps.length; i++) {
    if (done.has(i)) continue;
    await x.run(steps[i]);
    await x.run('INSERT INTO ficus_migrations (component, step, applied_at) VALUES (?, ?, ?)', [component, i, new Date().toISOString()]);
  }
}

export async function openStore(config: StateConfig): Promise<SqlStore> {
  if (config.driver === 'sqlite') return new SqliteStore(config.file);
  const store = new PostgresStore(config.url, config.poolSize ?? 10);
  await store.get('SELECT 1 AS ok'); // fail at start-up, not on the first request
  return store;
}
