/**
 * The change feeds' state in the gateway's state store: subscriptions (where events go), the event
 * outbox (one delivery per event and subscription, ordered per key, leased, retried, dead after the
 * budget), each feed's watermark, the hash of every row a feed has sent (to recognise a change read
 * twice, and deletes), and the rows quarantined because the mapping could not read them.
 *
 * A feed's events, the rows' hashes and its watermark are written in one transaction (`commit`):
 * after a crash the feed reads the same changes again and makes the same event ids.
 */
import { randomUUID } from 'node:crypto';
import type { SqlExecutor, SqlParam, SqlStore } from '../state/sql-store.ts';
import { storedEvent, type CloudEvent, type StoredEvent } from './cloud-event.ts';

export type SubscriptionKind = 'webhook' | 'amqp';

export interface Subscription {
  id: string;
  name: string;
  kind: SubscriptionKind;
  /** Webhook: the URL; amqp: the broker URL. */
  url: string;
  /** amqp: the exchange. */
  exchange?: string;
  /** Webhook: the Standard Webhooks secret (never listed back). */
  secret?: string;
  /** Only these event types (undefined: all). */
  types?: string[];
  origin: 'config' | 'api';
  createdAt: number;
}

export type DeliveryState = 'pending' | 'delivering' | 'delivered' | 'dead';

export interface Delivery {
  seq: number;
  eventId: string;
  subId: string;
  orderingKey: string;
  /** The stored JSON text and the attributes sinks route by (not parsed whole: see `storedEvent`). */
  event: StoredEvent;
  state: DeliveryState;
  attempts: number;
  createdAt: number;
  errors: { attempt: number; at: string; error: string }[];
}

export interface RowChange {
  key: string;
  hash: string;
  version: string;
}

export interface QuarantinedRow {
  feed: string;
  key: string;
  version: string;
  reason: string;
  row: unknown;
  at: number;
}

interface SubRow {
  id: string;
  name: string;
  kind: string;
  url: string;
  exchange: string | null;
  secret: string | null;
  types: string | null;
  origin: string;
  created_at: number | string;
}

interface DeliveryRow {
  seq: number | string;
  event_id: string;
  sub_id: string;
  ordering_key: string;
  event: string;
  state: string;
  attempts: number | string;
  created_at: number | string;
  errors: string;
}

const toSub = (r: SubRow): Subscription => ({
  id: r.id,
  name: r.name,
  kind: r.kind as SubscriptionKind,
  url: r.url,
  exchange: r.exchange ?? undefined,
  secret: r.secret ?? undefined,
  types: r.types ? (JSON.parse(r.types) as string[]) : undefined,
  origin: r.origin as Subscription['origin'],
  createdAt: Number(r.created_at),
});

const toDelivery = (r: DeliveryRow, state = r.state as DeliveryState, attempts = Number(r.attempts)): Delivery => ({
  seq: Number(r.seq),
  eventId: r.event_id,
  subId: r.sub_id,
  orderingKey: r.ordering_key,
  event: storedEvent(r.event),
  state,
  attempts,
  createdAt: Number(r.created_at),
  errors: JSON.parse(r.errors) as Delivery['errors'],
});

const DELIVERY_COLUMNS = 'seq, event_id, sub_id, ordering_key, event, state, attempts, created_at, errors';

export async function migrateEvents(store: SqlStore): Promise<void> {
  const serial = store.dialect === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT';
  await store.migrate('changes', [
    `CREATE TABLE events_subscriptions (
      id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, url TEXT NOT NULL, exchange TEXT, secret TEXT,
      types TEXT, origin TEXT NOT NULL, created_at BIGINT NOT NULL)`,
    `CREATE TABLE events_outbox (
      seq ${serial}, event_id TEXT NOT NULL, sub_id TEXT NOT NULL, ordering_key TEXT NOT NULL, event TEXT NOT NULL,
      state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at BIGINT NOT NULL, lease_owner TEXT,
      lease_until BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, errors TEXT NOT NULL,
      UNIQUE (sub_id, event_id))`,
    'CREATE INDEX events_outbox_due ON events_outbox (state, seq)',
    'CREATE INDEX events_outbox_key ON events_outbox (sub_id, ordering_key, seq)',
    `CREATE TABLE changes_feeds (feed TEXT PRIMARY KEY, watermark TEXT, last_sweep BIGINT NOT NULL DEFAULT 0, updated_at BIGINT NOT NULL)`,
    `CREATE TABLE changes_rows (feed TEXT NOT NULL, row_key TEXT NOT NULL, hash TEXT NOT NULL, version TEXT NOT NULL, PRIMARY KEY (feed, row_key))`,
    `CREATE TABLE changes_quarantine (feed TEXT NOT NULL, row_key TEXT NOT NULL, version TEXT NOT NULL, reason TEXT NOT NULL, row_data TEXT NOT NULL,
      at BIGINT NOT NULL, PRIMARY KEY (feed, row_key, version))`,
  ]);
}

