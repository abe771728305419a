/**
 * The PostgreSQL state store when its connections are reset or the network to it goes silent (a TCP
 * proxy between the gateway and a real PostgreSQL): the process lives on, callers get a 503
 * `state-store-unavailable` with Retry-After within a bound, /readyz says the state store is down,
 * the log has one short line per failed request (no stack traces), and everything works again once
 * the store is back.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startOrdersService, type OrdersService } from '../fixtures/writes-gateway/orders-service.ts';
import { newOrder, startWritesGateway, tempPgDatabase } from '../writes/writes-helpers.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';
import { openStore } from '../../src/state/sql-store.ts';

const STORE_DOWN = 'https://ficus.dev/problems/state-store-unavailable';

let db: Awaited<ReturnType<typeof tempPgDatabase>>;
let proxy: TcpProxy;
let svc: OrdersService;
let viaProxy: string;

beforeAll(async () => {
  db = await tempPgDatabase('ficus_state_faults');
  proxy = await startTcpProxy(5432);
  svc = await startOrdersService();
  const u = new URL(db.url);
  u.port = String(proxy.port);
  viaProxy = u.toString();
});
afterAll(async () => {
  await svc?.close();
  await proxy?.close();
  await db?.drop();
});

/** Errors nobody handled while a test ran (an 'error' event of a checked-out pg client). */
const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);
beforeEach(() => {
  uncaught.length = 0;
  proxy.setMode('pass');
  process.on('uncaughtException', onUncaught);
});
afterEach(() => {
  process.off('uncaughtException', onUncaught);
  proxy.setMode('pass');
});

/** A POST with an idempotency key; a caller left waiting past a generous bound fails the test. */
async function post(url: string, body: unknown, key: string) {
  const res = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(60_000), headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** Whether a statement starting with `prefix` is running in the test database now (seen directly, not through the proxy). */
async function running(prefix: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    const r = await c.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE $1", [`${prefix}%`]);
    return (r.rowCount ?? 0) > 0;
  } finally {
    await c.end();
  }
}

