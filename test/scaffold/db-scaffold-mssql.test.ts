/**
 * `ficus scaffold db` on SQL Server, through the real `mssql`/tedious driver against the TDS test
 * server (test/helpers/tds-server.ts), which answers the scaffold's catalogue queries
 * (INFORMATION_SCHEMA.COLUMNS, the primary key from TABLE_CONSTRAINTS and KEY_COLUMN_USAGE, the
 * tables), its sample (TOP … ORDER BY the key), its GROUP BY of code columns and the code table, as
 * SQL Server would for the sample's CUSTMAST and CODETBL. The types map as on the other engines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CODE_ROWS, CUSTMAST_COLUMNS, legacyCustomerRows } from '../../sample/legacy-crm/legacy-rows.ts';
import { scaffoldDb } from '../../src/scaffold/db-scaffold.ts';
import { startTdsServer, type RunningTdsServer, type TdsAnswer, type TdsQuery } from '../helpers/tds-server.ts';
import { ficus, initProjectDir } from './scaffold-support.ts';

const ROWS = legacyCustomerRows();
const INT_COLUMNS = new Set(['CUST_NO', 'CR_LMT', 'CRT_DT', 'LAST_UPD_DT', 'LAST_UPD_TM']);
const WIDTH: Record<string, number> = { CUST_NM: 40, EMAIL_ADDR: 60, STAT_CD: 2, VIP_FLG: 1, ADDR_LINE1: 35, ADDR_LINE2: 35, ADDR_LINE3: 35, CITY_NM: 25, POST_CD: 10, CNTRY_CD: 2 };
const CATALOGUE: Record<string, { name: string; type: string; len: number | null }[]> = {
  CUSTMAST: CUSTMAST_COLUMNS.map((name) => ({ name, type: INT_COLUMNS.has(name) ? 'int' : 'char', len: INT_COLUMNS.has(name) ? null : WIDTH[name] })),
  CODETBL: [
    { name: 'CD_TYP', type: 'char', len: 8 },
    { name: 'CD_VAL', type: 'char', len: 2 },
    { name: 'CD_DESC', type: 'char', len: 20 },
  ],
};
const PRIMARY_KEY: Record<string, string[]> = { CUSTMAST: ['CUST_NO'], CODETBL: ['CD_TYP', 'CD_VAL'] };

/** The scaffold's statements, answered as SQL Server would; anything else is a syntax error. */
function sqlServer(q: TdsQuery): TdsAnswer {
  const sql = q.sql.replace(/\s+/g, ' ').trim();
  const p1 = String(q.params.p1 ?? '').toUpperCase();
  if (/^SELECT 1/.test(sql)) return { columns: [{ name: 'ok', type: 'int' }], rows: [[1]] };
  if (sql.includes('FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = SCHEMA_NAME() AND UPPER(TABLE_NAME) = UPPER(@p1)')) {
    const cols = CATALOGUE[p1] ?? [];
    return {
      columns: ['tbl', 'col_name', 'data_type', 'char_len', 'num_prec', 'num_scale', 'nullable'].map((name) => ({
        name,
        type: ['char_len', 'num_prec', 'num_scale'].includes(name) ? 'int' : 'nvarchar',
      })),
      rows: cols.map((c) => [p1, c.name, c.type, c.len, c.type === 'int' ? 10 : null, c.type === 'int' ? 0 : null, 'NO']),
    };
  }
  if (sql.includes('FROM INFORMATION_SCHEMA.TABLE_CONSTRAINTS t JOIN INFORMATION_SCHEMA.KEY_COLUMN_USAGE k') && sql.includes("t.CONSTRAINT_TYPE = 'PRIMARY KEY'")) {
    return { columns: [{ name: 'col_name', type: 'nvarchar' }], rows: (PRIMARY_KEY[p1] ?? []).map((c) => [c]) };
  }
  if (sql.startsWith('SELECT TABLE_NAME AS tbl FROM INFORMATION_SCHEMA.TABLES')) return { columns: [{ name: 'tbl', type: 'nvarchar' }], rows: [['CODETBL'], ['CUSTMAST']] };
  let m = /^SELECT TOP \((\d+)\) \* FROM CUSTMAST ORDER BY CUST_NO$/.exec(sql);
  if (m) {
    const rows = [...ROWS].sort((a, b) => Number(a.CUST_NO) - Number(b.CUST_NO)).slice(0, Number(m[1]));
    return { columns: CUSTMAST_COLUMNS.map((name) => ({ name, type: INT_COLUMNS.has(name) ? 'int' : 'nvarchar' })), rows: rows.map((r) => CUSTMAST_COLUMNS.map((c) => r[c])) };
  }
  m = /^SELECT TOP \((\d+)\) (\w+) AS v, COUNT\(\*\) AS n FROM CUSTMAST GROUP BY \2 ORDER BY COUNT\(\*\) DESC$/.exec(sql);
  if (m) {
    const counts = new Map<string, number>();
    for (const r of ROWS) counts.set(String(r[m[2] as keyof typeof r]), (counts.get(String(r[m[2] as keyof typeof r])) ?? 0) + 1);
    const rows = [...counts].sort((a, b) => b[1] - a[1]).slice(0, Number(m[1]));
    return {
      columns: [
        { name: 'v', type: 'nvarchar' },
        { name: 'n', type: 'int' },
      ],
      rows,
    };
  }
  if (/^SELECT TOP \(\d+\) CD_TYP, CD_VAL, CD_DESC FROM CODETBL$/.test(sql)) {
    return { columns: ['CD_TYP', 'CD_VAL', 'CD_DESC'].map((name) => ({ name, type: 'nvarchar' })), rows: CODE_ROWS.map((r) => [r.CD_TYP, r.CD_VAL, r.CD_DESC]) };
  }
  return { error: { number: 102, message: `Incorrect syntax (unexpected statement): ${sql}` } };
}