/** Rows a multi-row statement takes: each count's text is made (and prepared by the store) once. */
const CHUNKS = [100, 10, 1];

/**
 * Runs `text(n)` over rows [0, count) in statements of 100, 10 or 1 rows, `width` parameters a row;
 * `add` sets row k's from `at`.
 */
async function inChunks(tx: SqlExecutor, count: number, width: number, text: (rows: number) => string, add: (params: SqlParam[], at: number, k: number) => void): Promise<void> {
  for (let i = 0; i < count;) {
    const n = count - i >= CHUNKS[0] ? CHUNKS[0] : count - i >= CHUNKS[1] ? CHUNKS[1] : 1;
    const params = new Array<SqlParam>(n * width);
    for (let k = 0; k < n; k++) add(params, k * width, i + k);
    await tx.run(text(n), params);
    i += n;
  }
}

function memo(make: (rows: number) => string): (rows: number) => string {
  const texts = new Map<number, string>();
  return (rows) => {
    let t = texts.get(rows);
    if (t === undefined) texts.set(rows, (t = make(rows)));
    return t;
  };
}

const outboxInsert = memo(
  (rows) =>
    `INSERT INTO events_outbox (event_id, sub_id, ordering_key, event, state, attempts, next_attempt_at, lease_until, created_at, updated_at, errors) VALUES ${Array(rows)
      .fill("(?, ?, ?, ?, 'pending', 0, ?, 0, ?, ?, '[]')")
      .join(', ')} ON CONFLICT (sub_id, event_id) DO NOTHING`,
);

const rowsUpsert = memo(
  (rows) =>
    `INSERT INTO changes_rows (feed, row_key, hash, version) VALUES ${Array(rows).fill('(?, ?, ?, ?)').join(', ')} ON CONFLICT (feed, row_key) DO UPDATE SET hash = excluded.hash, version = excluded.version`,
);

export class EventStore {
  private subs: Subscription[] | undefined;

  constructor(
    readonly store: SqlStore,
    private readonly now: () => number = Date.now,
  ) {}

  // ---- subscriptions

  async subscriptions(): Promise<Subscription[]> {
    this.subs ??= (await this.store.all<SubRow>('SELECT * FROM events_subscriptions ORDER BY created_at, name')).map(toSub);
    return this.subs;
  }

  /** Adds (or, same name, replaces) a subscription; new events go to it from now on. */
  async subscribe(s: Omit<Subscription, 'id' | 'createdAt'> & { id?: string }): Promise<Subscription> {
    const id = s.id ?? randomUUID();
    const now = this.now();
    await this.store.run(
      `INSERT INTO events_subscriptions (id, name, kind, url, exchange, secret, types, origin, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, url = excluded.url, exchange = excluded.exchange, secret = excluded.secret, types = excluded.types, origin = excluded.origin`,
      [id, s.name, s.kind, s.url, s.exchange ?? null, s.secret ?? null, s.types ? JSON.stringify(s.types) : null, s.origin, now],
    );
    this.subs = undefined;
    return (await this.subscriptions()).find((x) => x.name === s.name)!;
  }

  /** Removes a subscription and its undelivered events. */
  async unsubscribe(idOrName: string): Promise<boolean> {
    const sub = (await this.subscriptions()).find((s) => s.id === idOrName || s.name === idOrName);
    if (!sub) return false;
    await this.store.transaction(async (tx) => {
      await tx.run('DELETE FROM events_outbox WHERE sub_id = ?', [sub.id]);
      await tx.run('DELETE FROM events_subscriptions WHERE id = ?', [sub.id]);
    });
    this.subs = undefined;
    return true;
  }