describe('state store connections reset', () => {
  it('in a transaction: it fails with state-store-unavailable, nothing is left unhandled, the next call reconnects', async () => {
    const store = await openStore({ driver: 'postgres', url: viaProxy, poolSize: 2 });
    try {
      const tx = store.transaction(async (x) => {
        await x.get('SELECT 1 AS ok');
        proxy.reset();
        // The reset reaches the idle, checked-out client while the transaction holds it.
        await new Promise((r) => setTimeout(r, 100));
        return x.get('SELECT 2 AS ok');
      });
      await expect(tx).rejects.toMatchObject({ status: 503, typeName: 'state-store-unavailable' });
      expect(await store.get<{ ok: number }>('SELECT 3 AS ok')).toEqual({ ok: 3 });
      expect(uncaught).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('reset an instant before a statement (the reset not yet heard): the statement never left, so it goes on a fresh connection', async () => {
    const store = await openStore({ driver: 'postgres', url: viaProxy, poolSize: 2 });
    try {
      await store.transaction(async (x) => x.get('SELECT 1 AS ok'));
      // The pooled connection is reset and used in the same tick: its write is refused, nothing ran.
      proxy.reset();
      expect(await store.get<{ ok: number }>('SELECT 2 AS ok')).toEqual({ ok: 2 });
      await store.get('SELECT 1 AS ok');
      proxy.reset();
      expect(await store.transaction((x) => x.get<{ ok: number }>('SELECT 3 AS ok'))).toEqual({ ok: 3 });
      expect(uncaught).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('during a migration: it fails with state-store-unavailable, and the migration runs once the store is back', async () => {
    const store = await openStore({ driver: 'postgres', url: viaProxy, poolSize: 2 });
    try {
      const migrating = store.migrate('reset_test', ['SELECT pg_sleep(1.5)', 'CREATE TABLE reset_test (id INTEGER)']);
      await vi.waitFor(async () => expect(await running('SELECT pg_sleep(1.5)')).toBe(true), { timeout: 20_000, interval: 50 });
      proxy.reset();
      await expect(migrating).rejects.toMatchObject({ status: 503, typeName: 'state-store-unavailable' });
      await store.migrate('reset_test', ['SELECT 1', 'CREATE TABLE reset_test (id INTEGER)']);
      expect(await store.all('SELECT id FROM reset_test')).toEqual([]);
      expect(uncaught).toEqual([]);
    } finally {
      await store.close();
    }
  }, 30_000);

  it('under writes and mode switches through the gateway: answers are 201 or 503 with Retry-After, and the gateway lives on', async () => {
    const gw = await startWritesGateway({ ORDERS_URL: svc.url, STATE_URL: viaProxy }, { file: 'ficus-pg.yaml' });
    try {
      for (let i = 0; i < 12; i++) {
        const writes = Array.from({ length: 3 }, (_, j) => post(`${gw.url}/orders`, newOrder(500 + i), `reset-${i}-${j}`));
        const switched = gw.gateway.control!.switchMode('createOrder', { mode: 'legacy', reason: `reset test ${i}` }, 'test').catch((err: unknown) => err);
        await new Promise((r) => setTimeout(r, i * 2));
        proxy.reset();
        for (const w of await Promise.all(writes)) {
          expect([201, 503]).toContain(w.status);
          if (w.status === 503) {
            expect(w.body.type).toBe(STORE_DOWN);
            expect(w.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
          }
        }
        const s = await switched;
        if (s instanceof Error) expect(s).toMatchObject({ typeName: 'state-store-unavailable' });
      }
      const after = await post(`${gw.url}/orders`, newOrder(599), 'reset-after');
      expect(after.status).toBe(201);
      expect(uncaught).toEqual([]);
    } finally {
      await gw.close();
    }
    // Twelve rounds, each bounded by the state store's own limits (a few seconds at worst on a loaded machine).
  }, 240_000);
});

describe('the state store silent (blackholed)', () => {
  it('writes get 503 state-store-unavailable within the configured bounds, /readyz says so, and the log stays short', async () => {
    const gw = await startWritesGateway({ ORDERS_URL: svc.url, STATE_URL: viaProxy, STATE_CONNECT_TIMEOUT_MS: '500', STATE_STATEMENT_TIMEOUT_MS: '500' }, { file: 'ficus-pg.yaml' });
    try {
      expect((await post(`${gw.url}/orders`, newOrder(701), 'silent-before')).status).toBe(201);
      proxy.setMode('blackhole');
      const linesBefore = gw.logLines.length;
      // Without limits this waits for ever: a generous bound that fails the test instead.
      const w = await post(`${gw.url}/orders`, newOrder(702), 'silent-1').catch((err: unknown) => err);
      expect(w).not.toBeInstanceOf(Error);
      const r = w as Awaited<ReturnType<typeof post>>;
      expect(r.status).toBe(503);
      expect(r.body.type).toBe(STORE_DOWN);
      expect(r.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);

      const ready = await fetch(`${gw.url}/readyz`, { signal: AbortSignal.timeout(30_000) });
      expect(ready.status).toBe(503);
      const readyBody = (await ready.json()) as { stateStore: { ok: boolean }; detail: string };
      expect(readyBody.stateStore.ok).toBe(false);
      expect(readyBody.detail).toContain('state store');

      // The failed request: one line naming the problem, no adapter blamed, no stack trace anywhere.
      const lines = gw.logLines.slice(linesBefore);
      const requestLine = lines.find((l) => l.path === '/orders' && l.status === 503);
      expect(requestLine).toMatchObject({ problem: 'state-store-unavailable' });
      expect(requestLine?.adapter).toBeUndefined();
      expect(lines.filter((l) => JSON.stringify(l).includes('"stack"'))).toEqual([]);
      // Besides the requests' own lines: each part that polls the state store (the outbox worker, the
      // route-state poll, the cache settings poll) says it once, and nothing else is logged.
      const said = (l: Record<string, unknown>) => String(l.msg).includes('outbox worker: the state store is unavailable');
      await vi.waitFor(() => expect(gw.logLines.slice(linesBefore).some(said)).toBe(true), { timeout: 20_000, interval: 50 });
      const others = gw.logLines.slice(linesBefore).filter((l) => l.path === undefined);
      const messages = others.map((l) => String(l.msg));
      expect(
        messages.every((m) => m.endsWith('the state store is unavailable; retrying quietly until it answers')),
        JSON.stringify(messages),
      ).toBe(true);
      expect(new Set(messages).size, JSON.stringify(messages)).toBe(messages.length);

      proxy.setMode('pass');
      await vi.waitFor(async () => expect((await post(`${gw.url}/orders`, newOrder(703), 'silent-after')).status).toBe(201), { timeout: 30_000, interval: 200 });
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
      expect(uncaught).toEqual([]);
    } finally {
      proxy.setMode('pass');
      await gw.close();
    }
  }, 240_000);
});

describe('the SQLite state store locked by another process', () => {
  it('a write waits for the lock without blocking the event loop, or gives up with state-store-unavailable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ficus-state-lock-'));
    const file = join(dir, 'state.sqlite');
    const store = await openStore({ driver: 'sqlite', file, busyTimeoutMs: 20_000 });
    const holder = new Database(file);
    try {
      await store.run('CREATE TABLE t (id INTEGER)');
      holder.exec('BEGIN IMMEDIATE');
      let settled = false;
      const write = store.run('INSERT INTO t (id) VALUES (1)').finally(() => (settled = true));
      // A timer set after the write started fires while it waits: the loop is free.
      await new Promise((r) => setTimeout(r, 50));
      expect(settled).toBe(false);
      holder.exec('COMMIT');
      expect(await write).toEqual({ changes: 1 });

      const impatient = await openStore({ driver: 'sqlite', file, busyTimeoutMs: 100 });
      holder.exec('BEGIN IMMEDIATE');
      await expect(impatient.run('INSERT INTO t (id) VALUES (2)')).rejects.toMatchObject({ status: 503, typeName: 'state-store-unavailable' });
      holder.exec('COMMIT');
      await impatient.close();
    } finally {
      holder.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
