/**
 * The singletons' lease in the state store: one row (`ficus_singleton_lease`) naming the instance
 * that runs the loops only one instance may run (outbox delivery, reply polling, gate evaluation,
 * change feeds), and until when. The holder renews it (every second); another instance takes it only
 * once it has expired, or at once when the holder is known to be dead (its process exited). The same
 * SQL on SQLite (workers of one machine sharing the file) and PostgreSQL (any number of machines).
 * Expiry is judged by each instance's clock: machines sharing a PostgreSQL store keep theirs in step
 * (NTP), well within the lease's length.
 */
import type { SqlStore } from '../state/sql-store.ts';

export interface LeaseHolder {
  owner: string;
  /** Epoch ms until which the holder's claim stands. */
  expiresAt: number;
  /** Epoch ms when the holder took the lease. */
  acquiredAt: number;
}

const TABLE = 'ficus_singleton_lease';

export class SingletonLease {
  constructor(
    private readonly store: SqlStore,
    readonly owner: string,
    readonly name = 'singletons',
    private readonly now: () => number = Date.now,
  ) {}

  migrate(): Promise<void> {
    return this.store.migrate('singleton-lease', [`CREATE TABLE ${TABLE} (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at BIGINT NOT NULL, acquired_at BIGINT NOT NULL)`]);
  }

  /** Takes the lease (free, expired, or ours already) for `ttlMs` from now; false when another instance holds it. */
  async acquire(ttlMs: number): Promise<boolean> {
    const now = this.now();
    const inserted = await this.store.run(`INSERT INTO ${TABLE} (name, owner, expires_at, acquired_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`, [this.name, this.owner, now + ttlMs, now]);
    if (inserted.changes === 1) return true;
    const r = await this.store.run(`UPDATE ${TABLE} SET acquired_at = CASE WHEN owner = ? THEN acquired_at ELSE ? END, owner = ?, expires_at = ? WHERE name = ? AND (owner = ? OR expires_at < ?)`, [
      this.owner,
      now,
      this.owner,
      now + ttlMs,
      this.name,
      this.owner,
      now,
    ]);
    return r.changes === 1;
  }

  /** Takes the lease from `deadOwner`, whose process is known to have ended, whatever its expiry; false when it holds it no more. */
  async takeOver(deadOwner: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const r = await this.store.run(`UPDATE ${TABLE} SET owner = ?, expires_at = ?, acquired_at = ? WHERE name = ? AND owner = ?`, [this.owner, now + ttlMs, now, this.name, deadOwner]);
    return r.changes === 1;
  }

  /** Lets the lease go at once (shutdown), so that another instance takes it without waiting for it to expire. */
  async release(): Promise<void> {
    await this.store.run(`UPDATE ${TABLE} SET expires_at = 0 WHERE name = ? AND owner = ?`, [this.name, this.owner]);
  }

  async holder(): Promise<LeaseHolder | undefined> {
    const r = await this.store.get<{ owner: string; expires_at: number | string; acquired_at: number | string }>(`SELECT owner, expires_at, acquired_at FROM ${TABLE} WHERE name = ?`, [this.name]);
    return r ? { owner: r.owner, expiresAt: Number(r.expires_at), acquiredAt: Number(r.acquired_at) } : undefined;
  }
}
