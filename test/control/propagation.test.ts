/**
 * The route-state listener (PostgreSQL LISTEN/NOTIFY): its connection failing at any moment, even
 * after the gateway closed it (a database dropped or restarted at shutdown), never ends the process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StatePropagation } from '../../src/control/propagation.ts';
import { openStore, type SqlStore } from '../../src/state/sql-store.ts';
import { memoryLogger } from '../helpers/gateway.ts';

const PG_URL = process.env.FICUS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
let store: SqlStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

describe('the route-state listener', () => {
  it('hears an error of its connection after it closed without releasing it twice', async () => {
    store = await openStore({ driver: 'postgres', url: PG_URL });
    const pool = store.pgPool;
    if (!pool) throw new Error('expected a PostgreSQL pool');
    const { logger } = memoryLogger('silent');
    const propagation = new StatePropagation(store, 60_000, logger, () => undefined);
    await propagation.start();
    const listening = (propagation as unknown as { client: { emit(e: string, err: Error): boolean } }).client;
    expect(listening).toBeDefined();
    await propagation.close();
    // The server ends the connection after the listener gave it back (e.g. the database is dropped).
    expect(() => listening.emit('error', new Error('terminating connection due to administrator command'))).not.toThrow();
  });
});