  // ---- feeds

  async watermark(feed: string): Promise<string | undefined> {
    const r = await this.store.get<{ watermark: string | null }>('SELECT watermark FROM changes_feeds WHERE feed = ?', [feed]);
    return r?.watermark ?? undefined;
  }

  async lastSweep(feed: string): Promise<number> {
    const r = await this.store.get<{ last_sweep: number | string }>('SELECT last_sweep FROM changes_feeds WHERE feed = ?', [feed]);
    return Number(r?.last_sweep ?? 0);
  }

  /** The stored hash of each of `keys` that the feed has seen. */
  async hashes(feed: string, keys: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < keys.length; i += 500) {
      const part = keys.slice(i, i + 500);
      const rows = await this.store.all<{ row_key: string; hash: string }>(`SELECT row_key, hash FROM changes_rows WHERE feed = ? AND row_key IN (${part.map(() => '?').join(', ')})`, [feed, ...part]);
      for (const r of rows) out.set(r.row_key, r.hash);
    }
    return out;
  }

  /** Every key the feed has seen, in key order, a page at a time (for the sweep's deletes). */
  async keysAfter(feed: string, after: string | undefined, limit: number): Promise<{ key: string; hash: string }[]> {
    const rows = await this.store.all<{ row_key: string; hash: string }>(
      `SELECT row_key, hash FROM changes_rows WHERE feed = ?${after === undefined ? '' : ' AND row_key > ?'} ORDER BY row_key LIMIT ?`,
      after === undefined ? [feed, limit] : [feed, after, limit],
    );
    return rows.map((r) => ({ key: r.row_key, hash: r.hash }));
  }

  /**
   * In one transaction: each event queued for every subscription that takes its type (an event
   * already queued, same id, is left alone), the rows' hashes, the quarantined rows, and the feed's
   * new watermark (and sweep time).
   */
  async commit(
    feed: string,
    c: { events: CloudEvent[]; rows: RowChange[]; removed?: string[]; quarantined?: QuarantinedRow[]; watermark?: string; sweptAt?: number; markAs?: string },
    onlySubscription?: string,
  ): Promise<void> {
    const subs = (await this.subscriptions()).filter((s) => !onlySubscription || s.id === onlySubscription || s.name === onlySubscription);
    const now = this.now();
    // The outbox's rows, (event, subscription) in order (the seq, and so each key's order, follows it).
    const pairs: number[] = [];
    for (let i = 0; i < c.events.length; i++) {
      const e = c.events[i];
      for (let j = 0; j < subs.length; j++) if (!subs[j].types || subs[j].types!.includes(e.type)) pairs.push(i, j);
    }
    // A key twice in a page (a source query giving duplicates): its last hash, as one upsert after another gave.
    let rows: readonly RowChange[] = c.rows;
    if (rows.length > 1 && new Set(rows.map((r) => r.key)).size < rows.length) rows = [...new Map(rows.map((r) => [r.key, r])).values()];
    let jsonOf = -1;
    let json = '';
    await this.store.transaction(async (tx) => {
      // Many rows a statement (the events of a page in a few dozen statements, not one statement each).
      await inChunks(tx, pairs.length / 2, 7, outboxInsert, (p, at, k) => {
        const e = c.events[pairs[2 * k]];
        if (jsonOf !== pairs[2 * k]) {
          jsonOf = pairs[2 * k];
          json = JSON.stringify(e);
        }
        p[at] = e.id;
        p[at + 1] = subs[pairs[2 * k + 1]].id;
        p[at + 2] = `${feed}/${e.subject}`;
        p[at + 3] = json;
        p[at + 4] = p[at + 5] = p[at + 6] = now;
      });
      await inChunks(tx, rows.length, 4, rowsUpsert, (p, at, k) => {
        const r = rows[k];
        p[at] = feed;
        p[at + 1] = r.key;
        p[at + 2] = r.hash;
        p[at + 3] = r.version;
      });
      for (const k of c.removed ?? []) await tx.run('DELETE FROM changes_rows WHERE feed = ? AND row_key = ?', [feed, k]);
      for (const q of c.quarantined ?? []) {
        await tx.run(`INSERT INTO changes_quarantine (feed, row_key, version, reason, row_data, at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (feed, row_key, version) DO NOTHING`, [
          feed,
          q.key,
          q.version,
          q.reason,
          JSON.stringify(q.row),
          q.at,
        ]);
      }
      if (c.watermark !== undefined || c.sweptAt !== undefined) {
        await tx.run(
          `INSERT INTO changes_feeds (feed, watermark, last_sweep, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (feed) DO UPDATE SET watermark = COALESCE(excluded.watermark, changes_feeds.watermark),
             last_sweep = CASE WHEN excluded.last_sweep > 0 THEN excluded.last_sweep ELSE changes_feeds.last_sweep END, updated_at = excluded.updated_at`,
          [c.markAs ?? feed, c.watermark ?? null, c.sweptAt ?? 0, now],
        );
      }
    });
  }

  /** Deliveries of the feed's events not yet delivered (pending or delivering, any subscription), counted up to `limit`. */
  async backlog(feed: string, limit: number): Promise<number> {
    const prefix = `${feed}/`;
    const r = await this.store.get<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM (SELECT 1 FROM events_outbox WHERE state IN ('pending', 'delivering') AND substr(ordering_key, 1, ?) = ? LIMIT ?) b`,
      [prefix.length, prefix, limit],
    );
    return Number(r?.n ?? 0);
  }

  async quarantine(feed?: string, limit = 100): Promise<QuarantinedRow[]> {
    const rows = await this.store.all<{ feed: string; row_key: string; version: string; reason: string; row_data: string; at: number | string }>(
      `SELECT * FROM changes_quarantine${feed ? ' WHERE feed = ?' : ''} ORDER BY at, feed, row_key LIMIT ?`,
      feed ? [feed, limit] : [limit],
    );
    return rows.map((r) => ({ feed: r.feed, key: r.row_key, version: r.version, reason: r.reason, row: JSON.parse(r.row_data) as unknown, at: Number(r.at) }));
  }

  // ---- deliveries

  /**
   * Takes up to `limit` due deliveries, oldest first, at most one per subscription and key, and
   * none whose key has an earlier delivery still waiting for that subscription: per key, in order.
   */
  async claim(owner: string, limit: number, leaseMs: number): Promise<Delivery[]> {
    const now = this.now();
    return this.store.transaction(async (tx) => {
      const cols = DELIVERY_COLUMNS.split(', ')
        .map((c) => `o.${c}`)
        .join(', ');
      const inOrder = `NOT EXISTS (SELECT 1 FROM events_outbox p WHERE p.sub_id = o.sub_id AND p.ordering_key = o.ordering_key AND p.seq < o.seq AND p.state IN ('pending', 'delivering'))`;
      // Two statements, each able to use the (state, seq) index: due ones, and ones whose lease ran out.
      const due = await tx.all<DeliveryRow>(`SELECT ${cols} FROM events_outbox o WHERE o.state = 'pending' AND o.next_attempt_at <= ? AND ${inOrder} ORDER BY o.seq LIMIT ?`, [now, limit]);
      const lapsed = await tx.all<DeliveryRow>(`SELECT ${cols} FROM events_outbox o WHERE o.state = 'delivering' AND o.lease_until < ? AND ${inOrder} ORDER BY o.seq LIMIT ?`, [now, limit]);
      const rows = [...lapsed, ...due].sort((a, b) => Number(a.seq) - Number(b.seq)).slice(0, limit);
      if (rows.length === 0) return [];
      for (let i = 0; i < rows.length; i += 500) {
        const part = rows.slice(i, i + 500);
        await tx.run(`UPDATE events_outbox SET state = 'delivering', lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? WHERE seq IN (${part.map(() => '?').join(', ')})`, [
          owner,
          now + leaseMs,
          now,
          ...part.map((r) => Number(r.seq)),
        ]);
      }
      return rows.map((r) => toDelivery(r, 'delivering', Number(r.attempts) + 1));
    });
  }

  /** Records the outcome of a batch in one transaction: delivered ones, ones to try again at a time, dead ones. */
  async settle(
    owner: string,
    s: { delivered: number[]; retry: { seq: number; at: number; error: string; attempt: number }[]; dead: { seq: number; error: string; attempt: number }[] },
  ): Promise<void> {
    const now = this.now();
    const iso = new Date(now).toISOString();
    await this.store.transaction(async (tx) => {
      for (let i = 0; i < s.delivered.length; i += 500) {
        const part = s.delivered.slice(i, i + 500);
        await tx.run(`UPDATE events_outbox SET state = 'delivered', lease_owner = NULL, lease_until = 0, updated_at = ? WHERE lease_owner = ? AND seq IN (${part.map(() => '?').join(', ')})`, [
          now,
          owner,
          ...part,
        ]);
      }
      const addError = async (tx2: SqlExecutor, seq: number, attempt: number, error: string, set: string, params: SqlParam[]) => {
        const cur = await tx2.get<{ errors: string }>('SELECT errors FROM events_outbox WHERE seq = ? AND lease_owner = ?', [seq, owner]);
        if (!cur) return;
        const errors = [...(JSON.parse(cur.errors) as Delivery['errors']), { attempt, at: iso, error }].slice(-20);
        await tx2.run(`UPDATE events_outbox SET ${set}, errors = ?, lease_owner = NULL, lease_until = 0, updated_at = ? WHERE seq = ?`, [...params, JSON.stringify(errors), now, seq]);
      };
      for (const r of s.retry) await addError(tx, r.seq, r.attempt, r.error, "state = 'pending', next_attempt_at = ?", [r.at]);
      for (const d of s.dead) await addError(tx, d.seq, d.attempt, d.error, "state = 'dead'", []);
    });
  }

  /** Hands back what `owner` holds (shutdown), without counting the attempt. */
  async release(owner: string): Promise<number> {
    return (await this.store.run(`UPDATE events_outbox SET state = 'pending', attempts = attempts - 1, lease_owner = NULL, lease_until = 0 WHERE state = 'delivering' AND lease_owner = ?`, [owner]))
      .changes;
  }

  /** Deliveries a process that ended held (owner beginning with `ownerPrefix`, `<host>:<pid>:`) are due again. */
  async releaseEnded(ownerPrefix: string): Promise<number> {
    return (
      await this.store.run(`UPDATE events_outbox SET state = 'pending', lease_owner = NULL, lease_until = 0 WHERE state = 'delivering' AND substr(lease_owner, 1, ?) = ?`, [
        ownerPrefix.length,
        ownerPrefix,
      ])
    ).changes;
  }

  /** At start on SQLite (one instance): deliveries a previous run left in flight are due again. */
  async releaseAll(): Promise<number> {
    return (await this.store.run(`UPDATE events_outbox SET state = 'pending', lease_owner = NULL, lease_until = 0 WHERE state = 'delivering'`)).changes;
  }

  async list(f: { state?: DeliveryState; subscription?: string; limit?: number } = {}): Promise<Delivery[]> {
    const where: string[] = [];
    const params: SqlParam[] = [];
    if (f.state) {
      where.push('state = ?');
      params.push(f.state);
    }
    if (f.subscription) {
      where.push('sub_id = ?');
      params.push(f.subscription);
    }
    const rows = await this.store.all<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM events_outbox ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ?`, [
      ...params,
      f.limit ?? 100,
    ]);
    return rows.map((r) => toDelivery(r));
  }

  /** Dead deliveries back to pending, with fresh attempts, in their original order. */
  async replayDead(subscription?: string): Promise<number> {
    const now = this.now();
    return (
      await this.store.run(
        `UPDATE events_outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ? WHERE state = 'dead'${subscription ? ' AND sub_id = ?' : ''}`,
        subscription ? [now, now, subscription] : [now, now],
      )
    ).changes;
  }

  async counts(): Promise<Record<string, number>> {
    const rows = await this.store.all<{ state: string; n: number | string }>('SELECT state, COUNT(*) AS n FROM events_outbox GROUP BY state');
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }

  async purgeDelivered(olderThanMs: number): Promise<number> {
    return (await this.store.run(`DELETE FROM events_outbox WHERE state = 'delivered' AND updated_at < ?`, [this.now() - olderThanMs])).changes;
  }
}