describe('ficus scaffold db on SQL Server (mssql driver against the TDS test server)', () => {
  let tds: RunningTdsServer;
  let project: Awaited<ReturnType<typeof initProjectDir>>;
  let sqlite: Awaited<ReturnType<typeof initProjectDir>>;
  beforeAll(async () => {
    tds = await startTdsServer({ onQuery: sqlServer });
    project = await initProjectDir();
    sqlite = await initProjectDir();
  });
  afterAll(async () => {
    await tds?.close();
    project?.remove();
    sqlite?.remove();
  });

  it('reads the catalogue through INFORMATION_SCHEMA with the table name as a typed parameter, and maps the types as on the other engines', async () => {
    const url = `mssql://sa:Secret-123@127.0.0.1:${tds.port}/CRM`;
    const r = await scaffoldDb({ project: project.root, adapter: 'crm-db', table: 'CUSTMAST', driver: 'mssql', url, connection: { encrypt: false }, env: {} });
    const columns = tds.queries.find((q) => q.sql.includes('INFORMATION_SCHEMA.COLUMNS'))!;
    expect(columns.kind).toBe('rpc');
    expect(columns.params.p1).toBe('CUSTMAST');
    expect(columns.declarations).toMatch(/^@p1 nvarchar/);
    expect(tds.logins.every((l) => l.readOnlyIntent && l.accepted)).toBe(true);
    expect(r.model.key.map((k) => k.column.name)).toEqual(['CUST_NO']);
    // The password of the URL is never written: the adapter reads it from CRM_DB_URL.
    const adapter = readFileSync(join(project.root, 'adapters/crm-db/adapter.yaml'), 'utf8');
    expect(adapter).toContain('url: ${env:CRM_DB_URL}');
    expect(adapter).not.toContain('Secret-123');
    expect(r.notes.join('\n')).toContain('set CRM_DB_URL');
    expect(readFileSync(join(project.root, 'adapters/crm-db/sql/get-customer.sql'), 'utf8')).toMatch(/FROM CUSTMAST\n WHERE CUST_NO = :customerId\n$/);

    // The same resource as from the SQLite copy of the same data.
    const { seedSqlite } = await import('../../sample/legacy-crm/seed.ts');
    const file = join(sqlite.root, '..', 'crm.sqlite');
    seedSqlite(file);
    expect((await ficus(['scaffold', 'db', '--project', sqlite.root, '--adapter', 'crm-db', '--driver', 'sqlite', '--file', file, '--table', 'CUSTMAST'])).code).toBe(0);
    const schemaOf = (root: string) => (parseYaml(readFileSync(join(root, 'openapi.yaml'), 'utf8')) as { components: { schemas: Record<string, unknown> } }).components.schemas.Customer;
    expect(schemaOf(project.root)).toEqual(schemaOf(sqlite.root));
    const mappingOf = (root: string) => parseYaml(readFileSync(join(root, 'adapters/crm-db/mapping/customer.yaml'), 'utf8')) as unknown;
    expect(mappingOf(project.root)).toEqual(mappingOf(sqlite.root));

    // ficus check accepts it (it connects to nothing) once the URL is in the environment.
    const before = process.env.CRM_DB_URL;
    process.env.CRM_DB_URL = url;
    try {
      const check = await ficus(['check', '--root', project.root]);
      expect(check.stderr).toBe('');
      expect(check.code).toBe(0);
    } finally {
      if (before === undefined) delete process.env.CRM_DB_URL;
      else process.env.CRM_DB_URL = before;
    }
  });
});
