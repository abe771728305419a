/**
 * The dead-letter queue: writes that exhausted their attempts, that the legacy system rejected as
 * invalid, and batch records quarantined with their reasons. Each keeps its request and every
 * attempt's error; people list, inspect, replay (back into the outbox) and expire them.
 */
import type { SqlExecutor, SqlParam, SqlStore } from '../state/sql-store.ts';
import { storable, type AttemptError, type StoredRequest } from './outbox-store.ts';

export type DeadReason = 'exhausted' | 'rejected' | 'quarantined';
export type DeadState = 'dead' | 'replayed' | 'expired';

export interface DeadLetter {
  id: string;
  /** outbox: a queued write that could not be delivered; batch: one record of a batch the legacy system refused. */
  source: 'outbox' | 'batch';
  operation: string;
  idemKey: string | null;
  /** The request a replay makes again (for a batch record: the one record, through its replay operation). */
  request: StoredRequest;
  reason: DeadReason;
  errors: AttemptError[];
  attempts: number;
  acceptedAt: number;
  deadAt: number;
  state?: DeadState;
  replays?: number;
}

export interface DeadLetterFilter {
  /** Default `dead` (waiting for someone); `all` for every state. */
  state?: DeadState | 'all';
  operation?: string;
  reason?: DeadReason;
  /** Dead for at least this many seconds. */
  olderThanSeconds?: number;
  /** Some attempt's error contains this text. */
  errorContains?: string;
  ids?: readonly string[];
  limit?: number;
}

interface Row {
  id: string;
  source: string;
  operation: string;
  idem_key: string | null;
  request: string;
  reason: string;
  errors: string;
  attempts: number | string;
  accepted_at: number | string;
  dead_at: number | string;
  state: string;
  replays: number | string;
}

function toLetter(r: Row): DeadLetter {
  return {
    id: r.id,
    source: r.source as DeadLetter['source'],
    operation: r.operation,
    idemKey: r.idem_key,
    request: storable(JSON.parse(r.request) as StoredRequest), // rows written before the allow-list: credentials never leave
    reason: r.reason as DeadReason,
    errors: JSON.parse(r.errors) as AttemptError[],
    attempts: Number(r.attempts),
    acceptedAt: Number(r.accepted_at),
    deadAt: Number(r.dead_at),
    state: r.state as DeadState,
    replays: Number(r.replays),
  };
}

