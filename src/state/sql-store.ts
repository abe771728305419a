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
import { setTimeout as sleep } from 'node:timers/promises';
import { StateStoreUnavailable } from '../problem.ts';

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
  /** A trivial statement within `timeoutMs`; throws StateStoreUnavailable when the store cannot answer. */
  ping(timeoutMs: number): Promise<void>;
  /** A description for logs: the file or the database (never a password). */
  readonly where: string;
  /** The PostgreSQL pool, for features that need LISTEN/NOTIFY; undefined on SQLite. */
  readonly pgPool?: pg.Pool;
}

export type StateConfig = { driver: 'sqlite'; file: string; busyTimeoutMs?: number } | { driver: 'postgres'; url: string; poolSize?: number; connectTimeoutMs?: number; statementTimeoutMs?: number };

/** Defaults of the state store's limits (ficus.yaml `state:`). */
export const STATE_DEFAULTS = { connectTimeoutMs: 3_000, statementTimeoutMs: 5_000, busyTimeoutMs: 5_000 } as const;

// pg's SQLSTATE classes that say the connection or the server, not the statement, failed:
// 08 connection exception, 53 insufficient resources, 57 operator intervention (57014: statement
// timeout, 57P01: admin shutdown, ...), 58 system error.
const PG_UNAVAILABLE_CLASSES = new Set(['08', '53', '57', '58']);

/**
 * The error a state-store call throws: a StateStoreUnavailable when the store could not be reached
 * or did not answer in time (any pg error without a SQLSTATE is about the connection: reset,
 * refused, "Connection terminated", connect or query timeout), the error itself when the statement
 * was refused (a unique violation, say, which the features act on).
 */
/**
 * Logs a state store's outage once, in one line without a stack trace, however often a poll loop
 * meets it; and once more when the store answers again.
 */
export class OutageLog {
  private failures = 0;
  constructor(
    private readonly logger: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void },
    private readonly what: string,
  ) {}

  /** Whether `err` was an outage (and so handled here). */
  failed(err: unknown): boolean {
    if (!(err instanceof StateStoreUnavailable)) return false;
    if (this.failures++ === 0) this.logger.warn({ error: err.detail }, `${this.what}: the state store is unavailable; retrying quietly until it answers`);
    return true;
  }

  ok(): void {
    if (this.failures === 0) return;
    this.logger.info({ failedAttempts: this.failures }, `${this.what}: the state store answers again`);
    this.failures = 0;
  }
}

export function storeError(err: unknown, where: string): unknown {
  if (err instanceof StateStoreUnavailable) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  if (err instanceof pg.DatabaseError) {
    if (typeof code === 'string' && !PG_UNAVAILABLE_CLASSES.has(code.slice(0, 2))) return err;
  } else if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    if (!/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|NOMEM|INTERRUPT)/.test(code)) return err;
  } else if (!(err instanceof Error) || err.name === 'TypeError' || err.name === 'RangeError') {
    return err;
  }
  return new StateStoreUnavailable(`the state store (${where}) did not answer: ${typeof code === 'string' ? `${code}: ` : ''}${message}`, err);
}

/**
 * Whether a statement certainly never reached the server: the socket refused its write (the
 * connection was reset or closed before it), or pg knew the client was broken and sent nothing.
 */
export function neverSent(err: unknown): boolean {
  const e = (err instanceof StateStoreUnavailable ? err.cause : err) as { syscall?: unknown; code?: unknown; message?: unknown } | null | undefined;
  if (e?.syscall === 'write' && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) return true;
  return typeof e?.message === 'string' && /is not queryable/.test(e.message);
}

