/** Fallback mode: modern serves; legacy answers when modern fails or its circuit is open, counted; writes are never done twice. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../fixtures/migration-gateway/backends.ts';
import { admin, startMigrationGateway, type MigrationGateway } from '../fixtures/migration-gateway/harness.ts';

describe('fallback mode', () => {
  let legacy: Backend;
  let modern: Backend;
  let g: MigrationGateway;

  beforeAll(async () => {
    legacy = await startBackend();
    modern = await startBackend();
    g = await startMigrationGateway({
      env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url },
      routes: { getCustomer: { mode: 'fallback' }, createNote: { mode: 'fallback' } },
    });
  });
  afterAll(async () => {
    await g?.close();
    await legacy?.close();
    await modern?.close();
  });

  it('is served by modern while modern is well', async () => {
    const res = await fetch(`${g.url}/customers/1001`);
    expect(res.status).toBe(200);
    expect(res.headers.get('ficus-backend')).toBe('modern');
    expect(legacy.hitCount('GET /customers')).toBe(0);
  });

  it("answers from legacy when modern fails, then while modern's circuit is open, and counts each fallback", async () => {
    modern.knobs.failing = true;
    try {
      for (let i = 0; i < 8; i++) {
        const res = await fetch(`${g.url}/customers/${1001 + i}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('ficus-backend')).toBe('legacy');
      }
    } finally {
      modern.knobs.failing = false;
    }
    // The circuit opened after 5 consecutive failures: the last 3 calls never reached modern.
    expect(modern.hitCount('GET /customers')).toBe(1 + 5);
    const view = (await admin(g.adminUrl, 'GET', '/routes/getCustomer')).body;
    expect(view.fallbacks).toBe(8);
    expect(view.modern.circuit).toBe('open');
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metrics).toMatch(/ficus_route_fallbacks_total\{operation="getCustomer"\} 8/);
  });

  it('does not replay a write on legacy when modern may have done it (a 5xx answer)', async () => {
    modern.knobs.failing = true;
    try {
      const res = await fetch(`${g.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'once' }) });
      expect(res.status).toBe(502);
      expect(legacy.notes).toHaveLength(0);
    } finally {
      modern.knobs.failing = false;
    }
  });
});

describe('fallback mode with modern unreachable', () => {
  it('sends a write to legacy when modern refused the connection (it certainly did not act on it)', async () => {
    const legacy = await startBackend();
    const modern = await startBackend();
    const modernUrl = modern.url;
    await modern.close();
    const g = await startMigrationGateway({ env: { LEGACY_URL: legacy.url, MODERN_URL: modernUrl }, routes: { createNote: { mode: 'fallback' } } });
    try {
      const res = await fetch(`${g.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'once' }) });
      expect(res.status).toBe(201);
      expect(res.headers.get('ficus-backend')).toBe('legacy');
      expect(res.headers.get('ficus-fallback')).toMatch(/503/);
      expect(legacy.notes).toEqual([JSON.stringify({ text: 'once' })]);
    } finally {
      await g.close();
      await legacy.close();
    }
  });
});
