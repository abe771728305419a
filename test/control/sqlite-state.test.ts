/**
 * Route state in the default SQLite store: it survives restarts, ficus.yaml gives the initial modes
 * (and wins again when its initial mode for a route is edited), and two gateways sharing the file
 * see each other's switches within a second.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../fixtures/migration-gateway/backends.ts';
import { admin, startMigrationGateway } from '../fixtures/migration-gateway/harness.ts';

describe('route state in SQLite', () => {
  let legacy: Backend;
  let modern: Backend;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    legacy = await startBackend();
    modern = await startBackend();
    dir = mkdtempSync(join(tmpdir(), 'ficus-sqlite-state-'));
    env = { LEGACY_URL: legacy.url, MODERN_URL: modern.url };
  });
  afterAll(async () => {
    await legacy?.close();
    await modern?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const state = { driver: 'sqlite' as const, file: '' };

  it('survives a restart, and a changed initial mode in ficus.yaml wins (audited as config)', async () => {
    state.file = join(dir, 'state.sqlite');
    let g = await startMigrationGateway({ env, state, routes: { getCustomer: { mode: 'shadow' } } });
    try {
      expect((await admin(g.adminUrl, 'PUT', '/routes/getCustomer/mode', { mode: 'canary', percent: 25, reason: 'first canary' })).status).toBe(200);
    } finally {
      await g.close();
    }
    g = await startMigrationGateway({ env, state, routes: { getCustomer: { mode: 'shadow' } } });
    try {
      const view = (await admin(g.adminUrl, 'GET', '/routes/getCustomer')).body;
      expect(view).toMatchObject({ mode: 'canary', percent: 25, changedBy: 'alice' });
      expect(g.gateway.routes.get('getCustomer')?.state).toEqual({ mode: 'canary', percent: 25 });
    } finally {
      await g.close();
    }
    g = await startMigrationGateway({ env, state, routes: { getCustomer: { mode: 'fallback' } } });
    try {
      expect((await admin(g.adminUrl, 'GET', '/routes/getCustomer')).body).toMatchObject({ mode: 'fallback', changedBy: 'config' });
      const entry = (await admin(g.adminUrl, 'GET', '/audit?operationId=getCustomer&limit=1')).body.entries[0];
      expect(entry).toMatchObject({ actor: 'config', automatic: true, action: 'config', from: 'canary 25%', to: 'fallback' });
      expect(entry.reason).toMatch(/now starts this route in fallback \(it said shadow\)/);
    } finally {
      await g.close();
    }
  });

  it('reaches a second gateway on the same file within seconds (it polls every 500 ms)', async () => {
    state.file = join(dir, 'shared.sqlite');
    const a = await startMigrationGateway({ env, state });
    const b = await startMigrationGateway({ env, state, adminServer: false });
    try {
      for (const [mode, percent] of [
        ['modern', undefined],
        ['canary', 40],
        ['legacy', undefined],
      ] as const) {
        const applied = new Promise<number>((resolve) => {
          const on = (e: { operationId: string; mode: string }) => {
            if (e.operationId === 'getCustomer' && e.mode === mode) {
              b.gateway.control.off('applied', on);
              resolve(performance.now());
            }
          };
          b.gateway.control.on('applied', on);
        });
        const start = performance.now();
        expect((await admin(a.adminUrl, 'PUT', '/routes/getCustomer/mode', { mode, percent, reason: `to ${mode}` })).status).toBe(200);
        const seenAt = await applied;
        expect(seenAt - start).toBeLessThan(5_000); // generous for a busy machine; without polling it would never arrive
        expect(b.gateway.routes.get('getCustomer')?.state).toEqual({ mode, percent: percent ?? 0 });
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});
