/**
 * The sample's crm-db adapter served through a real gateway from a real legacy database on each
 * engine (SQLite, the local PostgreSQL, the local MariaDB): every binding answers exactly what the
 * modern customers service answers for the same people, pages in the same order, and turns bad
 * input into 4xx problems without the database seeing a malformed statement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModernCustomers, type RunningService } from '../../sample/modern-customers/server.ts';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import { createLegacyDatabase, type LegacyDatabase } from './legacy-databases.ts';
import type { LegacyEngine } from '../../sample/legacy-crm/seed.ts';

const ROOT = `${FIXTURES}db-gateway`;
const SLEEP_SQL: Record<LegacyEngine, string> = { sqlite: 'sql/sleep-sqlite.sql', postgres: 'sql/sleep-postgres.sql', mysql: 'sql/sleep-mysql.sql' };

let modern: RunningService;
beforeAll(async () => {
  modern = await startModernCustomers();
});
afterAll(async () => {
  await modern.close();
});

async function getJson(url: string): Promise<{ status: number; body: any; type: string | null }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json(), type: res.headers.get('content-type') };
}

/** Every item of a list, page by page, following nextCursor. */
async function walk(base: string, query: string): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const r = await getJson(`${base}/customers?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(r.status).toBe(200);
    items.push(...r.body.items);
    cursor = r.body.nextCursor;
    if (!cursor) return items;
  }
  throw new Error('more than 100 pages');
}

describe.each(['sqlite', 'postgres', 'mysql'] as const)('crm-db on %s', (engine) => {
  let db: LegacyDatabase;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  /** Every customer as the gateway listed them (filled by the ordering test). */
  let all: any[] = [];

  beforeAll(async () => {
    db = await createLegacyDatabase(engine);
    gw = await startGateway(ROOT, { ...db.env, PROBE_SLEEP_SQL: SLEEP_SQL[engine], CRM_DB_CURSOR_KEY: 'a-test-cursor-key-of-some-length' });
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await db?.drop();
  });

  it('answers getCustomer with exactly the JSON the modern service returns for the same id', async () => {
    for (const id of [1001, 1002, 1500, 2222, 3137, 4000]) {
      const legacy = await getJson(`${gw.url}/customers/${id}`);
      const expected = await getJson(`${modern.url}/customers/${id}`);
      expect(legacy.status).toBe(200);
      expect(legacy.body).toEqual(expected.body);
    }
  });

  it('lists every customer in the modern service order (oldest change first, then id), page by page', async () => {
    const [legacy, expected] = await Promise.all([walk(gw.url, 'limit=100'), walkModern('limit=100')]);
    expect(legacy).toHaveLength(3000);
    expect(legacy).toEqual(expected);
    all = legacy;
  });

  it('maps the legacy forms: null email from blanks, nested address lines, cents, CYYMMDD dates, Y/N, status codes', () => {
    expect(all).toHaveLength(3000);
    expect(all.some((c) => c.email === null)).toBe(true);
    expect(all.some((c) => c.address.lines.length === 2)).toBe(true);
    expect(all.some((c) => c.creditLimit % 1 === 0.5)).toBe(true);
    expect(all.some((c) => c.createdOn < '2000-01-01') && all.some((c) => c.createdOn >= '2000-01-01')).toBe(true);
    expect(new Set(all.map((c) => c.status))).toEqual(new Set(['active', 'suspended', 'closed']));
    expect(all.some((c) => c.vip) && all.some((c) => !c.vip)).toBe(true);
  });

  it('answers 404 problem when no row has the key', async () => {
    const r = await getJson(`${gw.url}/customers/99999`);
    expect(r.status).toBe(404);
    expect(r.type).toContain('application/problem+json');
    expect(r.body).toMatchObject({ status: 404, type: 'https://ficus.dev/problems/not-found', detail: 'no customer 99999' });
  });

  it('filters by updatedSince like the modern service, across an offset and fractional seconds', async () => {
    for (const since of ['2024-06-01T12:00:00+02:00', '2023-02-03T04:05:06.500Z']) {
      const q = `limit=37&updatedSince=${encodeURIComponent(since)}`;
      const [legacy, expected] = await Promise.all([walk(gw.url, q), walkModern(q)]);
      expect(legacy.length).toBeGreaterThan(10);
      expect(legacy).toEqual(expected);
    }
  });

  it('uses the default page size and ends with a null cursor', async () => {
    const first = await getJson(`${gw.url}/customers`);
    expect(first.body.items).toHaveLength(20);
    expect(typeof first.body.nextCursor).toBe('string');
    const last = await getJson(`${gw.url}/customers?limit=5&updatedSince=2024-12-28T23:00:00Z`);
    expect(last.body.items.length).toBeLessThan(5);
    expect(last.body.nextCursor).toBeNull();
  });

  it('refuses a tampered or foreign cursor, a limit over the maximum and a key of the wrong type with 400 problems', async () => {
    const page = await getJson(`${gw.url}/customers?limit=2`);
    const cursor: string = page.body.nextCursor;
    const [payload, mac] = cursor.split('.');
    const forged = Buffer.from(JSON.stringify({ a: [20200101, 0, 1001] })).toString('base64url');
    for (const bad of [`${forged}.${mac}`, `${payload}.${mac.slice(0, -2)}AA`, 'not-a-cursor', `${payload}`]) {
      const r = await getJson(`${gw.url}/customers?cursor=${encodeURIComponent(bad)}`);
      expect(r.status).toBe(400);
      expect(r.body.type).toBe('https://ficus.dev/problems/validation');
    }
    // A cursor issued by another operation (findCustomersByName) does not open this one.
    const other = await getJson(`${gw.url}/probe/customers-by-name?name=${encodeURIComponent(page.body.items[0].name)}&limit=1`);
    expect(other.status).toBe(200);
    if (other.body.nextCursor) expect((await getJson(`${gw.url}/customers?cursor=${encodeURIComponent(other.body.nextCursor)}`)).status).toBe(400);
    expect((await getJson(`${gw.url}/customers?limit=101`)).status).toBe(400);
    expect((await getJson(`${gw.url}/customers?limit=0`)).status).toBe(400);
    expect((await getJson(`${gw.url}/customers/abc`)).status).toBe(400);
    expect((await getJson(`${gw.url}/customers/1001%20OR%201=1`)).status).toBe(400);
    expect((await getJson(`${gw.url}/customers?updatedSince=${encodeURIComponent("2024-01-01' OR '1'='1")}`)).status).toBe(400);
  });

  it('binds an injection attempt as a plain value: no match, and the tables are intact', async () => {
    for (const attempt of ["' OR '1'='1", "x'; DROP TABLE CUSTMAST; --", "Falcon Press GmbH' --", '%', "\\' OR 1=1 #"]) {
      const r = await getJson(`${gw.url}/probe/customers-by-name?name=${encodeURIComponent(attempt)}`);
      expect(r.status).toBe(200);
      expect(r.body.items).toEqual([]);
    }
    const exact = await getJson(`${gw.url}/probe/customers-by-name?name=${encodeURIComponent('Falcon Press GmbH')}&limit=100`);
    expect(exact.body.items.length).toBeGreaterThan(0);
    expect(exact.body.items.every((c: any) => c.name === 'Falcon Press GmbH')).toBe(true);
    // The probe pages by offset: small pages, followed by their cursors, give the same customers in CUST_NO order.
    expect(exact.body.items).toHaveLength(3);
    const paged: any[] = [];
    let cursor: string | null = null;
    do {
      const r = await getJson(`${gw.url}/probe/customers-by-name?name=${encodeURIComponent('Falcon Press GmbH')}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      paged.push(...r.body.items);
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(exact.body.items);
    expect(paged.map((c) => c.id)).toEqual([...paged.map((c) => c.id)].sort((a, b) => a - b));
    expect((await getJson(`${gw.url}/customers/1001`)).status).toBe(200);
  });

  it('reports readiness and per-query metrics for the adapter', async () => {
    const ready = await getJson(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.adapters['crm-db']).toEqual({ kind: 'db', ok: true });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`ficus_db_query_duration_seconds_count\\{adapter="crm-db",operation="getCustomer",driver="${engine}",outcome="ok"\\} [1-9]`));
    expect(metrics).toMatch(/ficus_db_query_duration_seconds_count\{adapter="crm-db",operation="getCustomer",driver="[a-z]+",outcome="not_found"\} [1-9]/);
    expect(metrics).toMatch(/ficus_db_rows_total\{adapter="crm-db",operation="listCustomers"\} [1-9]/);
  });
});

async function walkModern(query: string): Promise<any[]> {
  return walk(modern.url, query);
}
