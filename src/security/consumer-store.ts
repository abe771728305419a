/**
 * Consumers and their API keys, in the state store (SQLite or PostgreSQL). A key is shown once,
 * when it is issued; the store keeps only its SHA-256 (keys are 256 random bits, so a fast hash is
 * enough: there is nothing to guess). Every instance keeps the active keys' hashes in memory,
 * reloaded every few seconds (so a key revoked on another instance stops working there within
 * `refreshMs`); a hash it does not know is looked up in the store once and remembered, found or not,
 * until the next reload.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SqlStore } from '../state/sql-store.ts';

/** Issued keys look like `fk_<id>_<secret>`: the id names the key in lists and revocations. */
const KEY_FORMAT = /^fk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const CONSUMER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Unknown hashes remembered between reloads, at most (a flood of wrong keys costs one lookup each, then none). */
const MAX_UNKNOWN = 10_000;

export interface ConsumerView {
  name: string;
  description: string;
  createdAt: string;
  activeKeys: number;
}

export interface KeyView {
  id: string;
  consumer: string;
  createdAt: string;
  revokedAt: string | null;
  expiresAt: string | null;
}

interface ActiveKey {
  consumer: string;
  id: string;
  expiresAt: number | null;
}

export class ConsumerError extends Error {
  constructor(
    readonly reason: 'exists' | 'unknown-consumer' | 'unknown-key' | 'bad-name',
    message: string,
  ) {
    super(message);
  }
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class ConsumerStore {
  private active = new Map<string, ActiveKey>();
  private unknown = new Set<string>();
  private names = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: SqlStore,
    private readonly refreshMs = 5_000,
  ) {}

