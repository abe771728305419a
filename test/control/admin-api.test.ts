/**
 * The admin API: named bearer tokens, every switch audited (who, when, from, to, why), bad input
 * refused with a clear problem and nothing changed, other features' routers behind the same
 * authentication, and no way in from the public API.
 */
import { readFileSync } from 'node:fs';
import express from 'express';
import type { Feature } from '../../src/features/feature.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startBackend, type Backend } from '../fixtures/migration-gateway/backends.ts';
import { admin, startMigrationGateway, type MigrationGateway } from '../fixtures/migration-gateway/harness.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

describe('admin API', () => {
  let legacy: Backend;
  let modern: Backend;
  let g: MigrationGateway;

  beforeAll(async () => {
    legacy = await startBackend();
    modern = await startBackend();
    // A feature of the test's own, plugged in as any feature is: its admin router sits behind the admin authentication.
    const router = express.Router();
    router.get('/items', (_req, res) => void res.json({ items: ['parked'], actor: res.locals.actor }));
    const testFeature: Feature<undefined> = { name: 'test-feature', checkConfig: () => [], install: async () => ({ api: undefined, adminRouters: [{ prefix: '/test-feature', router }] }) };
    g = await startMigrationGateway({ env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url }, routes: { getCustomer: { mode: 'legacy' } }, features: [testFeature] });
  });
  afterAll(async () => {
    await g?.close();
    await legacy?.close();
    await modern?.close();
  });

  const stateOf = async () => (await admin(g.adminUrl, 'GET', '/routes/getCustomer')).body.state;
  const auditCount = async () => (await admin(g.adminUrl, 'GET', '/audit?limit=1000')).body.entries.length;

  it('lists every route with its mode, backends and health', async () => {
    const r = await admin(g.adminUrl, 'GET', '/routes');
    expect(r.status).toBe(200);
    const ops = r.body.routes.map((x: { operationId: string }) => x.operationId).sort();
    expect(ops).toEqual(['createNote', 'getCustomer', 'getLegacyOnly', 'getQuote', 'listCustomers']);
    const gc = r.body.routes.find((x: { operationId: string }) => x.operationId === 'getCustomer');
    expect(gc).toMatchObject({ mode: 'legacy', state: 'legacy', legacy: { adapter: 'legacy-crm', kind: 'http', up: true }, modern: { adapter: 'modern-customers', up: true } });
    expect(r.body.routes.find((x: { operationId: string }) => x.operationId === 'getLegacyOnly').modern).toBeNull();
  });

  it('switches a mode, takes effect on the next call, and audits who, when, from, to and why', async () => {
    const before = Date.now();
    const r = await admin(g.adminUrl, 'PUT', '/routes/getCustomer/mode', { mode: 'modern', reason: 'modern verified in staging' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ changed: true, from: 'legacy', to: 'modern' });
    const res = await fetch(`${g.url}/customers/1001`);
    expect(res.headers.get('ficus-backend')).toBe('modern');
    const entry = (await admin(g.adminUrl, 'GET', '/audit?operationId=getCustomer&limit=1')).body.entries[0];
    expect(entry).toMatchObject({ actor: 'alice', automatic: false, operationId: 'getCustomer', action: 'mode', from: 'legacy', to: 'modern', reason: 'modern verified in staging' });
    expect(Date.parse(entry.at)).toBeGreaterThanOrEqual(before - 5);
    // The other token's name is who acts with it.
    await admin(g.adminUrl, 'PUT', '/routes/getCustomer/mode', { mode: 'legacy', reason: 'back for the weekend' }, 'bot-secret-token');
    expect((await admin(g.adminUrl, 'GET', '/audit?limit=1')).body.entries[0]).toMatchObject({ actor: 'deploy-bot', from: 'modern', to: 'legacy' });
    // The same state again changes nothing and audits nothing.
    const n = await auditCount();
    expect((await admin(g.adminUrl, 'PUT', '/routes/getCustomer/mode', { mode: 'legacy', reason: 'again' })).body.changed).toBe(false);
    expect(await auditCount()).toBe(n);
  });

  it.each([
    ['no token', null, '/routes/getCustomer/mode', { mode: 'modern', reason: 'x'.repeat(5) }, 401, /Authorization: Bearer/],
    ['a wrong token', 'not-a-real-token', '/routes/getCustomer/mode', { mode: 'modern', reason: 'x'.repeat(5) }, 401, /not one of FICUS_ADMIN_TOKENS/],
    ['an unknown operationId', 'alice', '/routes/getNothing/mode', { mode: 'modern', reason: 'because' }, 404, /no operation "getNothing"/],
    ['modern for a route without a modern binding', 'alice', '/routes/getLegacyOnly/mode', { mode: 'modern', reason: 'because' }, 409, /has no modern binding/],
    ['a percentage over 100', 'alice', '/routes/getCustomer/mode', { mode: 'canary', percent: 101, reason: 'because' }, 400, /body\.percent: percent must be from 0 to 100/],
    ['a negative percentage', 'alice', '/routes/getCustomer/mode', { mode: 'canary', percent: -1, reason: 'because' }, 400, /body\.percent/],
    ['canary without a percentage', 'alice', '/routes/getCustomer/mode', { mode: 'canary', reason: 'because' }, 400, /canary needs a percent/],
    ['a missing reason', 'alice', '/routes/getCustomer/mode', { mode: 'modern' }, 400, /body\.reason: a reason is required/],
    ['an empty reason', 'alice', '/routes/getCustomer/mode', { mode: 'modern', reason: '  ' }, 400, /body\.reason/],
    ['an unknown mode', 'alice', '/routes/getCustomer/mode', { mode: 'blue-green', reason: 'because' }, 400, /body\.mode: mode must be one of/],
    ['an unknown field', 'alice', '/routes/getCustomer/mode', { mode: 'modern', reason: 'because', force: true }, 400, /unknown field\(s\): force/],
  ])('refuses %s with a clear problem, and changes nothing', async (_what, who, path, body, status, detail) => {
    const token = who === null ? null : who === 'alice' ? 'alice-secret-token' : who;
    const stateBefore = await stateOf();
    const auditBefore = await auditCount();
    const r = await admin(g.adminUrl, 'PUT', path, body, token);
    expect(r.status).toBe(status);
    expect(r.type).toMatch(/^application\/problem\+json/);
    expect(r.body.status).toBe(status);
    expect(`${r.body.detail}`).toMatch(detail);
    if (status === 401) expect(r.body.type).toBe('https://ficus.dev/problems/unauthorized');
    expect(await stateOf()).toBe(stateBefore);
    expect(await auditCount()).toBe(auditBefore);
    expect((await fetch(`${g.url}/customers/1001`)).headers.get('ficus-backend')).toBe('legacy');
  });

  it('refuses a body that is not JSON with a problem', async () => {
    const res = await fetch(`${g.adminUrl}/routes/getCustomer/mode`, { method: 'PUT', headers: { authorization: 'Bearer alice-secret-token', 'content-type': 'application/json' }, body: '{"mode": ' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(((await res.json()) as { type: string }).type).toBe('https://ficus.dev/problems/malformed-json');
  });

  it("puts other features' admin routers behind the same tokens", async () => {
    expect((await admin(g.adminUrl, 'GET', '/test-feature/items', undefined, null)).status).toBe(401);
    const r = await admin(g.adminUrl, 'GET', '/test-feature/items');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ items: ['parked'], actor: 'alice' });
    // The dead-letter queue's own router (issue 8) is mounted the same way.
    expect((await admin(g.adminUrl, 'GET', '/dlq/stats', undefined, null)).status).toBe(401);
    expect((await admin(g.adminUrl, 'GET', '/dlq/stats')).status).toBe(200);
    const missing = await admin(g.adminUrl, 'GET', '/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.type).toMatch(/problem\+json/);
  });

  it('cannot be reached through the public API', async () => {
    expect(new URL(g.adminUrl).port).not.toBe(new URL(g.url).port);
    for (const path of ['/routes', '/routes/getCustomer/mode', '/audit', '/overview', '/test-feature/items']) {
      const res = await fetch(`${g.url}${path}`, {
        method: path.endsWith('/mode') ? 'PUT' : 'GET',
        headers: { authorization: 'Bearer alice-secret-token', 'content-type': 'application/json' },
        body: path.endsWith('/mode') ? JSON.stringify({ mode: 'modern', reason: 'sneaky' }) : undefined,
      });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    }
    expect(await stateOf()).toBe('legacy');
  });

  it('serves an OpenAPI document that describes exactly the endpoints it serves', async () => {
    const res = await fetch(`${g.adminUrl}/openapi.yaml`);
    expect(res.status).toBe(200);
    const doc = parse(await res.text()) as { paths: Record<string, Record<string, unknown>> };
    expect(doc).toEqual(parse(readFileSync(`${PROJECT_ROOT}admin-openapi.yaml`, 'utf8')));
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item).filter((m) => ['get', 'put', 'post'].includes(m))) {
        const r = await fetch(g.adminUrl + path.replace('{operationId}', 'getCustomer'), {
          method: method.toUpperCase(),
          headers: { authorization: 'Bearer alice-secret-token', 'content-type': 'application/json' },
          body: method === 'get' ? undefined : '{}',
        });
        // Served: an answer or a validation problem, never "no such endpoint".
        expect([200, 400], `${method} ${path}`).toContain(r.status);
      }
    }
  });

  it('gives the migration overview', async () => {
    const r = await admin(g.adminUrl, 'GET', '/overview');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ routes: 5, byMode: { legacy: 5, shadow: 0, canary: 0, fallback: 0, modern: 0 }, progress: 0 });
    expect(r.body.propagation).toMatch(/polling every 500 ms/);
  });
});

describe('admin API without tokens configured', () => {
  it('refuses everything, saying how to configure tokens', async () => {
    const legacy = await startBackend();
    const g = await startMigrationGateway({ env: { LEGACY_URL: legacy.url, MODERN_URL: legacy.url, FICUS_ADMIN_TOKENS: '' } });
    try {
      const r = await admin(g.adminUrl, 'GET', '/routes');
      expect(r.status).toBe(401);
      expect(r.body.detail).toMatch(/set FICUS_ADMIN_TOKENS/);
    } finally {
      await g.close();
      await legacy.close();
    }
  });

  it('refuses to start with a malformed FICUS_ADMIN_TOKENS, naming the entry', async () => {
    await expect(startMigrationGateway({ env: { LEGACY_URL: 'http://127.0.0.1:9', MODERN_URL: 'http://127.0.0.1:9', FICUS_ADMIN_TOKENS: 'alice:long-enough-token,bob' } })).rejects.toThrow(
      /FICUS_ADMIN_TOKENS: entry 2: each entry must be name:token/,
    );
  });
});