/** The first statement on a checked-out client was never sent: start again on another client. */
class StaleConnection extends StateStoreUnavailable {
  constructor(err: unknown) {
    super('a pooled connection was found reset before its first statement', err);
  }
}

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

  constructor(
    file: string,
    private readonly busyTimeoutMs: number = STATE_DEFAULTS.busyTimeoutMs,
  ) {
    if (file !== ':memory:') {
      mkdirSync(dirname(file), { recursive: true });
      privateFile(file, true);
    }
    // No busy timeout in SQLite itself: it would wait for a lock held by another process by
    // sleeping on the event loop, stalling every request. `unlocked` waits without blocking.
    this.db = new Database(file, { timeout: 0 });
    this.where = `sqlite:${file}`;
    this.db.pragma('journal_mode = WAL');
    // SQLite gives the -wal and -shm files the database file's mode; ones left by an older run are made private too.
    if (file !== ':memory:') for (const f of [`${file}-wal`, `${file}-shm`]) if (existsSync(f)) privateFile(f, false);
    this.db.pragma('synchronous = NORMAL');
  }

  /**
   * Runs a synchronous statement at once; while another process holds the file's lock (SQLITE_BUSY)
   * tries again after a pause that grows to 50 ms, for `busyTimeoutMs` at most, then gives up with
   * StateStoreUnavailable. The event loop stays free meanwhile.
   */
  private async unlocked<T>(fn: () => T): Promise<T> {
    const deadline = Date.now() + this.busyTimeoutMs;
    for (let pause = 1; ; pause = Math.min(50, pause * 2)) {
      try {
        return fn();
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code !== 'string' || !/^SQLITE_(BUSY|LOCKED)/.test(code)) throw storeError(err, this.where);
        if (Date.now() >= deadline) throw storeError(err, this.where);
      }
      await sleep(pause);
    }
  }

  /** Statements prepared once per text (preparing costs more than running a small one); at most 500 kept. */
  private readonly statements = new Map<string, Database.Statement>();
  private prepared(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      if (this.statements.size >= 500) this.statements.clear();
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private direct(): SqlExecutor {
    return {
      dialect: 'sqlite',
      all: <T>(sql: string, params: readonly SqlParam[] = []) => this.unlocked(() => this.prepared(sql).all(...sqliteParams(params)) as T[]),
      get: <T>(sql: string, params: readonly SqlParam[] = []) => this.unlocked(() => this.prepared(sql).get(...sqliteParams(params)) as T | undefined),
      run: (sql: string, params: readonly SqlParam[] = []) => this.unlocked(() => ({ changes: this.prepared(sql).run(...sqliteParams(params)).changes })),
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
      try {
        await this.unlocked(() => this.db.exec('BEGIN IMMEDIATE'));
      } catch (err) {
        this.inTx = false;
        throw err;
      }
      try {
        const out = await fn(this.direct());
        await this.unlocked(() => this.db.exec('COMMIT'));
        return out;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
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

  async ping(): Promise<void> {
    await this.outside((x) => x.get('SELECT 1 AS ok'));
  }

  async close(): Promise<void> {
    await this.mutex.lock(async () => this.db.close());
  }
}

class PostgresStore implements SqlStore {
  readonly dialect = 'postgres' as const;
  readonly pgPool: pg.Pool;
  readonly where: string;

  constructor(url: string, poolSize: number, limits: { connectTimeoutMs: number; statementTimeoutMs: number }) {
    this.pgPool = new pg.Pool({
      connectionString: url,
      max: poolSize,
      // Every call is bounded: connecting, the statement on the server, and the wait for its answer
      // on this side (which also covers a network that silently drops packets: the server's own
      // timeout cannot reach us then). The client-side limit is a little longer, so that the
      // server's cancel wins when it can be heard.
      connectionTimeoutMillis: limits.connectTimeoutMs,
      statement_timeout: limits.statementTimeoutMs,
      idle_in_transaction_session_timeout: limits.statementTimeoutMs * 2,
      query_timeout: limits.statementTimeoutMs + 1_000,
      keepAlive: true,
    });
    this.pgPool.on('error', () => undefined); // idle client errors surface on the next query
    const u = new URL(url);
    this.where = `postgres://${u.host}${u.pathname}`;
  }

  /**
   * Statements on `q`. On the pool (not inside a transaction), a statement whose bytes never left
   * goes once more: a pooled connection that was reset an instant before (the reset not yet heard)
   * refuses the write, nothing ran on the server, and the pool hands out another connection.
   */
  static executor(q: pg.Pool | pg.PoolClient, where: string): SqlExecutor {
    const again = q instanceof pg.Pool;
    const run = async (sql: string, params: readonly SqlParam[]) => {
      const text = toPgPlaceholders(sql);
      try {
        return await q.query(text, [...params]);
      } catch (err) {
        if (again && neverSent(err)) {
          try {
            return await q.query(text, [...params]);
          } catch (second) {
            throw storeError(second, where);
          }
        }
        throw storeError(err, where);
      }
    };
    return {
      dialect: 'postgres',
      all: async <T>(sql: string, params: readonly SqlParam[] = []) => (await run(sql, params)).rows as T[],
      get: async <T>(sql: string, params: readonly SqlParam[] = []) => (await run(sql, params)).rows[0] as T | undefined,
      run: async (sql: string, params: readonly SqlParam[] = []) => ({ changes: (await run(sql, params)).rowCount ?? 0 }),
    };
  }

  all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    return PostgresStore.executor(this.pgPool, this.where).all<T>(sql, params);
  }
  get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    return PostgresStore.executor(this.pgPool, this.where).get<T>(sql, params);
  }
  run(sql: string, params?: readonly SqlParam[]): Promise<{ changes: number }> {
    return PostgresStore.executor(this.pgPool, this.where).run(sql, params);
  }

  /**
   * A client checked out of the pool for `fn`. It is ours to watch while we hold it: pg emits 'error'
   * on it when its connection breaks (a reset, the server gone), and an 'error' event nobody listens
   * to ends the process. A client whose connection broke, or that may still be inside a transaction,
   * goes back with the error, so that the pool destroys it instead of handing it out again.
   */
  private async withClient<T>(fn: (client: pg.PoolClient, isBroken: () => boolean) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pgPool.connect();
    } catch (err) {
      throw storeError(err, this.where);
    }
    let lost: Error | undefined;
    const onError = (err: Error) => (lost ??= err);
    client.on('error', onError);
    let failure: unknown;
    try {
      return await fn(client, () => lost !== undefined);
    } catch (err) {
      failure = err;
      throw lost && !(err instanceof StaleConnection) ? storeError(lost, this.where) : err;
    } finally {
      const broken = lost ?? (failure instanceof StateStoreUnavailable ? failure : undefined);
      // A broken client keeps our listener: a late 'error' from its dying socket is still heard.
      if (!broken) client.off('error', onError);
      client.release(broken);
    }
  }

  /**
   * `fn` on a checked-out client whose first statement is `first`. When that statement's bytes never
   * left (the pooled connection had been reset an instant before), nothing ran on the server: the
   * broken client goes back and the whole thing starts once more on another.
   */
  private async withFreshClient<T>(first: string, fn: (x: SqlExecutor, isBroken: () => boolean) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.withClient(async (client, isBroken) => {
          const x = PostgresStore.executor(client, this.where);
          try {
            await x.run(first);
          } catch (err) {
            if (attempt === 0 && neverSent(err)) throw new StaleConnection(err);
            throw err;
          }
          return fn(x, isBroken);
        });
      } catch (err) {
        if (!(err instanceof StaleConnection)) throw err;
      }
    }
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.withFreshClient('BEGIN', async (tx) => {
      try {
        const out = await fn(tx);
        await tx.run('COMMIT');
        return out;
      } catch (err) {
        // A rollback that fails leaves the client unusable: it is released with that error.
        await tx.run('ROLLBACK').catch((e: unknown) => {
          throw e instanceof StateStoreUnavailable ? e : err;
        });
        throw err;
      }
    });
  }

  async migrate(component: string, steps: readonly string[]): Promise<void> {
    // One instance at a time: an advisory lock keeps two gateways starting together from racing.
    await this.withFreshClient('SELECT pg_advisory_lock(81723)', async (x, isBroken) => {
      try {
        await migrate(x, component, steps);
      } finally {
        if (!isBroken()) await x.run('SELECT pg_advisory_unlock(81723)').catch(() => undefined);
      }
    });
  }

  async ping(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new StateStoreUnavailable(`the state store (${this.where}) did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.get('SELECT 1 AS ok'), timeout]);
    } finally {
      clearTimeout(timer);
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
  if (config.driver === 'sqlite') return new SqliteStore(config.file, config.busyTimeoutMs ?? STATE_DEFAULTS.busyTimeoutMs);
  const store = new PostgresStore(config.url, config.poolSize ?? 10, {
    connectTimeoutMs: config.connectTimeoutMs ?? STATE_DEFAULTS.connectTimeoutMs,
    statementTimeoutMs: config.statementTimeoutMs ?? STATE_DEFAULTS.statementTimeoutMs,
  });
  await store.get('SELECT 1 AS ok'); // fail at start-up, not on the first request
  return store;
}
