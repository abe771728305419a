/**
 * Legacy-database connections reset under the gateway (a TCP proxy aborts them with RST): a list
 * being streamed fails with a problem, the process lives on, and the next call gets a fresh
 * connection. An 'error' event on a checked-out client with nobody listening used to end the process.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../faults/tcp-proxy.ts';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import { createLegacyDatabase, type LegacyDatabase } from './legacy-databases.ts';
import { MysqlDriver } from '../../src/kinds/db/drivers/mysql-driver.ts';
import { PostgresDriver } from '../../src/kinds/db/drivers/postgres-driver.ts';
import type { DbDriver, DriverSettings } from '../../src/kinds/db/drivers/driver.ts';

const SETTINGS: DriverSettings = { adapter: 'test', poolMax: 2, poolMin: 0, idleTimeoutMs: 10_000, connectTimeoutMs: 5_000, statementTimeoutMs: 10_000, fetchSize: 1 };
const PORTS = { postgres: 5432, mysql: 3306 } as const;

/** Errors nobody handled while a test ran (before the fix: the 'error' event of a checked-out client). */
const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);
beforeEach(() => {
  uncaught.length = 0;
  process.on('uncaughtException', onUncaught);
});
afterEach(() => {
  process.off('uncaughtException', onUncaught);
});

describe.each(['postgres', 'mysql'] as const)('%s connections reset while a list is streamed', (engine) => {
  let db: LegacyDatabase;
  let proxy: TcpProxy;
  beforeAll(async () => {
    db = await createLegacyDatabase(engine);
    proxy = await startTcpProxy(PORTS[engine]);
  }, 30_000);
  afterAll(async () => {
    await proxy?.close();
    await db?.drop();
  });

  const viaProxy = () => {
    const u = new URL(db.target);
    u.port = String(proxy.port);
    return u.toString();
  };

  it('the stream fails, nothing is left unhandled, and the next query reconnects', async () => {
    const driver: DbDriver = engine === 'postgres' ? new PostgresDriver({ url: viaProxy() }, SETTINGS) : new MysqlDriver({ url: viaProxy() }, SETTINGS);
    const signal = new AbortController().signal;
    // MariaDB sends the rows as they are made: a sleep per row keeps the statement running.
    const sql = engine === 'postgres' ? 'SELECT CUST_NO FROM CUSTMAST ORDER BY CUST_NO' : 'SELECT CUST_NO, SLEEP(0.05) AS S FROM CUSTMAST ORDER BY CUST_NO';
    try {
      let rows = 0;
      const reading = (async () => {
        for await (const _row of driver.stream(sql, [], { signal })) {
          if (++rows === 1) proxy.reset();
          // Give the reset time to arrive before asking for more (bounded: the stream fails or ends).
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await expect(reading).rejects.toThrow();
      // A moment for any late 'error' event to surface, then the pool must still serve.
      const again = await driver.query('SELECT COUNT(*) AS N FROM CUSTMAST', [], { signal });
      expect(Number(Object.values(again[0])[0])).toBeGreaterThan(1);
      expect(uncaught).toEqual([]);
    } finally {
      await driver.close().catch(() => undefined);
    }
  });

  it('through the gateway: listCustomers answers a problem and the gateway serves the next call', async () => {
    const gw = await startGateway(`${FIXTURES}db-gateway`, { CRM_DB_DRIVER: engine, CRM_DB_URL: viaProxy(), PROBE_SLEEP_SQL: `sql/sleep-${engine}.sql` });
    try {
      // Ten lists with resets in between: each either completes or fails cleanly.
      for (let i = 0; i < 10; i++) {
        const pending = fetch(`${gw.url}/customers?limit=100`);
        await new Promise((r) => setTimeout(r, i * 3));
        proxy.reset();
        const res = await pending;
        expect([200, 502, 503, 504]).toContain(res.status);
        await res.arrayBuffer();
      }
      const res = await fetch(`${gw.url}/customers?limit=5`);
      expect(res.status).toBe(200);
      expect(uncaught).toEqual([]);
    } finally {
      await gw.close();
    }
  }, 60_000);
});
