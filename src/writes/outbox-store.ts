/**
 * The durable outbox: accepted writes, committed to the state store before the caller hears 202,
 * claimed by delivery workers under a lease (so a write held by a worker that died is taken over),
 * kept in order per ordering key, and moved to the dead-letter queue when they cannot be delivered.
 */
import { withoutCredentialHeaders } from '../http/stored-headers.ts';
import type { SqlParam, SqlStore } from '../state/sql-store.ts';
import type { DeadLetterStore } from './dead-letter-store.ts';
import { type DeadLetter, type DeadReason } from './dead-letter-store.ts';

/** A write as it will be made again by the worker: the operation and the request as the gateway received it. */
export interface StoredRequest {
  operationId: string;
  method: string;
  pathParams: Record<string, unknown>;
  query: Record<string, unknown>;
  headers: Record<string, string>;
  body: unknown;
  requestId: string;
  /** The caller's name as the front door knew it (never a credential): the delivery names it to the backend, the DLQ shows it. */
  consumer?: string;
}

export interface AttemptError {
  attempt: number;
  at: string;
  /** The HTTP status the attempt would have given the caller. */
  status?: number;
  /** The problem type, e.g. upstream-unavailable. */
  type?: string;
  error: string;
}

export type OutboxState = 'pending' | 'delivering' | 'delivered' | 'dead' | 'expired';

export interface OutboxEntry {
  seq: number;
  id: string;
  operation: string;
  idemKey: string | null;
  orderingKey: string | null;
  request: StoredRequest;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  updatedAt: number;
  result: unknown;
  errors: AttemptError[];
}

interface Row {
  seq: number | string;
  id: string;
  operation: string;
  idem_key: string | null;
  ordering_key: string | null;
  request: string;
  state: string;
  attempts: number | string;
  next_attempt_at: number | string;
  created_at: number | string;
  updated_at: number | string;
  result: string | null;
  errors: string;
}

const COLUMNS = 'seq, id, operation, idem_key, ordering_key, request, state, attempts, next_attempt_at, created_at, updated_at, result, errors';

/** What is written of a request: never a credential header, whoever built it (see src/http/stored-headers.ts). */
export function storable(request: StoredRequest): StoredRequest {
  return { ...request, headers: withoutCredentialHeaders(request.headers) };
}

function toEntry(r: Row): OutboxEntry {
  return {
    seq: Number(r.seq),
    id: r.id,
    operation: r.operation,
    idemKey: r.idem_key,
    orderingKey: r.ordering_key,
    request: storable(JSON.parse(r.request) as StoredRequest),
    state: r.state as OutboxState,
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    result: r.result === null ? undefined : (JSON.parse(r.result) as unknown),
    errors: JSON.parse(r.errors) as AttemptError[],
  };
}

