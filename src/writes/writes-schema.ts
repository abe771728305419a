/** The tables of the writes feature, created with the state store's migrations (SQLite or PostgreSQL). */
import type { SqlStore } from '../state/sql-store.ts';

export async function migrateWrites(store: SqlStore): Promise<void> {
  const serial = store.dialect === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT';
  await store.migrate('writes', [
    `CREATE TABLE writes_idempotency (
      operation TEXT NOT NULL,
      idem_key TEXT NOT NULL,
      fingerprint TEXT NOT NULL,
      state TEXT NOT NULL,
      response TEXT,
      owner TEXT,
      lease_until BIGINT NOT NULL,
      created_at BIGINT NOT NULL,
      expires_at BIGINT NOT NULL,
      PRIMARY KEY (operation, idem_key)
    )`,
    'CREATE INDEX writes_idempotency_expiry ON writes_idempotency (expires_at)',
    `CREATE TABLE writes_outbox (
      seq ${serial},
      id TEXT NOT NULL UNIQUE,
      operation TEXT NOT NULL,
      idem_key TEXT,
      ordering_key TEXT,
      request TEXT NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at BIGINT NOT NULL,
      lease_owner TEXT,
      lease_until BIGINT NOT NULL DEFAULT 0,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      result TEXT,
      errors TEXT NOT NULL DEFAULT '[]'
    )`,
    'CREATE INDEX writes_outbox_due ON writes_outbox (state, next_attempt_at)',
    'CREATE INDEX writes_outbox_ordering ON writes_outbox (ordering_key, seq)',
    `CREATE TABLE writes_dead_letters (
      id TEXT PRIMARY KEY,
      source TEXT NOT NULL,
      operation TEXT NOT NULL,
      idem_key TEXT,
      request TEXT NOT NULL,
      reason TEXT NOT NULL,
      errors TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      accepted_at BIGINT NOT NULL,
      dead_at BIGINT NOT NULL,
      state TEXT NOT NULL,
      replays INTEGER NOT NULL DEFAULT 0,
      updated_at BIGINT NOT NULL
    )`,
    'CREATE INDEX writes_dead_letters_state ON writes_dead_letters (state, dead_at)',
  ]);
}
