/**
 * The migration dashboard in real headless Chromium against a running gateway: it asks for a token,
 * shows every route with its mode, split, per-backend figures, shadow match rate and latest diffs,
 * switches a mode with a reason, and follows changes made elsewhere without a reload.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../fixtures/migration-gateway/backends.ts';
import { ALICE, admin, startMigrationGateway, type MigrationGateway } from '../fixtures/migration-gateway/harness.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('migration dashboard', () => {
  let legacy: Backend;
  let modern: Backend;
  let g: MigrationGateway;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    legacy = await startBackend();
    modern = await startBackend({ driftEvery: 4 });
    g = await startMigrationGateway({ env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url }, routes: { getCustomer: { mode: 'shadow' }, listCustomers: { mode: 'modern' } } });
    for (let id = 1001; id <= 1008; id++) await fetch(`${g.url}/customers/${id}`);
    await fetch(`${g.url}/customers?limit=3`);
    await g.gateway.control.shadow.drain();
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });
  afterAll(async () => {
    await browser?.close();
    await g?.close();
    await legacy?.close();
    await modern?.close();
  });

  const row = (op: string) => page.locator(`tr[data-route="${op}"]`);

  it('asks for a token and refuses a wrong one', async () => {
    await page.goto(`${g.adminUrl}/`);
    await page.locator('#token').fill('not-the-token');
    await page.locator('#login-form button').click();
    await expect.poll(() => page.locator('#login-error').textContent(), { timeout: 15_000 }).toMatch(/not one of FICUS_ADMIN_TOKENS/);
    expect(await page.locator('#app').isHidden()).toBe(true);
  });

  it('shows every route, its mode, traffic split, per-backend figures, match rate and progress', async () => {
    await page.locator('#token').fill(ALICE);
    await page.locator('#login-form button').click();
    await row('getCustomer').waitFor();
    expect(await page.locator('tr.route').count()).toBe(5);
    expect(await row('getCustomer').getByTestId('mode').textContent()).toBe('shadow');
    expect(await row('getCustomer').getByTestId('match-rate').textContent()).toBe('75%');
    expect(await row('listCustomers').getByTestId('mode').textContent()).toBe('modern');
    expect(await row('listCustomers').getByTestId('modern-share').textContent()).toBe('modern 100%');
    // 8 calls for callers, and a second legacy call for each noise check (at most one a second).
    const legacyCell = (await row('getCustomer').locator('td').nth(3).textContent()) as string;
    expect(legacyCell).toMatch(/^legacy-crm(9|10) calls · errors 0% · p50 [\d.]+ ms · p95 [\d.]+ ms$/);
    expect(await row('getCustomer').locator('td').nth(4).textContent()).toMatch(/^modern-customers8 calls · errors 0% · p50 [\d.]+ ms/);
    expect(await page.getByTestId('by-mode-shadow').textContent()).toBe('1');
    expect(await page.getByTestId('progress').textContent()).toBe('20%');
  });

  it("shows the split over its window, routes without a modern backend as such, the queues and each backend's last hour", async () => {
    expect(await row('listCustomers').getByTestId('split-window').textContent()).toMatch(/^1 call in the last \d+ (s|min) \(since it became modern\) · since start 100%$/);
    expect(await row('getLegacyOnly').getByTestId('modern-share').textContent()).toBe('legacy only · no modern backend');
    expect(await row('getLegacyOnly').getByTestId('no-modern').textContent()).toBe('no modern backend');
    expect(await row('getLegacyOnly').textContent()).not.toMatch(/compared/);
    const legacyRow = page.locator('tr[data-backend="legacy-crm"]');
    expect(await legacyRow.getByTestId('health').textContent()).toBe('up');
    expect(await legacyRow.getByTestId('circuits').textContent()).toBe('no circuit breaker');
    expect(await legacyRow.getByTestId('last-hour').textContent()).toMatch(/^(9|10) calls · errors 0% · p50 [\d.]+ ms · p95 [\d.]+ ms$/);
    expect(await legacyRow.locator('svg.spark rect').count()).toBeGreaterThan(0);
    expect(await legacyRow.getByTestId('last-success').textContent()).toMatch(/^last answer \d+ (s|min) ago$/);
    expect(await page.locator('tr[data-backend="modern-customers"]').getByTestId('circuits').textContent()).toBe('circuits closed');
    expect(await page.getByTestId('queue-outbox').textContent()).toBe('0');
    expect(await page.getByTestId('queue-dlq').textContent()).toBe('0');
    expect(await page.getByTestId('queue-recorder').textContent()).toMatch(/^0 \/ \d+$/);
  });

  it("shows a route's latest mismatches with their diffs", async () => {
    await row('getCustomer').click();
    await page.getByTestId('mismatch').first().waitFor();
    expect(await page.getByTestId('mismatch').count()).toBe(2);
    const first = await page.getByTestId('mismatch').first().textContent();
    expect(first).toMatch(/GET \/customers\/1008/);
    expect(first).toMatch(/\$\.vip(true|false)(true|false)changed/);
  });

  it('switches a mode with a reason and shows the change at once', async () => {
    await page.locator('#switch-mode').selectOption('canary');
    await page.locator('#switch-percent').fill('25');
    await page.locator('#switch-button').click();
    // No reason: the browser's own check stops it; nothing changes.
    expect(g.gateway.routes.get('getCustomer')?.state.mode).toBe('shadow');
    await page.locator('#switch-reason').fill('shadow looks good apart from vip');
    await page.locator('#switch-button').click();
    await expect.poll(() => page.locator('#message').textContent(), { timeout: 15_000 }).toBe('Switched getCustomer: shadow → canary 25%');
    await expect.poll(() => row('getCustomer').getByTestId('mode').textContent(), { timeout: 15_000 }).toBe('canary 25%');
    expect(g.gateway.routes.get('getCustomer')?.state).toEqual({ mode: 'canary', percent: 25 });
    expect(await page.locator('#audit tr').first().textContent()).toMatch(/alicegetCustomermode: shadow → canary 25%shadow looks good apart from vip/);
  });

  it('shows a refused switch as an error and changes nothing', async () => {
    await row('getLegacyOnly').click();
    await page.locator('#switch-mode').selectOption('modern');
    await page.locator('#switch-reason').fill('try it');
    await page.locator('#switch-button').click();
    await expect.poll(() => page.locator('#message').textContent(), { timeout: 15_000 }).toMatch(/^Not switched: .*has no modern binding/);
    expect(await row('getLegacyOnly').getByTestId('mode').textContent()).toBe('legacy');
  });

  it('updates live when the route is switched elsewhere', async () => {
    expect((await admin(g.adminUrl, 'PUT', '/routes/getCustomer/mode', { mode: 'modern', reason: 'switched from the CLI' }, 'bot-secret-token')).status).toBe(200);
    await expect.poll(() => row('getCustomer').getByTestId('mode').textContent(), { timeout: 15_000 }).toBe('modern');
    await expect.poll(() => page.locator('#audit tr').first().textContent(), { timeout: 15_000 }).toMatch(/deploy-bot/);
    await row('getCustomer').click();
    await page.screenshot({ path: `${PROJECT_ROOT}var/dashboard.png`, fullPage: true });
  });
});
