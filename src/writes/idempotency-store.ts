/**
 * Idempotency keys in the state store. The first request with a key takes it (one INSERT that only
 * one instance can win, on SQLite and PostgreSQL alike); its answer is kept until the key expires and
 * given to every retry. A key held past its lease (its instance died) may be taken over.
 */
import type { SqlStore } from '../state/sql-store.ts';
import type { StoredResponse } from './stored-response.ts';

export type BeginOutcome = { outcome: 'owner' } | { outcome: 'done'; response: StoredResponse } | { outcome: 'mismatch' } | { outcome: 'in_flight' };

interface Row {
  fingerprint: string;
  state: string;
  response: string | null;
  lease_until: number | string;
  expires_at: number | string;
}

export class IdempotencyStore {
  constructor(
    private readonly store: SqlStore,
    private readonly opts: { ttlMs: number; leaseMs: number; owner: string; now?: () => number },
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** Tries to take the key for this request; says what to do when someone already has it. */
  async begin(operation: string, key: string, fp: string): Promise<BeginOutcome> {
    for (let round = 0; round < 5; round++) {
      const now = this.now();
      const inserted = await this.store.run(
        `INSERT INTO writes_idempotency (operation, idem_key, fingerprint, state, owner, lease_until, created_at, expires_at)
         VALUES (?, ?, ?, 'in_flight', ?, ?, ?, ?) ON CONFLICT (operation, idem_key) DO NOTHING`,
        [operation, key, fp, this.opts.owner, now + this.opts.leaseMs, now, now + this.opts.ttlMs],
      );
      if (inserted.changes === 1) return { outcome: 'owner' };
      const row = await this.store.get<Row>('SELECT fingerprint, state, response, lease_until, expires_at FROM writes_idempotency WHERE operation = ? AND idem_key = ?', [operation, key]);
      if (!row) continue; // expired and removed in between: try again
      if (Number(row.expires_at) <= now) {
        await this.store.run('DELETE FROM writes_idempotency WHERE operation = ? AND idem_key = ? AND expires_at <= ?', [operation, key, now]);
        continue;
      }
      if (row.fingerprint !== fp) return { outcome: 'mismatch' };
      if (row.state === 'done' && row.response !== null) return { outcome: 'done', response: JSON.parse(row.response) as StoredResponse };
      if (Number(row.lease_until) < now) {
        const taken = await this.store.run(`UPDATE writes_idempotency SET owner = ?, lease_until = ? WHERE operation = ? AND idem_key = ? AND state = 'in_flight' AND lease_until < ?`, [
          this.opts.owner,
          now + this.opts.leaseMs,
          operation,
          key,
          now,
        ]);
        if (taken.changes === 1) return { outcome: 'owner' };
        continue;
      }
      return { outcome: 'in_flight' };
    }
    return { outcome: 'in_flight' };
  }

  /** Keeps the answer of the request that holds the key. */
  async finish(operation: string, key: string, response: StoredResponse): Promise<void> {
    await this.store.run(`UPDATE writes_idempotency SET state = 'done', response = ?, lease_until = 0 WHERE operation = ? AND idem_key = ? AND owner = ?`, [
      JSON.stringify(response),
      operation,
      key,
      this.opts.owner,
    ]);
  }

  /** Gives the key up (the backend failed before anything was written): a retry may try again. */
  async abandon(operation: string, key: string): Promise<void> {
    await this.store.run(`DELETE FROM writes_idempotency WHERE operation = ? AND idem_key = ? AND owner = ? AND state = 'in_flight'`, [operation, key, this.opts.owner]);
  }

  /** Lets requests left in flight by a previous run of this (single, SQLite) instance be taken over at once. */
  /** Keys a process that ended held in flight (owner beginning with `ownerPrefix`, `<host>:<pid>:`) may be taken by a retry at once. */
  async releaseEnded(ownerPrefix: string): Promise<number> {
    return (await this.store.run(`UPDATE writes_idempotency SET lease_until = 0 WHERE state = 'in_flight' AND substr(owner, 1, ?) = ?`, [ownerPrefix.length, ownerPrefix])).changes;
  }

  async releaseAbandoned(): Promise<number> {
    return (await this.store.run(`UPDATE writes_idempotency SET lease_until = 0 WHERE state = 'in_flight'`)).changes;
  }

  async purgeExpired(): Promise<number> {
    return (await this.store.run('DELETE FROM writes_idempotency WHERE expires_at <= ?', [this.now()])).changes;
  }
}
