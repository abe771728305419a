/**
 * What the db kind refuses at start-up, before the gateway takes any traffic: a statement that is
 * not a single read, parameters that are not declared or come from nowhere, mappings that cannot
 * work, missing files, bad connection settings. Each refusal names the file, the key and the fix.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Gateway } from '../../src/gateway.ts';
import { ConfigErrors } from '../../src/config/config-error.ts';
import { FIXTURES, memoryLogger, startGateway } from '../helpers/gateway.ts';
import { createLegacyDatabase } from './legacy-databases.ts';
import { legacyCustomerRows } from '../../sample/legacy-crm/legacy-rows.ts';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const GOOD_MAP = `
id: { column: CUST_NO, as: integer }
name: CUST_NM
email: { column: EMAIL_ADDR, blankAsNull: true }
status: { column: STAT_CD, as: enum, values: { A: active, S: suspended, C: closed } }
vip: { column: VIP_FLG, as: flag }
creditLimit: { column: CR_LMT, as: decimal, scale: 2 }
createdOn: { column: CRT_DT, as: cyymmdd }
updatedAt: { columns: [LAST_UPD_DT, LAST_UPD_TM], as: timestamp }
address:
  lines: { columns: [ADDR_LINE1, ADDR_LINE2, ADDR_LINE3], as: lines }
  city: CITY_NM
  postalCode: POST_CD
  country: CNTRY_CD
`;

/** A project with the fixture's contract and one db adapter serving getCustomer and listCustomers. */
function project(opts: { getSql?: string; getBinding?: string; connection?: string; files?: Record<string, string> }): string {
  const root = mkdtempSync(join(tmpdir(), 'ficus-db-startup-'));
  roots.push(root);
  cpSync(join(FIXTURES, 'db-gateway', 'openapi.yaml'), join(root, 'openapi.yaml'));
  writeFileSync(join(root, 'ficus.yaml'), "log: { level: silent }\nstate: { driver: sqlite, file: ':memory:' }\n");
  const dir = join(root, 'adapters', 'legacy');
  mkdirSync(join(dir, 'sql'), { recursive: true });
  writeFileSync(join(dir, 'sql', 'get.sql'), opts.getSql ?? 'SELECT * FROM CUSTMAST WHERE CUST_NO = :customerId');
  writeFileSync(join(dir, 'sql', 'list.sql'), 'SELECT * FROM CUSTMAST');
  writeFileSync(join(dir, 'sql', 'other.sql'), "SELECT 'Y' AS SLEPT");
  writeFileSync(join(dir, 'map.yaml'), GOOD_MAP);
  for (const [f, text] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, f), text);
  writeFileSync(
    join(dir, 'adapter.yaml'),
    `kind: db
connection:
${opts.connection ?? '  driver: sqlite\n  file: var/none.sqlite'}
operations:
  getCustomer:
${opts.getBinding ?? '    sql: sql/get.sql\n    params: { customerId: path.customerId }\n    map: map.yaml'}
  listCustomers:
    sql: sql/list.sql
    result: page
    map: map.yaml
    page: { orderBy: [LAST_UPD_DT, LAST_UPD_TM, CUST_NO] }
  findCustomersByName: { sql: sql/other.sql, map: { slept: SLEPT } }
  sleepInDatabase: { sql: sql/other.sql, map: { slept: { column: SLEPT, as: flag } } }
`,
  );
  return root;
}

async function startupErrors(root: string): Promise<{ key: string; message: string }[]> {
  try {
    const gw = await Gateway.create({ root, env: {}, logger: memoryLogger('silent').logger, processMetrics: false });
    await gw.close();
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => ({ key: e.key, message: e.message }));
    throw err;
  }
  return [];
}

