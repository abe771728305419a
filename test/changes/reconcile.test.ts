/**
 * `ficus reconcile` over the sample's 3,000 customers: legacy (a CRM database) against the modern
 * customers service. Parity 100% when both hold the same; with drift injected (a flipped vip flag on
 * every 100th customer, 4 customers only legacy has, 2 only modern has) it reports exactly those,
 * with the differences, in HTML and JUnit, and exits 1.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReconcile } from '../../src/reconcile/run-reconcile.ts';
import { legacyCustomerRows } from '../../sample/legacy-crm/legacy-rows.ts';
import { startModernCustomers, type RunningService } from '../../sample/modern-customers/server.ts';
import { CHANGES_FIXTURE, HOOK_SECRET, legacyCrm, stateDir } from './changes-helpers.ts';
import { memoryLogger } from '../helpers/gateway.ts';

describe('ficus reconcile getCustomer --keys-from listCustomers --against modern', () => {
  let crm: Awaited<ReturnType<typeof legacyCrm>>;
  let state: ReturnType<typeof stateDir>;
  let same: RunningService;
  let drifted: RunningService;
  let out: string;

  beforeAll(async () => {
    // The sample's 3,000 customers are 1001..4000. Legacy: 1001..4004 but not 1500 and 2500 (only modern has them).
    crm = await legacyCrm(
      'sqlite',
      legacyCustomerRows(3004).filter((r) => r.CUST_NO !== 1500 && r.CUST_NO !== 2500),
    );
    state = stateDir();
    same = await startModernCustomers({ port: 0 });
    drifted = await startModernCustomers({ port: 0, driftEvery: 100 });
    out = mkdtempSync(join(tmpdir(), 'ficus-reconcile-'));
  });
  afterAll(async () => {
    await same?.close();
    await drifted?.close();
    await crm?.drop();
    state?.remove();
    rmSync(out, { recursive: true, force: true });
  });

  const run = (modernUrl: string, extra: { html?: string; junit?: string } = {}) =>
    runReconcile({
      operation: 'getCustomer',
      keysFrom: 'listCustomers',
      against: 'modern',
      root: CHANGES_FIXTURE,
      env: { ...crm.env, FICUS_STATE_FILE: state.file, HOOK_SECRET, CUSTOMERS_SERVICE_URL: modernUrl },
      concurrency: 16,
      ratePerSecond: 5_000,
      logger: memoryLogger('warn').logger,
      ...extra,
    });

  it('reports exactly the injected drift: the flipped flags, the keys only one side has; HTML and JUnit; exit 1', async () => {
    const html = join(out, 'parity.html');
    const junit = join(out, 'parity.xml');
    const r = await run(drifted.url, { html, junit });
    const c = r.report.counts;
    expect(c.keys).toBe(3004);
    expect(c['missing-modern']).toBe(4); // 4001..4004
    expect(c['missing-legacy']).toBe(2); // 1500, 2500
    // every 100th of 1001..4000 is flipped in modern, but 1500 and 2500 are missing in legacy: 30 - 2 = 28
    expect(c.different).toBe(28);
    expect(c.equal).toBe(3004 - 4 - 2 - 28);
    expect(c.error).toBe(0);
    const different = r.report.results.filter((x) => x.outcome === 'different');
    expect(different.map((x) => Number(x.key)).every((k) => k % 100 === 0)).toBe(true);
    expect(different[0].differences).toEqual([expect.objectContaining({ path: '$.vip', kind: 'changed' })]);
    expect(r.report.results.filter((x) => x.outcome === 'missing-modern').map((x) => x.key)).toEqual(['4001', '4002', '4003', '4004']);
    expect(r.exitCode).toBe(1);
    expect(readFileSync(html, 'utf8')).toContain('$.vip');
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('failures="34"');
    expect(xml).toContain('name="4001"');
  });

  it('exits 0 with parity 100% when modern holds what legacy holds', async () => {
    const exact = await runReconcile({
      operation: 'getCustomer',
      keys: ['1001', '1002', '1100', '2999'],
      against: 'modern',
      root: CHANGES_FIXTURE,
      env: { ...crm.env, FICUS_STATE_FILE: state.file, HOOK_SECRET, CUSTOMERS_SERVICE_URL: same.url },
      logger: memoryLogger('warn').logger,
    });
    expect(exact.report.counts).toMatchObject({ keys: 4, equal: 4, different: 0 });
    expect(exact.exitCode).toBe(0);
    expect(exact.summary).toContain('parity 100%');
  });
});
