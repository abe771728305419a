/**
 * `ficus scaffold db` end to end on real databases, as a new team would use it: `ficus init`, the
 * sample's legacy CRM (CUSTMAST, CODETBL) in a database of its own, the scaffold with no hand edits,
 * then `ficus check` passes and a gateway on the project serves the get and the list (a second page
 * through the cursor), equal to the sample's customers. The only option beyond the table is
 * `--scale CR_LMT=2` (credit limits are held in cents, which no data can show).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { seed, type LegacyEngine } from '../../sample/legacy-crm/seed.ts';
import { sampleCustomers } from '../../sample/data/customers.ts';
import { createTempDatabase, type TempDatabase } from '../helpers/databases.ts';
import { startGateway, type StartedGateway } from '../helpers/gateway.ts';
import { ficus, initProjectDir } from './scaffold-support.ts';

const CUSTOMERS = new Map(sampleCustomers().map((c) => [c.id, c]));

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

describe.each(['sqlite', 'postgres', 'mysql'] as const)('ficus scaffold db on %s, from ficus init to a served get and list', (engine: LegacyEngine) => {
  let project: Awaited<ReturnType<typeof initProjectDir>>;
  let db: TempDatabase | undefined;
  let gw: StartedGateway | undefined;
  let scaffold: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    project = await initProjectDir();
    let connection: string[];
    if (engine === 'sqlite') {
      const file = join(project.root, '..', 'crm.sqlite');
      await seed('sqlite', file);
      connection = ['--driver', 'sqlite', '--file', file];
    } else {
      db = await createTempDatabase(engine, 'h21db');
      await seed(engine, db.url);
      connection = ['--driver', engine, '--url', db.url];
    }
    scaffold = await ficus(['scaffold', 'db', '--project', project.root, '--adapter', 'crm-db', '--table', 'CUSTMAST', '--scale', 'CR_LMT=2', ...connection]);
    if (scaffold.code === 0) gw = await startGateway(project.root, {});
  }, 120_000);
  afterAll(async () => {
    await gw?.close();
    await db?.drop();
    project?.remove();
  });

  it('writes the schema, the operations, the SQL, the mapping and the bindings, saying what it guessed', () => {
    expect(scaffold.stderr).toBe('');
    expect(scaffold.code).toBe(0);
    expect(scaffold.stdout).toMatch(/CUSTMAST → Customer \(getCustomer GET \/customers\/\{customerId\}, listCustomers GET \/customers\)/);
    const contract = readFileSync(join(project.root, 'openapi.yaml'), 'utf8');
    expect(contract).toMatch(/# (STAT_CD|stat_cd): a code \(3 distinct values in the table, all in the code table (CODETBL|codetbl) (CD_TYP|cd_typ) = 'CUSTSTAT'\)/);
    expect(contract).toMatch(/# (CRT_DT|crt_dt) [A-Z]+: a date by its name, and every sampled value is a CYYMMDD date/);
    const mapping = readFileSync(join(project.root, 'adapters/crm-db/mapping/customer.yaml'), 'utf8');
    expect(mapping).toMatch(/updatedAt: \{ columns: \[(LAST_UPD_DT|last_upd_dt), (LAST_UPD_TM|last_upd_tm)\], as: timestamp \}/);
    const list = readFileSync(join(project.root, 'adapters/crm-db/sql/list-customers.sql'), 'utf8');
    expect(list).toContain('No ORDER BY and no LIMIT');
    const adapter = readFileSync(join(project.root, 'adapters/crm-db/adapter.yaml'), 'utf8');
    expect(adapter).toMatch(/orderBy: \[(CUST_NO|cust_no)\]/);
  });

  it('ficus check passes on the scaffolded project', async () => {
    const check = await ficus(['check', '--root', project.root]);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
  });

  it("serves getCustomer exactly as the sample's customers are", async () => {
    for (const id of [1001, 1002, 1777, 2500, 4000]) {
      const r = await getJson(`${gw!.url}/customers/${id}`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual(CUSTOMERS.get(id));
    }
    const missing = await getJson(`${gw!.url}/customers/99999`);
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toBe('no customer 99999');
  });

  it('serves listCustomers in key order, and the cursor gives the next page', async () => {
    const first = await getJson(`${gw!.url}/customers?limit=5`);
    expect(first.status).toBe(200);
    expect(first.body.items.map((c: { id: number }) => c.id)).toEqual([1001, 1002, 1003, 1004, 1005]);
    expect(first.body.items[2]).toEqual(CUSTOMERS.get(1003));
    expect(typeof first.body.nextCursor).toBe('string');
    const second = await getJson(`${gw!.url}/customers?limit=5&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect(second.status).toBe(200);
    expect(second.body.items).toEqual([1006, 1007, 1008, 1009, 1010].map((id) => CUSTOMERS.get(id)));
    const last = await getJson(`${gw!.url}/customers?limit=100&cursor=${encodeURIComponent(second.body.nextCursor)}`);
    expect(last.body.items[0].id).toBe(1011);
    expect((await getJson(`${gw!.url}/customers?limit=101`)).status).toBe(400);
  });
});

describe('ficus scaffold db into an adapter that exists, a table with a key of two CHAR columns', () => {
  it("uses the adapter's own connection and serves the get (padded keys) and the list", async () => {
    const project = await initProjectDir();
    let gw: StartedGateway | undefined;
    try {
      const file = join(project.root, '..', 'crm.sqlite');
      await seed('sqlite', file);
      expect((await ficus(['scaffold', 'db', '--project', project.root, '--adapter', 'crm-db', '--driver', 'sqlite', '--file', file, '--table', 'CUSTMAST'])).code).toBe(0);
      const adapterBefore = readFileSync(join(project.root, 'adapters/crm-db/adapter.yaml'), 'utf8');
      const r = await ficus(['scaffold', 'db', '--project', project.root, '--adapter', 'crm-db', '--table', 'CODETBL']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('CODETBL → Code (getCode GET /codes/{type}/{val}, listCodes GET /codes)');
      const adapterAfter = readFileSync(join(project.root, 'adapters/crm-db/adapter.yaml'), 'utf8');
      expect(adapterAfter.startsWith(adapterBefore)).toBe(true);
      expect(adapterAfter).toContain('val: { from: path.val, as: char, width: 2 }');
      expect((await ficus(['check', '--root', project.root])).code).toBe(0);
      gw = await startGateway(project.root, {});
      expect(await getJson(`${gw.url}/codes/CUSTSTAT/A`)).toEqual({ status: 200, body: { type: 'CUSTSTAT', val: 'A', description: 'ACTIVE' } });
      const page = await getJson(`${gw.url}/codes?limit=2`);
      expect(page.body.items.map((c: { val: string }) => c.val)).toEqual(['A', 'C']);
      const next = await getJson(`${gw.url}/codes?limit=10&cursor=${encodeURIComponent(page.body.nextCursor)}`);
      expect(next.body.items.map((c: { type: string; val: string }) => `${c.type}/${c.val}`)).toEqual(['CUSTSTAT/S', 'PAYTERM/30', 'PAYTERM/60']);
      expect((await getJson(`${gw.url}/customers/1001`)).status).toBe(200);
    } finally {
      await gw?.close();
      project.remove();
    }
  }, 60_000);
});
