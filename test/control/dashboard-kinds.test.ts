/**
 * The dashboard's figures that come from the kinds themselves (GET /dashboard): the age of the export
 * an sftp read binding serves (the sample mainframe's product export, from the export time the file
 * carries), and a screen adapter's browser pool (pages in use, idle, callers waiting) driving the
 * sample legacy billing app in real headless Chromium.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DashboardView } from '../../src/control/dashboard-view.ts';
import { encodeProductExport, exportFileName } from '../../sample/mainframe/product-export.ts';
import { registerCodePages } from '../../src/records/code-pages.ts';
import { ADMIN_TOKENS, admin } from '../fixtures/migration-gateway/harness.ts';
import { screenEstate, type ScreenEstate } from '../fixtures/screen-project.ts';
import { startGateway, type StartedGateway } from '../helpers/gateway.ts';
import { makeProject, startMainframe, type Mainframe } from '../sftp/support.ts';

registerCodePages();

async function dashboard(gw: StartedGateway): Promise<DashboardView> {
  const r = await admin(gw.adminUrl, 'GET', '/dashboard');
  expect(r.status).toBe(200);
  return r.body as DashboardView;
}

describe("an sftp adapter's data freshness", () => {
  let mf: Mainframe;
  let project: ReturnType<typeof makeProject>;
  let gw: StartedGateway;
  const exportedAt = new Date(Date.now() - 30 * 3600_000);

  beforeAll(async () => {
    mf = await startMainframe('in-process');
    mkdirSync(join(mf.root, 'exports'), { recursive: true });
    writeFileSync(join(mf.root, 'exports', exportFileName(exportedAt, 1)), encodeProductExport(mf.catalogue, exportedAt, 1));
    project = makeProject({ auth: 'password' });
    gw = await startGateway(project.root, { ...mf.env, FICUS_ADMIN_TOKENS: ADMIN_TOKENS }, { level: 'silent', adminServer: true });
  });
  afterAll(async () => {
    await gw?.close();
    await mf?.stop();
    project?.dispose();
  });

  it('shows the age of the export each read serves, and when the adapter last answered', async () => {
    expect((await fetch(`${gw.url}/products/HW-1042`)).status).toBe(200);
    const b = (await dashboard(gw)).backends.find((x) => x.adapter === 'mainframe-files')!;
    expect(b).toMatchObject({ kind: 'sftp', role: 'legacy' });
    expect(b.freshness.exports).toHaveLength(1);
    expect(b.freshness.exports[0].operation).toBe('getProduct');
    // About 30 hours old (the file says when it was exported), give or take the test's own minutes.
    expect(Math.abs(b.freshness.exports[0].ageSeconds - 30 * 3600)).toBeLessThan(600);
    expect(b.freshness.lastSuccessAgeSeconds).toBeLessThan(600);
    expect(b.lastHour.calls).toBe(1);
  });
});

describe("a screen adapter's browser pool", () => {
  let estate: ScreenEstate;
  let gw: StartedGateway;

  beforeAll(async () => {
    estate = await screenEstate({}, { BILLING_UI_PAGES: '2' });
    gw = await startGateway(estate.dir, { ...estate.env, FICUS_ADMIN_TOKENS: ADMIN_TOKENS }, { level: 'silent', adminServer: true });
  }, 120_000);
  afterAll(async () => {
    await gw?.close();
    await estate?.stop();
  });

  it('shows its pages in use and idle and the callers waiting', async () => {
    expect((await fetch(`${gw.url}/accounts/A000001`)).status).toBe(200);
    const d = await dashboard(gw);
    const pool = d.queues.screenPools.find((p) => p.adapter === 'billing-ui');
    expect(pool).toBeDefined();
    expect(pool!.inUse).toBe(0);
    expect(pool!.waiting).toBe(0);
    expect(pool!.idle).toBeGreaterThanOrEqual(1);
    expect(pool!.idle).toBeLessThanOrEqual(2);
    const b = d.backends.find((x) => x.adapter === 'billing-ui')!;
    expect(b).toMatchObject({ kind: 'screen', role: 'legacy', up: true });
    expect(b.freshness.exports).toEqual([]);
    expect(b.lastHour.calls).toBe(1);
  });
});
