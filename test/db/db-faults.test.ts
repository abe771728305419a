/**
 * The db kind when things go wrong: the database down (503 problem, /readyz names the adapter), a
 * statement too slow (504 from the database's statement timeout or from the policy's timeout), and
 * connections that cannot write even when handed a write (read-only sessions on every engine).
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import { createLegacyDatabase, type LegacyDatabase } from './legacy-databases.ts';
import { MysqlDriver } from '../../src/kinds/db/drivers/mysql-driver.ts';
import { PostgresDriver } from '../../src/kinds/db/drivers/postgres-driver.ts';
import { SqliteDriver } from '../../src/kinds/db/drivers/sqlite-driver.ts';
import type { DbDriver, DriverSettings } from '../../src/kinds/db/drivers/driver.ts';

const ROOT = `${FIXTURES}db-gateway`;
const SETTINGS: DriverSettings = { adapter: 'test', poolMax: 2, poolMin: 0, idleTimeoutMs: 1_000, connectTimeoutMs: 1_000, statementTimeoutMs: 2_000, fetchSize: 100 };

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function getJson(url: string) {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

describe('the database down', () => {
  it.each([
    ['postgres', (p: number) => `postgres://postgres@127.0.0.1:${p}/crm`],
    ['mysql', (p: number) => `mysql://root@127.0.0.1:${p}/crm`],
  ] as const)('%s refusing connections: calls get 503 problems and /readyz names the adapter', async (driver, url) => {
    const port = await closedPort();
    const gw = await startGateway(ROOT, { CRM_DB_DRIVER: driver, CRM_DB_URL: url(port), PROBE_SLEEP_SQL: `sql/sleep-${driver}.sql` });
    try {
      const r = await getJson(`${gw.url}/customers/1001`);
      expect(r.status).toBe(503);
      expect(r.body.type).toMatch(/problems\/(upstream-unavailable|circuit-open)$/);
      expect(r.body.detail).toContain('crm-db');
      const ready = await getJson(`${gw.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body.detail).toContain('crm-db');
      expect(ready.body.adapters['crm-db'].ok).toBe(false);
      expect(ready.body.adapters['crm-db'].detail).toContain(`127.0.0.1:${port}`);
    } finally {
      await gw.close();
    }
  });

  it('a missing SQLite file: 503 problem, /readyz says which file', async () => {
    const gw = await startGateway(ROOT, { CRM_DB_DRIVER: 'sqlite', CRM_DB_FILE: '/nonexistent/ficus/crm.sqlite', PROBE_SLEEP_SQL: 'sql/sleep-sqlite.sql' });
    try {
      const r = await getJson(`${gw.url}/customers?limit=2`);
      expect(r.status).toBe(503);
      const ready = await getJson(`${gw.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body.adapters['crm-db'].detail).toContain('/nonexistent/ficus/crm.sqlite');
    } finally {
      await gw.close();
    }
  });
});

describe.each(['postgres', 'mysql'] as const)('a slow statement on %s', (engine) => {
  let db: LegacyDatabase;
  beforeAll(async () => {
    db = await createLegacyDatabase(engine, []);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('is cancelled by the database at the statement timeout: 504 problem', async () => {
    // A statement of 10 s, cancelled at 300 ms: the answer comes before the statement would have
    // ended (a bound generous for a loaded machine; the policy would wait 50 s).
    const gw = await startGateway(ROOT, { ...db.env, PROBE_SLEEP_SQL: `sql/sleep-${engine}.sql`, PROBE_STATEMENT_TIMEOUT_MS: '300', PROBE_TIMEOUT_MS: '50000' });
    try {
      const start = Date.now();
      const r = await getJson(`${gw.url}/probe/sleep?seconds=10`);
      expect(r.status).toBe(504);
      expect(r.body.detail).toContain('timeout');
      expect(Date.now() - start).toBeLessThan(10_000);
      expect((await getJson(`${gw.url}/probe/sleep?seconds=0`)).body).toEqual({ slept: true });
    } finally {
      await gw.close();
    }
  });

  it('is cut off by the policy timeout when the database would wait longer: 504 problem', async () => {
    // The policy gives up at 300 ms on a statement of 10 s the database would let run for 50 s: the
    // answer comes before the statement would have ended (a bound generous for a loaded machine).
    const gw = await startGateway(ROOT, { ...db.env, PROBE_SLEEP_SQL: `sql/sleep-${engine}.sql`, PROBE_STATEMENT_TIMEOUT_MS: '50000', PROBE_TIMEOUT_MS: '300' });
    try {
      const start = Date.now();
      const r = await getJson(`${gw.url}/probe/sleep?seconds=10`);
      expect(r.status).toBe(504);
      expect(r.body.type).toBe('https://ficus.dev/problems/upstream-timeout');
      expect(Date.now() - start).toBeLessThan(10_000);
    } finally {
      await gw.close();
    }
  });
});

describe('read-only connections', () => {
  const dbs: LegacyDatabase[] = [];
  afterAll(async () => {
    for (const d of dbs) await d.drop();
  });

  it.each(['sqlite', 'postgres', 'mysql'] as const)("%s refuses writes on the kind's connections, even if a write got past the start-up check", async (engine) => {
    const db = await createLegacyDatabase(engine, []);
    dbs.push(db);
    const driver: DbDriver =
      engine === 'sqlite' ? new SqliteDriver(db.target, SETTINGS) : engine === 'postgres' ? new PostgresDriver({ url: db.target }, SETTINGS) : new MysqlDriver({ url: db.target }, SETTINGS);
    const signal = new AbortController().signal;
    try {
      // RETURNING makes a write look like a read to a driver; the connection must still refuse it.
      const writes =
        engine === 'sqlite'
          ? ["UPDATE CUSTMAST SET CUST_NM = 'X' RETURNING CUST_NO", "INSERT INTO CODETBL (CD_TYP, CD_VAL, CD_DESC) VALUES ('X', 'X', 'X') RETURNING CD_TYP"]
          : ["UPDATE CUSTMAST SET CUST_NM = 'X'", "INSERT INTO CODETBL (CD_TYP, CD_VAL, CD_DESC) VALUES ('X', 'X', 'X')", 'DELETE FROM CODETBL', 'CREATE TABLE T1 (A INTEGER)'];
      for (const write of writes) {
        await expect(driver.query(write, [], { signal })).rejects.toThrow(/read.?only/i);
      }
      const rows = await driver.query('SELECT COUNT(*) AS N FROM CODETBL', [], { signal });
      expect(Number(Object.values(rows[0])[0])).toBe(5);
    } finally {
      await driver.close();
    }
  });
});
