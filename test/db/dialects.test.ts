/**
 * The SQL each engine gets: named parameters turned into the driver's placeholders (never the
 * values), and pages cut the engine's way. The T-SQL forms are checked here because no SQL Server
 * runs on these machines (the mssql driver itself is run against the TDS test server).
 */
import { describe, expect, it } from 'vitest';
import { DIALECTS, keysetAfter, pageStatement } from '../../src/kinds/db/dialects.ts';
import { checkSingleRead, parseNamed } from '../../src/kinds/db/sql-text.ts';

const SELECT = 'SELECT CUST_NO, LAST_UPD_DT FROM CUSTMAST WHERE STAT_CD = :status AND (LAST_UPD_DT > :since OR LAST_UPD_DT = :since)';
const ORDER = [
  { column: 'LAST_UPD_DT', descending: false },
  { column: 'CUST_NO', descending: false },
];

describe('named parameters', () => {
  it('finds :names in code only, not in literals, quoted identifiers, comments or ::casts', () => {
    const named = parseNamed(`SELECT ':notParam' AS "x:y", [a:b], CAST(a AS INT)::text -- :comment
      FROM T WHERE a = :one AND b = :two /* :three */ AND c = :one`);
    expect(named.names).toEqual(['one', 'two']);
  });

  it('gives each engine its placeholders: @p for SQL Server, $n for PostgreSQL, ? for MySQL and SQLite', () => {
    const named = parseNamed(SELECT);
    const mssql = DIALECTS.mssql.compile(named);
    expect(mssql.text).toBe('SELECT CUST_NO, LAST_UPD_DT FROM CUSTMAST WHERE STAT_CD = @p1 AND (LAST_UPD_DT > @p2 OR LAST_UPD_DT = @p2)');
    expect(mssql.order).toEqual(['status', 'since']);
    const pg = DIALECTS.postgres.compile(named);
    expect(pg.text).toBe('SELECT CUST_NO, LAST_UPD_DT FROM CUSTMAST WHERE STAT_CD = $1 AND (LAST_UPD_DT > $2 OR LAST_UPD_DT = $2)');
    expect(pg.order).toEqual(['status', 'since']);
    for (const d of ['mysql', 'sqlite'] as const) {
      const c = DIALECTS[d].compile(named);
      expect(c.text).toBe('SELECT CUST_NO, LAST_UPD_DT FROM CUSTMAST WHERE STAT_CD = ? AND (LAST_UPD_DT > ? OR LAST_UPD_DT = ?)');
      expect(c.order).toEqual(['status', 'since', 'since']);
    }
  });

  it('leaves a value that looks like SQL out of the statement text', () => {
    const c = DIALECTS.mssql.compile(parseNamed(checkSingleRead("SELECT * FROM T WHERE NAME = :name AND NOTE = 'it''s'")));
    expect(c.text).toBe("SELECT * FROM T WHERE NAME = @p1 AND NOTE = 'it''s'");
  });
});

describe('paging', () => {
  it('T-SQL: ORDER BY … OFFSET 0 ROWS FETCH NEXT @p ROWS ONLY for a first keyset page', () => {
    const c = pageStatement(DIALECTS.mssql, SELECT, ORDER, { after: false, offset: false });
    expect(c.text).toBe(`SELECT * FROM (\n${SELECT.replace(':status', '@p1').replaceAll(':since', '@p2')}\n) ficus_page ORDER BY LAST_UPD_DT, CUST_NO OFFSET 0 ROWS FETCH NEXT @p3 ROWS ONLY`);
    expect(c.order).toEqual(['status', 'since', 'ficus_limit']);
  });

  it('T-SQL: the keyset condition after the last row, and OFFSET @p ROWS for offset paging', () => {
    const next = pageStatement(DIALECTS.mssql, 'SELECT * FROM T', ORDER, { after: true, offset: false });
    expect(next.text).toBe(
      'SELECT * FROM (\nSELECT * FROM T\n) ficus_page WHERE (LAST_UPD_DT > @p1 OR (LAST_UPD_DT = @p1 AND CUST_NO > @p2)) ORDER BY LAST_UPD_DT, CUST_NO OFFSET 0 ROWS FETCH NEXT @p3 ROWS ONLY',
    );
    expect(next.order).toEqual(['ficus_after_0', 'ficus_after_1', 'ficus_limit']);
    const offset = pageStatement(DIALECTS.mssql, 'SELECT * FROM T', ORDER, { after: false, offset: true });
    expect(offset.text).toBe('SELECT * FROM (\nSELECT * FROM T\n) ficus_page ORDER BY LAST_UPD_DT, CUST_NO OFFSET @p1 ROWS FETCH NEXT @p2 ROWS ONLY');
    expect(offset.order).toEqual(['ficus_offset', 'ficus_limit']);
  });

  it('LIMIT (and OFFSET) elsewhere', () => {
    expect(pageStatement(DIALECTS.postgres, 'SELECT * FROM T', ORDER, { after: true, offset: false }).text).toBe(
      'SELECT * FROM (\nSELECT * FROM T\n) ficus_page WHERE (LAST_UPD_DT > $1 OR (LAST_UPD_DT = $1 AND CUST_NO > $2)) ORDER BY LAST_UPD_DT, CUST_NO LIMIT $3',
    );
    const my = pageStatement(DIALECTS.mysql, 'SELECT * FROM T', ORDER, { after: false, offset: true });
    expect(my.text).toBe('SELECT * FROM (\nSELECT * FROM T\n) ficus_page ORDER BY LAST_UPD_DT, CUST_NO LIMIT ? OFFSET ?');
    expect(my.order).toEqual(['ficus_limit', 'ficus_offset']);
  });

  it('builds the keyset condition for any number of keys and for descending keys', () => {
    expect(keysetAfter([{ column: 'A', descending: false }])).toBe('(A > :ficus_after_0)');
    expect(
      keysetAfter([
        { column: 'A', descending: true },
        { column: 'B', descending: false },
        { column: 'C', descending: false },
      ]),
    ).toBe('(A < :ficus_after_0 OR (A = :ficus_after_0 AND (B > :ficus_after_1 OR (B = :ficus_after_1 AND C > :ficus_after_2))))');
  });
});
