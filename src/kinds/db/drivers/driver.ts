/**
 * One interface over the database drivers (better-sqlite3, pg, mysql2, mssql): run a compiled
 * statement with positional values and get rows, or stream them one at a time without buffering
 * the result. Each driver opens its connections read-only where the engine allows it and applies
 * the adapter's pool size and timeouts.
 */
import type { DialectName } from '../dialects.ts';
import type { Row } from '../row-mapping.ts';
import type { SqlValue } from '../request-params.ts';

export interface QueryOptions {
  signal: AbortSignal;
}

export interface DbDriver {
  readonly dialect: DialectName;
  /** Where it connects, for messages (never a password). */
  readonly where: string;
  /** Runs a statement and returns all its rows (for gets and small pages). */
  query(sql: string, values: readonly SqlValue[], opts: QueryOptions): Promise<Row[]>;
  /**
   * The same, run at once, for a driver whose statements run synchronously (better-sqlite3): the
   * kind calls it first and saves the promise; errors are thrown, not rejected. Undefined when it
   * cannot run at once without blocking (the database is locked): the kind then calls `query`.
   */
  querySync?(sql: string, values: readonly SqlValue[], opts: QueryOptions): Row[] | undefined;
  /** Streams a statement's rows; breaking out of the loop stops the query and frees the connection. */
  stream(sql: string, values: readonly SqlValue[], opts: QueryOptions): AsyncIterable<Row>;
  /** A trivial query within `timeoutMs`; throws when the database cannot be reached. */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface DriverSettings {
  /** For the application name the database sees. */
  adapter: string;
  poolMax: number;
  poolMin: number;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** Rows fetched per round trip when streaming. */
  fetchSize: number;
}

/** Rejects when `signal` aborts (the policy's timeout, or the caller gone). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
