/**
 * Cache settings changed through one instance's admin API reach another instance on the same
 * PostgreSQL state store by LISTEN/NOTIFY (the safety-net poll is once a minute, beyond the wait).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResponseCache } from '../../src/cache/response-cache.ts';
import { createTempDatabase, type TempDatabase } from '../helpers/databases.ts';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';
import { startUpstream } from '../fixtures/upstream-server.ts';

const ROOT = join(FIXTURES, 'http-gateway');
const TOKEN = 'cache-settings-pg-token-0123456789';

describe('cache settings on a PostgreSQL state store', () => {
  let db: TempDatabase;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let a: Awaited<ReturnType<typeof startGateway>>;
  let b: Awaited<ReturnType<typeof startGateway>>;
  const cacheOf = (gw: typeof a) => gw.gateway.feature<ResponseCache>('cache');

  beforeAll(async () => {
    db = await createTempDatabase('postgres', 'h17_cache_settings');
    upstream = await startUpstream();
    const env = { UPSTREAM_URL: upstream.url, STATE_URL: db.url, FICUS_ADMIN_TOKENS: `ops:${TOKEN}` };
    a = await startGateway(ROOT, env, { file: 'ficus-cache-pg.yaml', adminServer: true });
    b = await startGateway(ROOT, env, { file: 'ficus-cache-pg.yaml' });
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await upstream?.close();
    await db?.drop();
  });

  it('a change through instance A is in force on instance B by notification', async () => {
    expect(cacheOf(b).routeConfig('listCustomers')?.ttl).toBe(3_600_000);
    const put = await fetch(`${a.adminUrl}/cache/routes/listCustomers`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ttl: '45s', staleWhileRevalidate: '15s' }),
    });
    expect(put.status).toBe(200);
    await eventually(() => cacheOf(b).routeConfig('listCustomers')?.ttl === 45_000, 30_000, 'instance B put the change in force');
    expect(cacheOf(b).routeConfig('listCustomers')?.staleWhileRevalidate).toBe(15_000);
    expect((await fetch(`${b.url}/customers`)).status).toBe(200);
    const hit = await fetch(`${b.url}/customers`);
    expect(hit.headers.get('ficus-cache')).toBe('hit');
    expect(hit.headers.get('cache-control')).toBe('public, max-age=45, stale-while-revalidate=15');
  });
});