export class DeadLetterStore {
  constructor(
    private readonly store: SqlStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Adds a dead letter, or makes a replayed one dead again with its new errors (same id). */
  async put(tx: SqlExecutor, d: DeadLetter): Promise<DeadLetter> {
    await tx.run(
      `INSERT INTO writes_dead_letters (id, source, operation, idem_key, request, reason, errors, attempts, accepted_at, dead_at, state, replays, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'dead', 0, ?)
       ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, errors = excluded.errors, attempts = excluded.attempts,
         dead_at = excluded.dead_at, state = 'dead', updated_at = excluded.updated_at`,
      [d.id, d.source, d.operation, d.idemKey, JSON.stringify(storable(d.request)), d.reason, JSON.stringify(d.errors), d.attempts, d.acceptedAt, d.deadAt, d.deadAt],
    );
    return { ...d, state: 'dead' };
  }

  /** Quarantines records (a batch's rejected ones); a record already quarantined under the same id is left as it is. */
  async quarantine(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.store.transaction(async (tx) => {
      for (const d of letters) {
        await tx.run(
          `INSERT INTO writes_dead_letters (id, source, operation, idem_key, request, reason, errors, attempts, accepted_at, dead_at, state, replays, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'dead', 0, ?) ON CONFLICT (id) DO NOTHING`,
          [d.id, d.source, d.operation, d.idemKey, JSON.stringify(storable(d.request)), d.reason, JSON.stringify(d.errors), d.attempts, d.acceptedAt, d.deadAt, d.deadAt],
        );
      }
    });
  }

  private where(f: DeadLetterFilter): { sql: string; params: SqlParam[] } {
    const parts: string[] = [];
    const params: SqlParam[] = [];
    const state = f.state ?? 'dead';
    if (state !== 'all') {
      parts.push('state = ?');
      params.push(state);
    }
    if (f.operation) {
      parts.push('operation = ?');
      params.push(f.operation);
    }
    if (f.reason) {
      parts.push('reason = ?');
      params.push(f.reason);
    }
    if (f.olderThanSeconds !== undefined) {
      parts.push('dead_at <= ?');
      params.push(this.now() - f.olderThanSeconds * 1000);
    }
    if (f.errorContains) {
      parts.push('LOWER(errors) LIKE ?');
      params.push(`%${f.errorContains.toLowerCase().replace(/[%_]/g, '')}%`);
    }
    if (f.ids) {
      if (f.ids.length === 0) parts.push('1 = 0');
      else {
        parts.push(`id IN (${f.ids.map(() => '?').join(', ')})`);
        params.push(...f.ids);
      }
    }
    return { sql: parts.length > 0 ? `WHERE ${parts.join(' AND ')}` : '', params };
  }

  async list(f: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    const w = this.where(f);
    const rows = await this.store.all<Row>(`SELECT * FROM writes_dead_letters ${w.sql} ORDER BY dead_at, id LIMIT ?`, [...w.params, f.limit ?? 100]);
    return rows.map(toLetter);
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    const r = await this.store.get<Row>('SELECT * FROM writes_dead_letters WHERE id = ?', [id]);
    return r ? toLetter(r) : undefined;
  }

  /**
   * Puts dead letters matching the filter back into the outbox, due at once with fresh attempts.
   * An outbox write is revived under its own id (its status resource follows it); a quarantined
   * batch record becomes a new outbox write. Returns the ids replayed.
   */
  async replay(
    f: DeadLetterFilter,
    toRequest: (d: DeadLetter) => { operation: string; request: StoredRequest; orderingKey?: string } | undefined,
  ): Promise<{ replayed: string[]; skipped: { id: string; why: string }[] }> {
    const letters = await this.list({ ...f, state: 'dead', limit: f.limit ?? 10_000 });
    const replayed: string[] = [];
    const skipped: { id: string; why: string }[] = [];
    for (const d of letters) {
      const target = toRequest(d);
      if (!target) {
        skipped.push({ id: d.id, why: `operation ${d.operation} has no replay target (set writes.routes.${d.operation}.batch.replayAs)` });
        continue;
      }
      await this.store.transaction(async (tx) => {
        const now = this.now();
        const r = await tx.run(`UPDATE writes_dead_letters SET state = 'replayed', replays = replays + 1, updated_at = ? WHERE id = ? AND state = 'dead'`, [now, d.id]);
        if (r.changes !== 1) return;
        const revived = await tx.run(
          `UPDATE writes_outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, lease_owner = NULL, lease_until = 0, updated_at = ? WHERE id = ? AND state IN ('dead', 'expired')`,
          [now, now, d.id],
        );
        if (revived.changes === 0) {
          await tx.run(
            `INSERT INTO writes_outbox (id, operation, idem_key, ordering_key, request, state, attempts, next_attempt_at, lease_until, created_at, updated_at, errors)
             VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, 0, ?, ?, '[]')
             ON CONFLICT (id) DO UPDATE SET state = 'pending', attempts = 0, next_attempt_at = excluded.next_attempt_at, lease_owner = NULL, lease_until = 0, updated_at = excluded.updated_at`,
            [d.id, target.operation, d.idemKey, target.orderingKey ?? null, JSON.stringify(storable(target.request)), now, now, now],
          );
        }
        replayed.push(d.id);
      });
    }
    return { replayed, skipped };
  }

  /** Gives up on dead letters for good: they leave the queue (kept, marked expired, for the record). */
  async expire(f: DeadLetterFilter): Promise<string[]> {
    const letters = await this.list({ ...f, state: 'dead', limit: f.limit ?? 100_000 });
    const ids = letters.map((d) => d.id);
    if (ids.length === 0) return [];
    await this.store.transaction(async (tx) => {
      const now = this.now();
      for (const id of ids) {
        await tx.run(`UPDATE writes_dead_letters SET state = 'expired', updated_at = ? WHERE id = ? AND state = 'dead'`, [now, id]);
        await tx.run(`UPDATE writes_outbox SET state = 'expired', updated_at = ? WHERE id = ? AND state = 'dead'`, [now, id]);
      }
    });
    return ids;
  }

  /** The dead letter that arrived last and still waits for someone (the dashboard's "newest"). */
  async newest(): Promise<DeadLetter | undefined> {
    const r = await this.store.get<Row>(`SELECT * FROM writes_dead_letters WHERE state = 'dead' ORDER BY dead_at DESC, id DESC LIMIT 1`);
    return r ? toLetter(r) : undefined;
  }

  async figures(): Promise<{ depth: number; oldest: number | null }> {
    const r = await this.store.get<{ n: number | string; oldest: number | string | null }>(`SELECT COUNT(*) AS n, MIN(dead_at) AS oldest FROM writes_dead_letters WHERE state = 'dead'`);
    return { depth: Number(r?.n ?? 0), oldest: r?.oldest === null || r?.oldest === undefined ? null : Number(r.oldest) };
  }
}