export class OutboxStore {
  constructor(
    private readonly store: SqlStore,
    readonly deadLetters: DeadLetterStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Commits one write; resolves once it is durable. */
  async enqueue(e: { id: string; operation: string; idemKey?: string; orderingKey?: string; request: StoredRequest }): Promise<void> {
    const now = this.now();
    await this.store.run(
      `INSERT INTO writes_outbox (id, operation, idem_key, ordering_key, request, state, attempts, next_attempt_at, lease_until, created_at, updated_at, errors)
       VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, 0, ?, ?, '[]')`,
      [e.id, e.operation, e.idemKey ?? null, e.orderingKey ?? null, JSON.stringify(storable(e.request)), now, now, now],
    );
  }

  async get(id: string): Promise<OutboxEntry | undefined> {
    const r = await this.store.get<Row>(`SELECT ${COLUMNS} FROM writes_outbox WHERE id = ?`, [id]);
    return r ? toEntry(r) : undefined;
  }

  /**
   * Takes up to `limit` writes that are due, oldest first, skipping any write whose ordering key has
   * an earlier write still waiting; each is leased to `owner` for `leaseMs` and its attempt counted.
   */
  async claim(owner: string, limit: number, leaseMs: number): Promise<OutboxEntry[]> {
    const now = this.now();
    const due = `((o.state = 'pending' AND o.next_attempt_at <= ?) OR (o.state = 'delivering' AND o.lease_until < ?))`;
    const candidates = await this.store.all<Row>(
      `SELECT ${COLUMNS.split(', ')
        .map((c) => `o.${c}`)
        .join(', ')} FROM writes_outbox o
       WHERE ${due}
         AND (o.ordering_key IS NULL OR NOT EXISTS (
           SELECT 1 FROM writes_outbox p
           WHERE p.ordering_key = o.ordering_key AND p.operation = o.operation AND p.seq < o.seq AND p.state IN ('pending', 'delivering')))
       ORDER BY o.seq LIMIT ?`,
      [now, now, limit],
    );
    const claimed: OutboxEntry[] = [];
    for (const c of candidates) {
      const r = await this.store.run(
        `UPDATE writes_outbox SET state = 'delivering', lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
         WHERE id = ? AND ((state = 'pending' AND next_attempt_at <= ?) OR (state = 'delivering' AND lease_until < ?))`,
        [owner, now + leaseMs, now, c.id, now, now],
      );
      if (r.changes === 1) claimed.push({ ...toEntry(c), state: 'delivering', attempts: Number(c.attempts) + 1 });
    }
    return claimed;
  }

  /** The write reached the legacy system. False when the lease was lost (another worker has it now). */
  async markDelivered(id: string, owner: string, result: unknown): Promise<boolean> {
    const r = await this.store.run(
      `UPDATE writes_outbox SET state = 'delivered', result = ?, lease_owner = NULL, lease_until = 0, updated_at = ? WHERE id = ? AND state = 'delivering' AND lease_owner = ?`,
      [JSON.stringify(result ?? null), this.now(), id, owner],
    );
    return r.changes === 1;
  }

  /** The attempt failed; try again at `nextAttemptAt`. `counted: false` gives the attempt back (the circuit was open: nothing was tried). */
  async reschedule(id: string, owner: string, nextAttemptAt: number, error: AttemptError | undefined, counted: boolean): Promise<boolean> {
    const params: SqlParam[] = [nextAttemptAt, this.now()];
    let errors = '';
    if (error) {
      errors = ', errors = ?';
      const cur = await this.get(id);
      params.push(JSON.stringify([...(cur?.errors ?? []), error]));
    }
    params.push(id, owner);
    const r = await this.store.run(
      `UPDATE writes_outbox SET state = 'pending', next_attempt_at = ?, lease_owner = NULL, lease_until = 0, updated_at = ?${errors}${counted ? '' : ', attempts = attempts - 1'}
       WHERE id = ? AND state = 'delivering' AND lease_owner = ?`,
      params,
    );
    return r.changes === 1;
  }

  /** Moves the write to the dead-letter queue with every attempt's error, in one transaction. */
  async kill(entry: OutboxEntry, owner: string, reason: DeadReason, last: AttemptError): Promise<DeadLetter | undefined> {
    return this.store.transaction(async (tx) => {
      const now = this.now();
      const cur = await tx.get<Row>(`SELECT ${COLUMNS} FROM writes_outbox WHERE id = ? AND state = 'delivering' AND lease_owner = ?`, [entry.id, owner]);
      if (!cur) return undefined;
      const errors = [...(JSON.parse(cur.errors) as AttemptError[]), last];
      await tx.run(`UPDATE writes_outbox SET state = 'dead', errors = ?, lease_owner = NULL, lease_until = 0, updated_at = ? WHERE id = ?`, [JSON.stringify(errors), now, entry.id]);
      return this.deadLetters.put(tx, {
        id: entry.id,
        source: 'outbox',
        operation: entry.operation,
        idemKey: entry.idemKey,
        request: entry.request,
        reason,
        errors,
        attempts: Number(cur.attempts),
        acceptedAt: Number(cur.created_at),
        deadAt: now,
      });
    });
  }

  /** Hands writes leased to `owner` back to the outbox (shutdown): another worker, or the next start, delivers them. */
  async release(owner: string, ids?: readonly string[]): Promise<number> {
    const only = ids && ids.length > 0 ? ` AND id IN (${ids.map(() => '?').join(', ')})` : '';
    const r = await this.store.run(
      `UPDATE writes_outbox SET state = 'pending', attempts = attempts - 1, lease_owner = NULL, lease_until = 0, next_attempt_at = ? WHERE state = 'delivering' AND lease_owner = ?${only}`,
      [this.now(), owner, ...(ids ?? [])],
    );
    return r.changes;
  }

  /** Writes a process that ended held (its owner begins with `ownerPrefix`, `<host>:<pid>:`) are due again at once. */
  async releaseEnded(ownerPrefix: string): Promise<number> {
    return (
      await this.store.run(`UPDATE writes_outbox SET state = 'pending', lease_owner = NULL, lease_until = 0 WHERE state = 'delivering' AND substr(lease_owner, 1, ?) = ?`, [
        ownerPrefix.length,
        ownerPrefix,
      ])
    ).changes;
  }

  /** At start on SQLite (one instance): writes left `delivering` by a previous run are due again at once. */
  async releaseAll(): Promise<number> {
    return (await this.store.run(`UPDATE writes_outbox SET state = 'pending', lease_owner = NULL, lease_until = 0 WHERE state = 'delivering'`)).changes;
  }

  async figures(): Promise<{ pending: number; oldest: number | null }> {
    const r = await this.store.get<{ n: number | string; oldest: number | string | null }>(
      `SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM writes_outbox WHERE state IN ('pending', 'delivering')`,
    );
    return { pending: Number(r?.n ?? 0), oldest: r?.oldest === null || r?.oldest === undefined ? null : Number(r.oldest) };
  }

  /** Counts by state, for tests and the admin API. */
  async counts(): Promise<Record<string, number>> {
    const rows = await this.store.all<{ state: string; n: number | string }>('SELECT state, COUNT(*) AS n FROM writes_outbox GROUP BY state');
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }
}
