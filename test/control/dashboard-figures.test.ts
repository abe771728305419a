/**
 * What the dashboard shows first, as the admin API gives it (GET /dashboard) from a running gateway
 * over the migration fixture's real legacy and modern backends: the traffic split over a window (a
 * route switched to modern shows 100% modern, not its share since start), each backend's last hour
 * per minute with errors and latency, health, circuits and when it last answered, routes without a
 * modern backend named as such, and the queues read from the state store (outbox, dead letters) and
 * the recorder. And where /metrics and /readyz's details are served (server.metrics, server.readyzDetails).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { Gateway } from '../../src/gateway.ts';
import type { DashboardView } from '../../src/control/dashboard-view.ts';
import { startBackend, type Backend } from '../fixtures/migration-gateway/backends.ts';
import { ADMIN_TOKENS, MIGRATION_FIXTURE, admin, startMigrationGateway, writeConfig, type MigrationGateway } from '../fixtures/migration-gateway/harness.ts';
import { PROJECT_ROOT, startGateway, type StartedGateway } from '../helpers/gateway.ts';

/** The admin API's own description of GET /dashboard's answer, to check every answer against. */
function dashboardSchemaCheck(): (body: unknown) => string[] {
  const doc = parse(readFileSync(`${PROJECT_ROOT}admin-openapi.yaml`, 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ ...doc, $id: 'admin' });
  const validate = ajv.getSchema('admin#/components/schemas/Dashboard');
  if (!validate) throw new Error('admin-openapi.yaml has no Dashboard schema');
  return (body) => (validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`));
}

describe('the dashboard figures (GET /dashboard)', () => {
  let legacy: Backend;
  let modern: Backend;
  let g: MigrationGateway;
  const check = dashboardSchemaCheck();

  const dashboard = async (query = ''): Promise<DashboardView> => {
    const r = await admin(g.adminUrl, 'GET', `/dashboard${query}`);
    expect(r.status).toBe(200);
    expect(check(r.body)).toEqual([]);
    return r.body as DashboardView;
  };
  const routeOf = (d: DashboardView, op: string) => d.routes.find((r) => r.operationId === op)!;
  const backendOf = (d: DashboardView, adapter: string) => d.backends.find((b) => b.adapter === adapter)!;

  beforeAll(async () => {
    legacy = await startBackend();
    modern = await startBackend();
    g = await startMigrationGateway({ env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url }, routes: { getCustomer: { mode: 'legacy' }, getQuote: { mode: 'modern' } } });
  });
  afterAll(async () => {
    await g?.close();
    await legacy?.close();
    await modern?.close();
  });

  it('needs a token, and checks its query', async () => {
    expect((await admin(g.adminUrl, 'GET', '/dashboard', undefined, null)).status).toBe(401);
    const bad = await admin(g.adminUrl, 'GET', '/dashboard?minutes=61');
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ field: 'query.minutes', message: 'a whole number from 1 to 60' }]);
  });

  it('shows a route switched to modern as 100% modern over the window, not its share since start', async () => {
    for (let id = 1001; id <= 1007; id++) expect((await fetch(`${g.url}/customers/${id}`)).status).toBe(200);
    expect((await admin(g.adminUrl, 'PUT', '/routes/getCustomer/mode', { mode: 'modern', reason: 'modern is ready' })).status).toBe(200);
    for (let id = 1001; id <= 1004; id++) expect((await fetch(`${g.url}/customers/${id}`)).headers.get('ficus-backend')).toBe('modern');

    const r = routeOf(await dashboard(), 'getCustomer');
    expect(r.state).toBe('modern');
    expect(r.split).toMatchObject({ sinceChange: true, legacy: 0, modern: 4, modernShare: 100 });
    expect(r.split.windowMs).toBeLessThanOrEqual(5 * 60_000);
    // Since start, the old way: 4 of 11.
    expect(r.sinceStart).toEqual({ legacy: 7, modern: 4, modernShare: 36.36 });
    expect((await admin(g.adminUrl, 'GET', '/routes/getCustomer')).body.modernShare).toBe(36.36);
  });

  it('counts the split of a route that stayed in its state since it was applied', async () => {
    for (let i = 0; i < 3; i++) expect((await fetch(`${g.url}/legacy-only`)).status).toBe(200);
    const d = await dashboard('?splitMinutes=10');
    expect(d.window.splitMs).toBe(600_000);
    const r = routeOf(d, 'getLegacyOnly');
    // Legacy since this instance started, within the window: the split runs from then.
    expect(r.split).toMatchObject({ sinceChange: true, legacy: 3, modern: 0, modernShare: 0 });
  });

  it('names routes without a modern backend as such', async () => {
    const d = await dashboard();
    expect(routeOf(d, 'getLegacyOnly')).toMatchObject({ legacy: 'legacy-crm', modern: null });
    expect(routeOf(d, 'getCustomer')).toMatchObject({ legacy: 'legacy-crm', modern: 'modern-customers' });
  });

  it("gives each backend's last hour per minute: requests, errors, latency, and when it last answered", async () => {
    const d = await dashboard();
    expect(d.scope).toMatchObject({ traffic: 'instance', outbox: 'state store' });
    expect(d.scope.instance).toMatch(/:\d+$/);
    expect(d.window).toMatchObject({ minutes: 60, bucketSeconds: 60 });
    const l = backendOf(d, 'legacy-crm');
    expect(l).toMatchObject({ kind: 'http', role: 'legacy', up: true });
    expect(l.series).toHaveLength(60);
    // Minutes are consecutive, the current one last.
    expect(Date.parse(l.series[59].t) - Date.parse(l.series[58].t)).toBe(60_000);
    expect(Date.parse(l.series[59].t)).toBeLessThanOrEqual(Date.now());
    // 7 customers and 3 legacy-only calls, whichever minutes they fell in.
    expect(l.series.reduce((n, p) => n + p.calls, 0)).toBe(10);
    expect(l.lastHour).toMatchObject({ calls: 10, errors: 0, errorRate: 0 });
    expect(l.lastHour.p50Ms).toBeGreaterThan(0);
    expect(l.lastHour.p95Ms).toBeGreaterThanOrEqual(l.lastHour.p50Ms!);
    expect(l.last5m.calls).toBe(10);
    expect(l.freshness.lastSuccessAgeSeconds).toBeLessThan(600);
    expect(Date.parse(l.freshness.lastSuccessAt!)).toBeLessThanOrEqual(Date.now());
    expect(l.freshness.lastFailureAt).toBeNull();
    expect(l.freshness.exports).toEqual([]);
    expect(l.circuits).toContainEqual({ operation: 'getCustomer', state: 'none' });

    const m = backendOf(d, 'modern-customers');
    expect(m).toMatchObject({ kind: 'http', role: 'modern', up: true });
    expect(m.lastHour.calls).toBe(4);
    // Its last minute of traffic, with percentiles.
    const busy = m.series.filter((p) => p.calls > 0);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.every((p) => p.p50Ms !== null && p.p95Ms !== null)).toBe(true);
  });

  it('counts failures per minute, shows a circuit that opened and when the backend last failed', async () => {
    modern.knobs.failing = true;
    // getQuote is modern; its breaker opens after 5 failures in a row (the fixture's policy).
    for (let i = 0; i < 5; i++) expect((await fetch(`${g.url}/quotes/${i + 1}`)).status).toBe(502);
    expect((await fetch(`${g.url}/quotes/9`)).status).toBe(503);
    const m = backendOf(await dashboard(), 'modern-customers');
    expect(m.circuits).toContainEqual({ operation: 'getQuote', state: 'open' });
    expect(m.circuits).toContainEqual({ operation: 'getCustomer', state: 'closed' });
    expect(m.lastHour.errors).toBeGreaterThanOrEqual(5);
    expect(m.series.reduce((n, p) => n + p.errors, 0)).toBe(m.lastHour.errors);
    expect(m.lastHour.errorRate).toBeGreaterThan(0);
    expect(m.freshness.lastFailureAt).not.toBeNull();
    // It still answered before (the customers): that is its last success.
    expect(Date.parse(m.freshness.lastSuccessAt!)).toBeLessThanOrEqual(Date.parse(m.freshness.lastFailureAt!));
    modern.knobs.failing = false;
  });

  it('gives the queues: outbox pending and oldest, dead letters and the newest, the recorder', async () => {
    let d = await dashboard();
    expect(d.queues).toMatchObject({ outbox: { pending: 0, oldestAt: null }, dlq: { count: 0, newest: null }, screenPools: [], errors: [] });
    expect(d.queues.recorder).toMatchObject({ queued: 0, dropped: 0 });
    expect(d.queues.recorder!.queueLimit).toBeGreaterThan(0);

    // Three writes in the outbox (as the queue hook puts them there); a worker gives up on the first.
    const writes = g.gateway.writes;
    const request = (n: number) => ({ operationId: 'createNote', method: 'POST', pathParams: {}, query: {}, headers: {}, body: { text: `note ${n}` }, requestId: `req-${n}` });
    for (let n = 1; n <= 3; n++) await writes.outbox.enqueue({ id: `note-${n}`, operation: 'createNote', request: request(n) });
    const [first] = await writes.outbox.claim('dashboard-test', 1, 30_000);
    await writes.outbox.kill(first, 'dashboard-test', 'rejected', { attempt: 1, at: new Date().toISOString(), status: 422, type: 'unprocessable', error: 'note refused by the CRM' });

    d = await dashboard();
    expect(d.queues.outbox!.pending).toBe(2);
    expect(d.queues.outbox!.oldestAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(Date.parse(d.queues.outbox!.oldestAt!)).toBeLessThanOrEqual(Date.now());
    expect(d.queues.dlq).toMatchObject({ count: 1, newest: { id: first.id, operation: 'createNote', reason: 'rejected', error: 'note refused by the CRM' } });
    expect(d.queues.dlq!.newest!.ageSeconds).toBeGreaterThanOrEqual(0);
  });
});

describe('/metrics and /readyz details on the admin port only (server.metrics, server.readyzDetails: admin)', () => {
  let legacy: Backend;
  let modern: Backend;
  let started: StartedGateway;
  const dirs: string[] = [];
  /** A fixture config with these server settings (and admin settings), in a fresh folder removed at the end. */
  const configWith = (server: Record<string, unknown>, adminSettings?: Record<string, unknown>): string => {
    const file = writeConfig({ admin: adminSettings });
    dirs.push(dirname(file));
    const config = parse(readFileSync(file, 'utf8')) as { server: Record<string, unknown> };
    config.server = { ...config.server, ...server };
    writeFileSync(file, stringify(config));
    return file;
  };

  beforeAll(async () => {
    legacy = await startBackend();
    modern = await startBackend();
    const file = configWith({ metrics: 'admin', readyzDetails: 'admin' });
    started = await startGateway(MIGRATION_FIXTURE, { FICUS_ADMIN_TOKENS: ADMIN_TOKENS, LEGACY_URL: legacy.url, MODERN_URL: modern.url }, { file, level: 'warn', adminServer: true });
  });
  afterAll(async () => {
    await started?.close();
    await legacy?.close();
    await modern?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('serves /metrics on the admin port (no token) and not on the public one', async () => {
    expect((await fetch(`${started.url}/customers/1001`)).status).toBe(200);
    const pub = await fetch(`${started.url}/metrics`);
    expect(pub.status).toBe(404);
    expect(pub.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const adm = await fetch(`${started.adminUrl}/metrics`);
    expect(adm.status).toBe(200);
    expect(await adm.text()).toMatch(/ficus_http_requests_total\{operation="getCustomer",backend="legacy",status="200"\} 1/);
  });

  it('answers ready or not on the public /readyz, and the details on the admin port', async () => {
    const pub = await fetch(`${started.url}/readyz`);
    expect(pub.status).toBe(200);
    expect(await pub.json()).toEqual({ status: 'ready' });
    const adm = await fetch(`${started.adminUrl}/readyz`);
    expect(adm.status).toBe(200);
    expect(await adm.json()).toMatchObject({ status: 'ready', adapters: { 'legacy-crm': { ok: true }, 'modern-customers': { ok: true } }, stateStore: { ok: true } });

    await modern.close();
    const down = await fetch(`${started.url}/readyz`);
    expect(down.status).toBe(503);
    const body = (await down.json()) as { detail: string; adapters?: unknown };
    expect(body.detail).toBe('not ready (the details are on the admin port: /readyz)');
    expect(body.adapters).toBeUndefined();
    const admDown = await fetch(`${started.adminUrl}/readyz`);
    expect(admDown.status).toBe(503);
    expect(((await admDown.json()) as { detail: string }).detail).toMatch(/^not ready: modern-customers: /);
  });

  it('says where they are in the start banner', async () => {
    const banner = await started.gateway.banner(started.url);
    expect(banner).toContain(`Metrics               ${started.adminUrl}/metrics  (admin port only)`);
    expect(banner).toContain(`${started.url}/readyz  (ready or not; details at ${started.adminUrl}/readyz)`);
  });

  it('refuses them with the admin port off, naming the key', async () => {
    const file = configWith({ metrics: 'admin' }, { enabled: false });
    const errors = await Gateway.check({ root: MIGRATION_FIXTURE, file, env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url } });
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(
        /ficus\.yaml:\d+: server\.metrics: \/metrics would be served nowhere: the admin port is off \(admin\.enabled: false\)\n {2}fix: set server\.metrics: public, or admin\.enabled: true/,
      ),
    ]);
  });
});