  async start(): Promise<void> {
    await this.store.migrate('consumers', [
      'CREATE TABLE IF NOT EXISTS ficus_consumers (name TEXT PRIMARY KEY, description TEXT NOT NULL, created_at BIGINT NOT NULL)',
      'CREATE TABLE IF NOT EXISTS ficus_api_keys (id TEXT PRIMARY KEY, consumer TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL, revoked_at BIGINT, expires_at BIGINT)',
      'CREATE INDEX IF NOT EXISTS ficus_api_keys_consumer ON ficus_api_keys (consumer)',
    ]);
    await this.reload();
    this.timer = setInterval(() => void this.reload().catch(() => undefined), this.refreshMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Reads every active key's hash (and every consumer's name) again; on failure keeps what it has. */
  async reload(): Promise<void> {
    const now = Date.now();
    const rows = await this.store.all<{ id: string; consumer: string; hash: string; expires_at: number | string | null }>(
      'SELECT id, consumer, hash, expires_at FROM ficus_api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)',
      [now],
    );
    const names = await this.store.all<{ name: string }>('SELECT name FROM ficus_consumers');
    const active = new Map<string, ActiveKey>();
    for (const r of rows) active.set(r.hash, { consumer: r.consumer, id: r.id, expiresAt: r.expires_at === null ? null : Number(r.expires_at) });
    this.active = active;
    this.unknown = new Set();
    this.names = new Set(names.map((n) => n.name));
  }

  /** Whether `name` is a consumer (as of the last reload): metrics label only known names. */
  isConsumer(name: string): boolean {
    return this.names.has(name);
  }

  /**
   * The consumer a key belongs to, or undefined for a key that is malformed, unknown, revoked or
   * expired. Synchronous (from memory) for keys seen since the last reload.
   */
  lookup(key: string): { consumer: string; keyId: string } | undefined | Promise<{ consumer: string; keyId: string } | undefined> {
    if (key.length !== 59 || !KEY_FORMAT.test(key)) return undefined;
    const hash = hashKey(key);
    const hit = this.active.get(hash);
    if (hit) return this.valid(hit, hash);
    if (this.unknown.has(hash)) return undefined;
    return this.fetch(hash);
  }

  private valid(k: ActiveKey, hash: string): { consumer: string; keyId: string } | undefined {
    if (k.expiresAt !== null && k.expiresAt <= Date.now()) {
      this.active.delete(hash);
      return undefined;
    }
    return { consumer: k.consumer, keyId: k.id };
  }

  private async fetch(hash: string): Promise<{ consumer: string; keyId: string } | undefined> {
    const row = await this.store.get<{ id: string; consumer: string; hash: string; expires_at: number | string | null }>(
      'SELECT id, consumer, hash, expires_at FROM ficus_api_keys WHERE hash = ? AND revoked_at IS NULL',
      [hash],
    );
    // (The hash came out of an index lookup; compare in constant time anyway.)
    if (!row || !timingSafeEqual(Buffer.from(row.hash), Buffer.from(hash))) {
      if (this.unknown.size >= MAX_UNKNOWN) this.unknown.clear();
      this.unknown.add(hash);
      return undefined;
    }
    const k = { consumer: row.consumer, id: row.id, expiresAt: row.expires_at === null ? null : Number(row.expires_at) };
    this.active.set(hash, k);
    return this.valid(k, hash);
  }

  async addConsumer(name: string, description = ''): Promise<ConsumerView> {
    if (!CONSUMER_NAME.test(name) || name === 'anonymous' || name === 'other') {
      throw new ConsumerError('bad-name', `"${name}" is not a consumer name: 1 to 64 letters, digits, ".", "_" or "-" (not "anonymous" or "other")`);
    }
    const now = Date.now();
    const { changes } = await this.store.run('INSERT INTO ficus_consumers (name, description, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING', [name, description, now]);
    if (changes === 0) throw new ConsumerError('exists', `consumer ${name} already exists`);
    this.names.add(name);
    return { name, description, createdAt: new Date(now).toISOString(), activeKeys: 0 };
  }

  async listConsumers(): Promise<ConsumerView[]> {
    const now = Date.now();
    const rows = await this.store.all<{ name: string; description: string; created_at: number | string; active: number | string | null }>(
      `SELECT c.name, c.description, c.created_at,
              (SELECT COUNT(*) FROM ficus_api_keys k WHERE k.consumer = c.name AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?)) AS active
         FROM ficus_consumers c ORDER BY c.name`,
      [now],
    );
    return rows.map((r) => ({ name: r.name, description: r.description, createdAt: new Date(Number(r.created_at)).toISOString(), activeKeys: Number(r.active ?? 0) }));
  }

  async listKeys(consumer: string): Promise<KeyView[]> {
    await this.requireConsumer(consumer);
    const rows = await this.store.all<{ id: string; consumer: string; created_at: number | string; revoked_at: number | string | null; expires_at: number | string | null }>(
      'SELECT id, consumer, created_at, revoked_at, expires_at FROM ficus_api_keys WHERE consumer = ? ORDER BY created_at, id',
      [consumer],
    );
    const iso = (v: number | string | null) => (v === null ? null : new Date(Number(v)).toISOString());
    return rows.map((r) => ({ id: r.id, consumer: r.consumer, createdAt: iso(r.created_at) as string, revokedAt: iso(r.revoked_at), expiresAt: iso(r.expires_at) }));
  }

  /** A new key for `consumer`: returned once, in clear; only its hash is kept. */
  async issueKey(consumer: string): Promise<{ id: string; consumer: string; key: string }> {
    await this.requireConsumer(consumer);
    const id = randomBytes(6).toString('hex');
    const key = `fk_${id}_${randomBytes(32).toString('base64url')}`;
    const hash = hashKey(key);
    await this.store.run('INSERT INTO ficus_api_keys (id, consumer, hash, created_at) VALUES (?, ?, ?, ?)', [id, consumer, hash, Date.now()]);
    this.active.set(hash, { consumer, id, expiresAt: null });
    this.unknown.delete(hash);
    return { id, consumer, key };
  }

  /** Revokes one key by id, or every key of a consumer; the number revoked. */
  async revoke(which: { keyId: string } | { consumer: string }): Promise<number> {
    const now = Date.now();
    let changes: number;
    if ('keyId' in which) {
      ({ changes } = await this.store.run('UPDATE ficus_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, which.keyId]));
      if (changes === 0) {
        const exists = await this.store.get('SELECT id FROM ficus_api_keys WHERE id = ?', [which.keyId]);
        if (!exists) throw new ConsumerError('unknown-key', `no key ${which.keyId}`);
      }
    } else {
      await this.requireConsumer(which.consumer);
      ({ changes } = await this.store.run('UPDATE ficus_api_keys SET revoked_at = ? WHERE consumer = ? AND revoked_at IS NULL', [now, which.consumer]));
    }
    for (const [hash, k] of this.active) if ('keyId' in which ? k.id === which.keyId : k.consumer === which.consumer) this.active.delete(hash);
    return changes;
  }

  /** A new key; the consumer's other keys stop working after `graceMs` (0: at once). */
  async rotate(consumer: string, graceMs: number): Promise<{ id: string; consumer: string; key: string; retiring: string[]; retireAt: string }> {
    await this.requireConsumer(consumer);
    const issued = await this.issueKey(consumer);
    const at = Date.now() + graceMs;
    const others = await this.store.all<{ id: string }>('SELECT id FROM ficus_api_keys WHERE consumer = ? AND id <> ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)', [
      consumer,
      issued.id,
      at,
    ]);
    for (const o of others) {
      if (graceMs === 0) await this.store.run('UPDATE ficus_api_keys SET revoked_at = ? WHERE id = ?', [at, o.id]);
      else await this.store.run('UPDATE ficus_api_keys SET expires_at = ? WHERE id = ?', [at, o.id]);
    }
    const retiring = new Set(others.map((o) => o.id));
    for (const [hash, k] of this.active) {
      if (!retiring.has(k.id)) continue;
      if (graceMs === 0) this.active.delete(hash);
      else k.expiresAt = at;
    }
    return { ...issued, retiring: [...retiring], retireAt: new Date(at).toISOString() };
  }

  private async requireConsumer(name: string): Promise<void> {
    const row = await this.store.get('SELECT name FROM ficus_consumers WHERE name = ?', [name]);
    if (!row) throw new ConsumerError('unknown-consumer', `no consumer ${name}: add it first (ficus consumers add ${name})`);
  }
}
