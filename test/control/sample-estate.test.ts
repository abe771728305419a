/**
 * Shadow and canary against the sample estate's real backends: the legacy CRM database (crm-db, db
 * kind) and the modern customers service, deliberately different (every 7th customer's `vip`
 * flipped): mismatches counted, diffs shown, the canary sticky by customer.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { legacyCrmComponent } from '../../sample/legacy-crm/component.ts';
import { startModernCustomers, type RunningService } from '../../sample/modern-customers/server.ts';
import type { Gateway } from '../../src/gateway.ts';
import { canaryBackend } from '../../src/routing/modes/canary.ts';
import { ADMIN_TOKENS, admin } from '../fixtures/migration-gateway/harness.ts';
import { PROJECT_ROOT, startGateway } from '../helpers/gateway.ts';

describe("migrating the sample estate's customers", () => {
  let dir: string;
  let modern: RunningService;
  let gateway: Gateway;
  let url: string;
  let adminUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ficus-sample-migration-'));
    const crm = await legacyCrmComponent.start({ root: dir });
    modern = await startModernCustomers({ driftEvery: 7 });
    // The project's contract with only its customer operations, so that only these two adapters are needed.
    const contract = parse(readFileSync(join(PROJECT_ROOT, 'openapi.yaml'), 'utf8')) as { paths: Record<string, unknown> };
    contract.paths = { '/customers': contract.paths['/customers'], '/customers/{customerId}': contract.paths['/customers/{customerId}'] };
    writeFileSync(join(dir, 'openapi.yaml'), stringify(contract));
    const file = join(dir, 'ficus.yaml');
    writeFileSync(
      file,
      stringify({
        contract: join(dir, 'openapi.yaml'),
        adaptersDir: join(PROJECT_ROOT, 'adapters'),
        server: { port: 0, host: '127.0.0.1' },
        log: { level: 'silent' },
        state: { driver: 'sqlite', file: join(dir, 'state.sqlite') },
        admin: { port: 0 },
        routes: {
          getCustomer: { mode: 'shadow' },
          listCustomers: { mode: 'canary', percent: 50, canary: { key: 'query.updatedSince' } },
        },
      }),
    );
    ({ gateway, url, adminUrl } = await startGateway(
      PROJECT_ROOT,
      { ...process.env, ...crm.env, CUSTOMERS_SERVICE_URL: modern.url, FICUS_ADMIN_TOKENS: ADMIN_TOKENS },
      { file, onlyAdapters: ['crm-db', 'customers-service'], level: 'silent', adminServer: true },
    ));
  });
  afterAll(async () => {
    await gateway?.close(1_000);
    await modern?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serves the CRM database's answers in shadow mode and counts modern's deliberate differences", async () => {
    const ids = Array.from({ length: 28 }, (_, i) => 1001 + i);
    for (const id of ids) {
      const res = await fetch(`${url}/customers/${id}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('ficus-backend')).toBe('legacy');
    }
    await gateway.control.shadow.drain();
    const drifted = ids.filter((id) => id % 7 === 0);
    const view = (await admin(adminUrl, 'GET', '/routes/getCustomer')).body;
    expect(view.legacy).toMatchObject({ adapter: 'crm-db', kind: 'db' });
    expect(view.modern).toMatchObject({ adapter: 'customers-service', kind: 'http' });
    expect(view.shadow).toMatchObject({ compared: 28, mismatched: drifted.length, matched: 28 - drifted.length });
    const mm = (await admin(adminUrl, 'GET', '/routes/getCustomer/mismatches?limit=50')).body.mismatches;
    expect(mm.map((m: { request: string }) => m.request).sort()).toEqual(drifted.map((id) => `GET /customers/${id}`).sort());
    for (const m of mm) expect(m.differences).toEqual([{ path: '$.vip', legacy: m.legacyBody.vip, modern: !m.legacyBody.vip, kind: 'changed' }]);
  });

  it('splits listCustomers by its sticky key between the CRM database and the modern service', async () => {
    const keys = ['2020-01-01T00:00:00Z', '2021-06-01T00:00:00Z', '2022-03-15T00:00:00Z', '2023-01-01T00:00:00Z', '2019-01-01T00:00:00Z', '2018-05-05T00:00:00Z'];
    expect(new Set(keys.map((k) => canaryBackend('listCustomers', k, 50)))).toEqual(new Set(['legacy', 'modern']));
    for (const k of keys) {
      const expected = canaryBackend('listCustomers', k, 50);
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${url}/customers?limit=5&updatedSince=${encodeURIComponent(k)}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('ficus-backend')).toBe(expected);
      }
    }
  });
});
