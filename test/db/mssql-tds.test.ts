/**
 * The SQL Server path run for real, without a SQL Server: the crm-db adapter with driver mssql,
 * through a gateway, using the real `mssql`/tedious driver against the TDS test server. The server
 * checks what the driver sends (login with ApplicationIntent=ReadOnly, the kind's T-SQL with
 * OFFSET … FETCH, typed @p parameters via sp_executesql) and answers from the legacy rows, so the
 * mapped answers can be compared with the modern service's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModernCustomers, type RunningService } from '../../sample/modern-customers/server.ts';
import { CODE_ROWS, CUSTMAST_COLUMNS, legacyCustomerRows, type LegacyCustomerRow } from '../../sample/legacy-crm/legacy-rows.ts';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import { startTdsServer, type RunningTdsServer, type TdsAnswer, type TdsColumn, type TdsQuery } from '../helpers/tds-server.ts';

const ROOT = `${FIXTURES}db-gateway`;
const ROWS = legacyCustomerRows();
const BY_ID = new Map(ROWS.map((r) => [r.CUST_NO, r]));
const SORTED = [...ROWS].sort((a, b) => Number(a.LAST_UPD_DT) - Number(b.LAST_UPD_DT) || Number(a.LAST_UPD_TM) - Number(b.LAST_UPD_TM) || Number(a.CUST_NO) - Number(b.CUST_NO));
const DESC = new Map(CODE_ROWS.filter((c) => c.CD_TYP === 'CUSTSTAT').map((c) => [c.CD_VAL, c.CD_DESC]));
// The binding's result columns: CUSTMAST's, with the status code's description in place of the code.
const COLUMNS: TdsColumn[] = CUSTMAST_COLUMNS.map((c) => (c === 'STAT_CD' ? 'STAT_DESC' : c)).map((name) => ({
  name,
  type: ['CUST_NO', 'CR_LMT', 'CRT_DT', 'LAST_UPD_DT', 'LAST_UPD_TM'].includes(name) ? 'int' : 'nvarchar',
}));
const INT = 0x26;

function toResult(rows: LegacyCustomerRow[]): TdsAnswer {
  return { columns: COLUMNS, rows: rows.map((r) => COLUMNS.map((c) => (c.name === 'STAT_DESC' ? DESC.get(String(r.STAT_CD))! : r[c.name as keyof LegacyCustomerRow]))) };
}

/** Answers the kind's statements the way SQL Server would, and refuses anything else. */
function crm(q: TdsQuery, opts: { delayMs?: number } = {}): TdsAnswer {
  const answer = (a: TdsAnswer): TdsAnswer => (opts.delayMs && !/^SELECT 1/.test(q.sql) ? { delayMs: opts.delayMs, then: a as never } : a);
  if (q.sql === 'SELECT 1;' || q.sql === 'SELECT 1 AS ok') return { columns: [{ name: 'ok', type: 'int' }], rows: [[1]] };
  if (q.procedure !== 'sp_executesql') return { error: { number: 2812, message: `unexpected procedure ${q.procedure}` } };
  if (/WHERE C\.CUST_NO = @p1\s*$/.test(q.sql) && !q.sql.includes('ficus_page')) {
    if (q.paramTypes.p1 !== INT) return { error: { number: 245, message: 'customerId was not sent as int' } };
    const row = BY_ID.get(Number(q.params.p1));
    return answer(toResult(row ? [row] : []));
  }
  const first = / ficus_page ORDER BY LAST_UPD_DT, LAST_UPD_TM, CUST_NO OFFSET 0 ROWS FETCH NEXT @p3 ROWS ONLY$/.test(q.sql);
  const next =
    / ficus_page WHERE \(LAST_UPD_DT > @p3 OR \(LAST_UPD_DT = @p3 AND \(LAST_UPD_TM > @p4 OR \(LAST_UPD_TM = @p4 AND CUST_NO > @p5\)\)\)\) ORDER BY LAST_UPD_DT, LAST_UPD_TM, CUST_NO OFFSET 0 ROWS FETCH NEXT @p6 ROWS ONLY$/.test(
      q.sql,
    );
  if ((first || next) && q.sql.includes('WHERE C.LAST_UPD_DT > @p1\n    OR (C.LAST_UPD_DT = @p1 AND C.LAST_UPD_TM >= @p2)')) {
    const p = q.params as Record<string, number>;
    if (Object.values(q.paramTypes).some((t) => t !== INT)) return { error: { number: 245, message: 'a paging parameter was not sent as int' } };
    const key = (r: LegacyCustomerRow) => [Number(r.LAST_UPD_DT), Number(r.LAST_UPD_TM), Number(r.CUST_NO)];
    const after = (a: number[], b: number[]) => a[0] > b[0] || (a[0] === b[0] && (a[1] > b[1] || (a[1] === b[1] && a[2] > b[2])));
    const rows = SORTED.filter((r) => Number(r.LAST_UPD_DT) > p.p1 || (Number(r.LAST_UPD_DT) === p.p1 && Number(r.LAST_UPD_TM) >= p.p2))
      .filter((r) => first || after(key(r), [p.p3, p.p4, p.p5]))
      .slice(0, first ? p.p3 : p.p6);
    return answer(toResult(rows));
  }
  return { error: { number: 102, message: `Incorrect syntax (unexpected statement): ${q.sql}` } };
}