describe('db bindings checked at start-up', () => {
  it('starts with a correct adapter (without touching the database)', async () => {
    expect(await startupErrors(project({}))).toEqual([]);
  });

  it.each([
    ['an UPDATE', "UPDATE CUSTMAST SET CUST_NM = 'X' WHERE CUST_NO = :customerId", /starts with UPDATE/],
    ['a second statement', 'SELECT * FROM CUSTMAST WHERE CUST_NO = :customerId; DELETE FROM CUSTMAST', /more than one statement/],
    ['a data-modifying CTE', 'WITH d AS (DELETE FROM CUSTMAST RETURNING *) SELECT * FROM d WHERE CUST_NO = :customerId', /uses DELETE/],
    ['SELECT INTO', 'SELECT * INTO COPY1 FROM CUSTMAST WHERE CUST_NO = :customerId', /uses INTO/],
    ['a locking read', 'SELECT * FROM CUSTMAST WHERE CUST_NO = :customerId FOR UPDATE', /uses UPDATE/],
    ['a write hidden after a comment', "SELECT * FROM CUSTMAST WHERE CUST_NO = :customerId /* x */ ; EXEC xp_cmdshell 'dir'", /more than one statement/],
    ['a MySQL executable comment', 'SELECT * FROM CUSTMAST WHERE CUST_NO = :customerId /*!50000 UNION SELECT 1 */', /executable comment/],
    ['a positional placeholder', 'SELECT * FROM CUSTMAST WHERE CUST_NO = ?', /positional placeholder/],
    ['a backslash in a literal', "SELECT * FROM CUSTMAST WHERE CUST_NM = 'a\\' AND CUST_NO = :customerId", /backslash/],
  ])('refuses %s', async (_what, sql, message) => {
    const errors = await startupErrors(project({ getSql: sql }));
    expect(errors).toHaveLength(1);
    expect(errors[0].key).toBe('operations.getCustomer.sql');
    expect(errors[0].message).toMatch(message);
    expect(errors[0].message).toContain('adapters/legacy/sql/get.sql is refused');
  });

  it('accepts read-only words inside literals, quoted identifiers and comments', async () => {
    const sql = `-- DELETE nothing; UPDATE nothing
SELECT C.*, 'DROP TABLE; INSERT' AS "UPDATE" FROM CUSTMAST C /* EXEC */ WHERE C.CUST_NO = :customerId AND C.CUST_NM <> 'it''s; DELETE';`;
    expect(await startupErrors(project({ getSql: sql }))).toEqual([]);
  });

  it('names the parameter that the SQL uses and the binding does not declare, and the one declared but unused', async () => {
    const undeclared = await startupErrors(project({ getSql: 'SELECT * FROM CUSTMAST WHERE CUST_NO = :customerId AND STAT_CD = :status' }));
    expect(undeclared[0]).toMatchObject({ key: 'operations.getCustomer.params.status' });
    expect(undeclared[0].message).toContain('uses :status, which is not declared');
    const unused = await startupErrors(project({ getBinding: '    sql: sql/get.sql\n    params: { customerId: path.customerId, extra: path.customerId }\n    map: map.yaml' }));
    expect(unused[0]).toMatchObject({ key: 'operations.getCustomer.params.extra' });
  });

  it('refuses a parameter bound from a request value the operation does not have', async () => {
    const errors = await startupErrors(project({ getBinding: '    sql: sql/get.sql\n    params: { customerId: query.customerId }\n    map: map.yaml' }));
    expect(errors[0].key).toBe('operations.getCustomer.params.customerId');
    expect(errors[0].message).toContain('getCustomer has no query parameter "customerId"');
  });

  it('refuses mappings that cannot work, naming the key in the mapping', async () => {
    const cases: [string, string, RegExp][] = [
      ['id: { column: CUST_NO, as: integr }', 'map.id.as', /use one of: .*integer/],
      ['creditLimit: { column: CR_LMT, as: decimal }', 'map.creditLimit.scale', /needs scale/],
      ['status: { column: STAT_CD, as: enum }', 'map.status.values', /needs values/],
      ['updatedAt: { columns: [LAST_UPD_DT], as: timestamp }', 'map.updatedAt.columns', /exactly two columns/],
      ['address: { lines: { column: ADDR_LINE1, as: lines } }', 'map.address.lines.columns', /needs columns/],
    ];
    for (const [map, key, message] of cases) {
      const errors = await startupErrors(project({ getBinding: `    sql: sql/get.sql\n    params: { customerId: path.customerId }\n    map: { ${map.replace(/^(\w+): /, '$1: ')} }` }));
      expect(errors, map).toHaveLength(1);
      expect(errors[0].key).toBe(`operations.getCustomer.${key}`);
      expect(errors[0].message).toMatch(message);
    }
  });

  it('names missing SQL and mapping files', async () => {
    const errors = await startupErrors(project({ getBinding: '    sql: sql/nope.sql\n    params: { customerId: path.customerId }\n    map: nope.yaml' }));
    expect(errors[0].key).toBe('operations.getCustomer.sql');
    expect(errors[0].message).toContain('adapters/legacy/sql/nope.sql does not exist');
  });

  it('refuses connection settings an engine cannot use', async () => {
    const noUrl = await startupErrors(project({ connection: '  driver: postgres' }));
    expect(noUrl[0].key).toBe('connection.url');
    expect(noUrl[0].message).toContain('needs url');
    const badDriver = await startupErrors(project({ connection: '  driver: oracle\n  url: x' }));
    expect(badDriver[0].key).toBe('connection.driver');
    expect(badDriver[0].message).toContain('"sqlite"');
    const shortKey = await startupErrors(project({ connection: '  driver: sqlite\n  file: x.sqlite\n  cursorKey: short' }));
    expect(shortKey[0].key).toBe('connection.cursorKey');
  });

  it('runs a custom TypeScript mapper after the declarative mapping, and names one that exports nothing', async () => {
    const db = await createLegacyDatabase('sqlite', legacyCustomerRows(5));
    try {
      const mapper = 'export default function (mapped: { name: string }, row: Record<string, unknown>) {\n  return { ...mapped, name: `${mapped.name.toUpperCase()} (${String(row.CUST_NO)})` };\n}\n';
      const binding = '    sql: sql/get.sql\n    params: { customerId: path.customerId }\n    map: map.yaml\n    mapper: shout.ts';
      const root = project({ getBinding: binding, connection: `  driver: sqlite\n  file: ${db.target}`, files: { 'shout.ts': mapper } });
      const gw = await startGateway(root, {});
      try {
        const res = await fetch(`${gw.url}/customers/1001`);
        expect(res.status).toBe(200);
        expect(((await res.json()) as { name: string }).name).toBe('FALCON PRESS GMBH (1001)');
      } finally {
        await gw.close();
      }
      const broken = await startupErrors(project({ getBinding: binding, files: { 'shout.ts': 'export const x = 1;\n' } }));
      expect(broken[0].key).toBe('operations.getCustomer.mapper');
      expect(broken[0].message).toContain('has no default export function');
    } finally {
      await db.drop();
    }
  });
});
