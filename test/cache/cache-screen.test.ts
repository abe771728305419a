/**
 * The cache and coalescing in front of the real legacy billing web app, driven in real headless
 * Chromium (the screen kind): 200 callers asking for one account at once run the legacy flow once;
 * an address change drops that account's cached answer; with the legacy app stopped, cached accounts
 * are answered stale (staleIfError 1h) and the others fail without hanging.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { ResponseCache } from '../../src/cache/response-cache.ts';
import { screenEstate, type ScreenEstate } from '../fixtures/screen-project.ts';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';

const TOKEN = 'cache-dashboard-token';
let estate: ScreenEstate;
let gw: Awaited<ReturnType<typeof startGateway>>;

const accountHits = () => estate.legacy.stats.hits.get('GET /account') ?? 0;
const get = async (path: string) => {
  const r = await fetch(gw.url + path);
  return { status: r.status, cache: r.headers.get('ficus-cache'), warning: r.headers.get('warning'), body: (await r.json()) as Record<string, unknown>, at: performance.now() };
};

beforeAll(async () => {
  estate = await screenEstate({}, { BILLING_UI_PAGES: '3' });
  copyFileSync(join(FIXTURES, 'screen-gateway/ficus-cache.yaml'), join(estate.dir, 'ficus-cache.yaml'));
  gw = await startGateway(estate.dir, { ...estate.env, FICUS_ADMIN_TOKENS: `ops:${TOKEN}` }, { file: 'ficus-cache.yaml', adminServer: true });
});

afterAll(async () => {
  await gw?.close();
  await estate?.stop();
});

describe('the screen kind behind the cache', () => {
  it('200 callers asking for the same account at once: the legacy flow runs once and all get the same answer', async () => {
    // One flow alone, for what it costs the legacy app (and how long it takes).
    const h0 = accountHits();
    const t0 = performance.now();
    expect((await get('/accounts/A000003')).status).toBe(200);
    const oneFlowMs = performance.now() - t0;
    const perFlow = accountHits() - h0;
    expect(perFlow).toBeGreaterThan(0);

    const h1 = accountHits();
    const start = performance.now();
    const answers = await Promise.all(Array.from({ length: 200 }, () => get('/accounts/A000001')));
    const allMs = Math.max(...answers.map((a) => a.at)) - start;
    expect(accountHits() - h1).toBe(perFlow);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body).toEqual(answers[0].body);
    }
    expect(answers.filter((a) => a.cache === 'miss')).toHaveLength(1);
    expect(answers.filter((a) => a.cache === 'coalesced').length + answers.filter((a) => a.cache === 'hit').length).toBe(199);
    // The figure (one flow + 50 ms) is measured by test/bench/cache-screen.bench.ts; here a generous bound.
    expect(allMs).toBeLessThan(oneFlowMs * 4 + 5_000);
  });

  it("an address change drops that account's cached answer (and only that account's)", async () => {
    await get('/accounts/A000002');
    await get('/accounts/A000006');
    expect((await get('/accounts/A000002')).cache).toBe('hit');
    const r = await fetch(`${gw.url}/accounts/A000002/billing-address`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ line1: '12 Quay Street', city: 'Bergen', postalCode: '5003' }),
    });
    expect(r.status).toBe(200);
    const after = await get('/accounts/A000002');
    expect(after.cache).toBe('miss');
    expect((after.body.billingAddress as { line1: string }).line1).toBe('12 Quay Street');
    expect((await get('/accounts/A000006')).cache).toBe('hit');
  });

  it('with the legacy app stopped, every cached account is answered stale and the others fail without hanging', async () => {
    const cached = ['A000001', 'A000002', 'A000003', 'A000006'];
    for (const id of cached) expect((await get(`/accounts/${id}`)).status).toBe(200);
    const cache = gw.gateway.feature<ResponseCache>('cache');
    // Every entry past its ttl and staleWhileRevalidate, inside staleIfError (1h).
    cache.configure('getAccount', { ...cache.routeConfig('getAccount')!, ttl: 1, staleWhileRevalidate: 0 });
    await estate.legacy.close();

    const t0 = performance.now();
    const stale = await Promise.all(cached.map((id) => get(`/accounts/${id}`)));
    for (const [i, a] of stale.entries()) {
      expect(a.status).toBe(200);
      expect(a.body.accountId).toBe(cached[i]);
      expect(a.cache).toBe('stale');
      expect(a.warning).toBe('111 - "Revalidation Failed"');
    }
    const others = await Promise.all(['A000010', 'A000011', 'A000012'].map((id) => get(`/accounts/${id}`)));
    for (const o of others) expect(o.status).toBeGreaterThanOrEqual(500);
    // Bounded by the policy (timeouts, breaker), not hanging: generous on a loaded machine.
    expect(performance.now() - t0).toBeLessThan(60_000);
    const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { features?: { cache?: { servingStale: string[] } } };
    expect(ready.features?.cache?.servingStale).toContain('getAccount');
  });

  it('the dashboard shows the cache per route and that getAccount is serving stale', async () => {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
    try {
      const page = await browser.newPage();
      await page.goto(`${gw.adminUrl}/#token=${TOKEN}`);
      const row = page.locator('tr[data-cache-route="getAccount"]');
      await row.waitFor({ timeout: 30_000 });
      await expect.poll(() => row.getByTestId('cache-state').textContent(), { timeout: 30_000 }).toBe('serving stale (backend failing)');
      expect(Number(await row.getByTestId('cache-hits').textContent())).toBeGreaterThan(0);
      expect(Number(await row.getByTestId('cache-coalesced').textContent())).toBeGreaterThan(0);
      expect(Number(await row.getByTestId('cache-stale').textContent())).toBeGreaterThanOrEqual(4);
      expect(await page.locator('#cache-redis').textContent()).toBe('· memory only');
    } finally {
      await browser.close();
    }
  });
});
