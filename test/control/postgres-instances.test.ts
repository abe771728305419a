/**
 * Two gateway processes sharing state in a real PostgreSQL database: a switch made on one is in
 * force on the other within a second (LISTEN/NOTIFY), every switch is audited once, and the state
 * outlives both processes.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../fixtures/migration-gateway/backends.ts';
import { admin, writeConfig } from '../fixtures/migration-gateway/harness.ts';
import { createDatabase, startGatewayProcess, type GatewayProcess } from '../fixtures/migration-gateway/processes.ts';
import { eventually } from '../helpers/wait.ts';
import { NOTIFY_CHANNEL } from '../../src/control/control-store.ts';

describe('two gateway processes on one PostgreSQL', () => {
  let legacy: Backend;
  let modern: Backend;
  let db: { url: string; drop(): Promise<void> };
  let config: string;
  let env: Record<string, string>;
  const running: GatewayProcess[] = [];

  beforeAll(async () => {
    legacy = await startBackend();
    modern = await startBackend();
    db = await createDatabase('ficus_control_test');
    // The safety-net poll once a minute (not every 2 s): within these tests' bounds only LISTEN/NOTIFY
    // (or the catch-up on listening again) can bring a switch, so generous bounds still prove it.
    config = writeConfig({ state: { driver: 'postgres', url: db.url }, admin: { pollMs: 60_000 }, routes: { getCustomer: { mode: 'legacy' } } });
    env = { LEGACY_URL: legacy.url, MODERN_URL: modern.url };
    running.push(...(await Promise.all([startGatewayProcess(config, env), startGatewayProcess(config, env)])));
  }, 90_000);
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    await db?.drop();
    await legacy?.close();
    await modern?.close();
  });

  /**
   * Waits until instance `p` has getCustomer in `state`; resolves with how long after `since` (wall
   * clock) it put it in force, by its own account (so that a slow poll does not count).
   */
  async function seen(p: GatewayProcess, state: string, since: number): Promise<number> {
    const r = await eventually(
      async () => {
        const r = await admin(p.adminUrl, 'GET', '/routes/getCustomer');
        return r.body.state === state && r;
      },
      30_000,
      `instance ${p.adminUrl} to say ${state}`,
      10,
    );
    return Date.parse(r.body.appliedAt) - since;
  }

  it('says in its banner where the admin API is and how switches propagate', () => {
    const [a] = running;
    expect(a.output()).toMatch(/Admin API, dashboard\s+http:\/\/127\.0\.0\.1:\d+\/\s+\(tokens: alice, deploy-bot\)/);
    expect(a.adminUrl).not.toBe(a.url);
  });

  it('puts a switch made on one instance in force on the other within a second', async () => {
    const [a, b] = running;
    const steps = [{ mode: 'shadow' }, { mode: 'canary', percent: 10 }, { mode: 'canary', percent: 50 }, { mode: 'modern' }, { mode: 'legacy' }];
    for (const [i, step] of steps.entries()) {
      const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
      const start = Date.now();
      const r = await admin(from.adminUrl, 'PUT', '/routes/getCustomer/mode', { ...step, reason: `step ${i}` });
      expect(r.status).toBe(200);
      const took = await seen(to, r.body.to, start);
      expect(took).toBeLessThan(10_000); // typically well under a second; the next poll is a minute away
    }
    // Both instances now send callers to the same backend.
    const answers = await Promise.all(running.map(async (p) => (await fetch(`${p.url}/customers/1001`)).headers.get('ficus-backend')));
    expect(answers).toEqual(['legacy', 'legacy']);
    // Each switch is in the shared audit log once.
    const log = (await admin(b.adminUrl, 'GET', '/audit?operationId=getCustomer&limit=100')).body.entries.filter((e: { action: string }) => e.action === 'mode');
    expect(log.map((e: { reason: string }) => e.reason)).toEqual(['step 4', 'step 3', 'step 2', 'step 1', 'step 0']);
  });

  it('keeps propagating when the listening connection is cut (catches up when it listens again)', async () => {
    const [a, b] = running;
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // The connections listening for route switches (each instance has one; the cache's settings listen on a channel of their own).
      const cut = await client.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN ${NOTIFY_CHANNEL}'`);
      expect(cut.rows.length).toBe(2);
      let start = Date.now();
      let r = await admin(a.adminUrl, 'PUT', '/routes/getCustomer/mode', { mode: 'shadow', reason: 'while B is deaf' });
      expect(r.status).toBe(200);
      expect(await seen(b, 'shadow', start)).toBeLessThan(20_000); // B catches up when it listens again (1 s later)
      // Both listen again within a second or two.
      await eventually(
        async () => (await client.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN ${NOTIFY_CHANNEL}'`)).rows[0].n === 2,
        undefined,
        'both instances to listen again',
        100,
      );
      start = Date.now();
      r = await admin(a.adminUrl, 'PUT', '/routes/getCustomer/mode', { mode: 'legacy', reason: 'B hears again' });
      expect(await seen(b, 'legacy', start)).toBeLessThan(10_000);
    } finally {
      await client.end();
    }
  });

  it('refuses on one instance what the other would refuse too, and keeps state after both stop', async () => {
    const [a] = running;
    expect((await admin(a.adminUrl, 'PUT', '/routes/getLegacyOnly/mode', { mode: 'canary', percent: 5, reason: 'try' })).status).toBe(409);
    expect((await admin(a.adminUrl, 'PUT', '/routes/getCustomer/mode', { mode: 'fallback', reason: 'before restart' })).status).toBe(200);
    const codes = await Promise.all(running.splice(0).map((p) => p.stop()));
    expect(codes).toEqual([0, 0]);
    const again = await startGatewayProcess(config, env);
    running.push(again);
    expect((await admin(again.adminUrl, 'GET', '/routes/getCustomer')).body).toMatchObject({ state: 'fallback', changedBy: 'alice' });
    expect((await fetch(`${again.url}/customers/1001`)).headers.get('ficus-backend')).toBe('modern');
  }, 90_000);
});
