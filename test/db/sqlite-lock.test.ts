/**
 * A legacy SQLite file locked by another process (an exclusive lock held by a batch job, say): the
 * db kind waits for it without blocking the event loop, so every other request of the gateway is
 * served meanwhile, and the call goes on as soon as the lock is gone.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLegacyDatabase, type LegacyDatabase } from './legacy-databases.ts';
import { SqliteDriver } from '../../src/kinds/db/drivers/sqlite-driver.ts';
import type { DriverSettings } from '../../src/kinds/db/drivers/driver.ts';

// A long lock wait allowed: the test decides when the lock goes.
const SETTINGS: DriverSettings = { adapter: 'test', poolMax: 1, poolMin: 0, idleTimeoutMs: 1_000, connectTimeoutMs: 20_000, statementTimeoutMs: 2_000, fetchSize: 100 };
const SQL = 'SELECT CUST_NO FROM CUSTMAST ORDER BY CUST_NO';

let db: LegacyDatabase;
beforeAll(async () => {
  db = await createLegacyDatabase('sqlite');
}, 30_000);
afterAll(async () => {
  await db?.drop();
});

/** Another connection holding an exclusive lock on the file until `release()`. */
function lockFile(file: string) {
  const holder = new Database(file);
  holder.pragma('journal_mode = DELETE');
  holder.exec('BEGIN EXCLUSIVE');
  holder.prepare("UPDATE CODETBL SET CD_DESC = CD_DESC WHERE CD_TYP = 'none'").run();
  return {
    release: () => {
      holder.exec('COMMIT');
      holder.close();
    },
  };
}

/** Settles `p` into a flag that says whether it has settled yet. */
function track<T>(p: Promise<T>) {
  const state = { settled: false, result: undefined as T | undefined, error: undefined as unknown };
  const done = p.then(
    (v) => {
      state.settled = true;
      state.result = v;
    },
    (e: unknown) => {
      state.settled = true;
      state.error = e;
    },
  );
  return { state, done };
}

describe('a locked SQLite legacy database', () => {
  it.each(['query', 'stream'] as const)(
    '%s waits for the lock without blocking the event loop, then returns the rows',
    async (how) => {
      const driver = new SqliteDriver(db.target, SETTINGS);
      const signal = new AbortController().signal;
      const lock = lockFile(db.target);
      let released = false;
      try {
        // The fast path declines at once rather than waiting inside SQLite.
        if (how === 'query') expect(driver.querySync(SQL, [], { signal })).toBeUndefined();
        const call = track(
          how === 'query'
            ? driver.query(SQL, [], { signal })
            : (async () => {
                const rows = [];
                for await (const r of driver.stream(SQL, [], { signal })) rows.push(r);
                return rows;
              })(),
        );
        // A timer set after the call started fires while the call still waits: the loop is free.
        // (With SQLite's own busy timeout the call would hold the thread until the lock went or the
        // wait ran out, and only then would the timer fire.)
        await new Promise((r) => setTimeout(r, 50));
        expect(call.state.settled).toBe(false);
        lock.release();
        released = true;
        await call.done;
        expect(call.state.error).toBeUndefined();
        expect((call.state.result as unknown[]).length).toBeGreaterThan(1);
      } finally {
        if (!released) lock.release();
        await driver.close();
      }
    },
    60_000,
  );

  it('gives up after the connect timeout with a SQLITE_BUSY error (a 503 for the caller)', async () => {
    const driver = new SqliteDriver(db.target, { ...SETTINGS, connectTimeoutMs: 200 });
    const lock = lockFile(db.target);
    try {
      await expect(driver.query(SQL, [], { signal: new AbortController().signal })).rejects.toMatchObject({ code: expect.stringMatching(/^SQLITE_BUSY/) });
    } finally {
      lock.release();
      await driver.close();
    }
  });

  it("stops waiting when the caller's signal fires (the policy timeout)", async () => {
    const driver = new SqliteDriver(db.target, SETTINGS);
    const lock = lockFile(db.target);
    try {
      const ac = new AbortController();
      const call = driver.query(SQL, [], { signal: ac.signal });
      ac.abort(new Error('no answer within the policy timeout'));
      await expect(call).rejects.toThrow();
    } finally {
      lock.release();
      await driver.close();
    }
  });
});