let modern: RunningService;
beforeAll(async () => {
  modern = await startModernCustomers();
});
afterAll(async () => {
  await modern.close();
});

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

function env(tds: RunningTdsServer, password = 'Secret-123', extra: Record<string, string> = {}) {
  return {
    CRM_DB_DRIVER: 'mssql',
    CRM_DB_URL: `mssql://sa:${encodeURIComponent(password)}@127.0.0.1:${tds.port}/CRM`,
    CRM_DB_ENCRYPT: 'false',
    PROBE_SLEEP_SQL: 'sql/sleep-sqlite.sql',
    ...extra,
  };
}

describe('crm-db on SQL Server (mssql driver against the TDS test server)', () => {
  let tds: RunningTdsServer;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  beforeAll(async () => {
    tds = await startTdsServer({ onQuery: (q) => crm(q) });
    gw = await startGateway(ROOT, env(tds));
  });
  afterAll(async () => {
    await gw?.close();
    await tds?.close();
  });

  it('logs in read-only (ApplicationIntent=ReadOnly) with the configured user, database and application name', async () => {
    expect((await getJson(`${gw.url}/readyz`)).status).toBe(200);
    expect(tds.logins.length).toBeGreaterThan(0);
    for (const l of tds.logins) expect(l).toMatchObject({ user: 'sa', database: 'CRM', readOnlyIntent: true, accepted: true, appName: expect.stringMatching(/^ficus\/crm-(db|probe|db-changes)$/) });
    expect(tds.logins.map((l) => l.appName)).toContain('ficus/crm-db');
  });

  it('serves getCustomer through sp_executesql with a typed @p1, equal to the modern service', async () => {
    for (const id of [1001, 1777, 3999]) {
      const r = await getJson(`${gw.url}/customers/${id}`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual((await getJson(`${modern.url}/customers/${id}`)).body);
    }
    const q = tds.queries.find((x) => x.sql.endsWith('WHERE C.CUST_NO = @p1') && x.params.p1 === 1777)!;
    expect(q.declarations).toBe('@p1 int');
    expect((await getJson(`${gw.url}/customers/99999`)).status).toBe(404);
  });

  it('pages listCustomers with T-SQL OFFSET … FETCH and the keyset, in the modern service order', async () => {
    const walk = async (base: string, q: string) => {
      const out: any[] = [];
      let cursor: string | null = null;
      do {
        const r = await getJson(`${base}/customers?${q}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(r.status).toBe(200);
        out.push(...r.body.items);
        cursor = r.body.nextCursor;
      } while (cursor);
      return out;
    };
    const q = `limit=100&updatedSince=${encodeURIComponent('2023-07-01T00:00:00Z')}`;
    const [legacy, expected] = await Promise.all([walk(gw.url, q), walk(modern.url, q)]);
    expect(legacy.length).toBeGreaterThan(500);
    expect(legacy).toEqual(expected);
    const paged = tds.queries.filter((x) => x.sql.includes('FETCH NEXT @p6 ROWS ONLY'));
    expect(paged.length).toBeGreaterThan(3);
    expect(paged[0].params.p6).toBe(101);
  });

  it('turns a SQL Server error into a 502 problem', async () => {
    const r = await getJson(`${gw.url}/probe/customers-by-name?name=x`);
    expect(r.status).toBe(502);
    expect(r.body.detail).toContain('Incorrect syntax');
  });
});

describe('SQL Server failures', () => {
  it('a refused login: 502 upstream-credentials problem, /readyz names the adapter and the reason', async () => {
    const tds = await startTdsServer({ onQuery: (q) => crm(q) });
    const gw = await startGateway(ROOT, env(tds, 'wrong-password'));
    try {
      const r = await getJson(`${gw.url}/customers/1001`);
      expect(r.status).toBe(502);
      expect(r.body.type).toBe('https://ficus.dev/problems/upstream-credentials');
      const ready = await getJson(`${gw.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body.adapters['crm-db'].detail).toContain("Login failed for user 'sa'");
      expect(tds.logins.every((l) => !l.accepted)).toBe(true);
    } finally {
      await gw.close();
      await tds.close();
    }
  });

  it('a statement past its timeout is cancelled (an attention to the server): 504 problem', async () => {
    const tds = await startTdsServer({ onQuery: (q) => crm(q, { delayMs: 20_000 }) });
    const gw = await startGateway(ROOT, env(tds, 'Secret-123', { CRM_DB_STATEMENT_TIMEOUT_MS: '300' }));
    try {
      const start = Date.now();
      const r = await getJson(`${gw.url}/customers/1001`);
      expect(r.status).toBe(504);
      expect(r.body.detail).toContain('ran past its timeout');
      expect(Date.now() - start).toBeLessThan(10_000); // 300 ms timeout, a 20 s statement: generous, still tells them apart
      expect(tds.attentions).toBeGreaterThan(0);
    } finally {
      await gw.close();
      await tds.close();
    }
  });
});
