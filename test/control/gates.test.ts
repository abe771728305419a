/**
 * Promotion and rollback gates: a route moves itself from shadow to canary once the match rate is
 * good enough, steps up after a clean period, and goes back to legacy at once when modern fails;
 * each move is audited as the gate's, with its figures, and a paused route stays where it is.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { gatesSchema } from '../../src/control/route-config.ts';
import { decide, isDecision } from '../../src/control/gates.ts';
import { startBackend, type Backend } from '../fixtures/migration-gateway/backends.ts';
import { admin, startMigrationGateway, type MigrationGateway } from '../fixtures/migration-gateway/harness.ts';

const gates = gatesSchema.parse({
  steps: [
    { from: 'shadow', to: 'canary 10', matchRate: 99.5, calls: 1000 },
    { from: 'canary 10', to: 'canary 50', clean: '1h' },
    { from: 'canary 50', to: 'canary 100', clean: '1h' },
  ],
  rollback: { errorRate: 2, window: '5m', to: 'legacy' },
});

describe('the gate rule', () => {
  const figures = (rate: number | null, calls: number, modern = { calls: 0, errors: 0 }) => ({ matchRate: () => ({ rate, calls }), modernWindow: () => modern });
  const now = Date.parse('2026-01-01T12:00:00Z');

  it('promotes from shadow only with enough comparisons at a good enough match rate', () => {
    expect(isDecision(decide(gates, { mode: 'shadow', percent: 0, changedAtMs: now }, figures(100, 999), now))).toBe(false);
    expect(isDecision(decide(gates, { mode: 'shadow', percent: 0, changedAtMs: now }, figures(99.4, 1000), now))).toBe(false);
    const d = decide(gates, { mode: 'shadow', percent: 0, changedAtMs: now }, figures(99.5, 1000), now);
    expect(d).toMatchObject({ kind: 'promote', to: { mode: 'canary', percent: 10 } });
    expect(isDecision(d) && d.reason).toMatch(/match rate 99\.5% over the last 1000 comparisons/);
  });

  it('steps up after a clean hour, not before, and not while modern fails too often', () => {
    const at10 = { mode: 'canary', percent: 10, changedAtMs: now - 3_599_000 };
    expect(decide(gates, at10, figures(null, 0), now)).toEqual({ waitingFor: expect.stringMatching(/^canary 50% after 1h clean in canary 10% \(1s to go\)/) });
    const hourAgo = { ...at10, changedAtMs: now - 3_600_000 };
    expect(decide(gates, hourAgo, figures(null, 0, { calls: 1000, errors: 20 }), now)).toMatchObject({ kind: 'promote', to: { mode: 'canary', percent: 50 } });
    expect(isDecision(decide(gates, hourAgo, figures(null, 0, { calls: 1000, errors: 21 }), now))).toBe(true); // 2.1% > 2%: that is a rollback
    expect(decide(gates, hourAgo, figures(null, 0, { calls: 1000, errors: 21 }), now)).toMatchObject({ kind: 'rollback', to: { mode: 'legacy' } });
  });

  it("rolls back at once when modern's error rate passes the limit, with enough calls to judge", () => {
    const at50 = { mode: 'canary', percent: 50, changedAtMs: now - 60_000 };
    expect(isDecision(decide(gates, at50, figures(null, 0, { calls: 19, errors: 19 }), now))).toBe(false);
    const d = decide(gates, at50, figures(null, 0, { calls: 100, errors: 3 }), now);
    expect(d).toMatchObject({ kind: 'rollback', to: { mode: 'legacy', percent: 0 } });
    expect(isDecision(d) && d.reason).toMatch(/modern failed 3 of 100 calls over the last 5m \(3%, limit 2%\)/);
    expect(isDecision(decide(gates, { mode: 'legacy', percent: 0, changedAtMs: now }, figures(null, 0, { calls: 100, errors: 100 }), now))).toBe(false);
  });

  it('promotes only with a recent reconciliation whose parity is high enough, when a step requires one', () => {
    const g = gatesSchema.parse({ steps: [{ from: 'canary 100', to: 'modern', clean: '1h', reconciliation: { minParity: 99.9, maxAge: '1d' } }] });
    const at100 = { mode: 'canary', percent: 100, changedAtMs: now - 7_200_000 };
    const withRun = (parity: number | undefined, agoMs = 600_000) => ({
      ...figures(null, 0),
      reconciliation: () => (parity === undefined ? undefined : { parity, keys: 3000, finishedAtMs: now - agoMs }),
    });
    expect(decide(g, at100, withRun(undefined), now)).toEqual({ waitingFor: 'modern after a reconciliation with parity ≥ 99.9% within the last 1d (latest: none)' });
    expect(decide(g, at100, withRun(99.5), now)).toEqual({ waitingFor: 'modern after a reconciliation with parity ≥ 99.9% within the last 1d (latest: 99.5% of 3000 keys, 10m ago)' });
    expect(isDecision(decide(g, at100, withRun(100, 86_400_001), now))).toBe(false);
    const d = decide(g, at100, withRun(100), now);
    expect(d).toMatchObject({ kind: 'promote', to: { mode: 'modern' } });
    expect(isDecision(d) && d.reason).toMatch(/clean for 1h .*; reconciliation 100% of 3000 keys equal, 10m ago \(at least 99\.9% within 1d\)/);
    // Figures without reconciliations (an older caller) never meet the condition.
    expect(isDecision(decide(g, at100, figures(null, 0), now))).toBe(false);
    expect(gatesSchema.parse({ steps: [{ from: 'shadow', to: 'modern', reconciliation: {} }] }).steps[0].reconciliation).toEqual({ minParity: 100, maxAge: 86_400_000 });
  });

  it('refuses a step without a condition, naming the key', () => {
    const r = gatesSchema.safeParse({ steps: [{ from: 'shadow', to: 'canary 10' }] });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/a step needs a condition/);
    expect(gatesSchema.safeParse({ steps: [{ from: 'shadow', to: 'canary 150', clean: '1h' }] }).success).toBe(false);
  });
});

describe('gates in a running gateway', () => {
  let legacy: Backend;
  let modern: Backend;
  let g: MigrationGateway;
  const route = () => g.gateway.routes.get('getCustomer')!.state;

  beforeAll(async () => {
    legacy = await startBackend();
    modern = await startBackend();
    g = await startMigrationGateway({
      // Generous timeouts: a call that times out on a busy machine is not a comparison, and the gate needs 20.
      env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url, LEGACY_TIMEOUT_MS: '20000', MODERN_TIMEOUT_MS: '20000' },
      routes: {
        getCustomer: {
          mode: 'shadow',
          gates: {
            steps: [
              { from: 'shadow', to: 'canary 10', matchRate: 95, calls: 20 },
              // A minute, not a second: the gates' own 1 s timer must not step up behind the test's back;
              // the test moves the clock instead (evaluateGates(now)).
              { from: 'canary 10', to: 'canary 50', clean: '1m' },
            ],
            rollback: { errorRate: 20, window: '1m', minCalls: 5, to: 'legacy' },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await g?.close();
    await legacy?.close();
    await modern?.close();
  });

  const call = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => fetch(`${g.url}/customers/${1001 + i}`).then((r) => r.status)));

  it('moves shadow → canary 10% on its own once 20 comparisons match', async () => {
    expect((await admin(g.adminUrl, 'GET', '/routes/getCustomer')).body.gates.waitingFor).toMatch(/canary 10% after match rate ≥ 95% over 20 comparisons \(now none over 0\)/);
    expect(await call(20)).toEqual(Array(20).fill(200));
    await g.gateway.control.shadow.drain();
    // No call to evaluateGates: the gates' own timer (every second) moves the route.
    await vi.waitFor(() => expect(route()).toEqual({ mode: 'canary', percent: 10 }), { timeout: 20_000, interval: 50 });
    const entry = (await admin(g.adminUrl, 'GET', '/audit?operationId=getCustomer&limit=1')).body.entries[0];
    expect(entry).toMatchObject({ actor: 'gate', automatic: true, action: 'mode', from: 'shadow', to: 'canary 10%' });
    expect(entry.reason).toMatch(/promotion gate: shadow → canary 10%: match rate 100% over the last 20 comparisons/);
  });

  it('stays put while paused, and steps up to 50% after a clean minute once resumed', async () => {
    expect((await admin(g.adminUrl, 'PUT', '/routes/getCustomer/gates', { paused: true, reason: 'hold for the release freeze' })).status).toBe(200);
    const aMinuteLater = Date.now() + 61_000;
    await g.gateway.control.evaluateGates(aMinuteLater);
    expect(route()).toEqual({ mode: 'canary', percent: 10 });
    const paused = (await admin(g.adminUrl, 'GET', '/routes/getCustomer')).body.gates;
    expect(paused.paused).toBe(true);
    expect((await admin(g.adminUrl, 'PUT', '/routes/getCustomer/gates', { paused: false, reason: 'freeze over' })).status).toBe(200);
    await g.gateway.control.evaluateGates(aMinuteLater);
    expect(route()).toEqual({ mode: 'canary', percent: 50 });
  });

  it('rolls back to legacy as soon as modern fails too often, and says why', async () => {
    modern.knobs.failing = true;
    try {
      await call(30);
    } finally {
      modern.knobs.failing = false;
    }
    await g.gateway.control.evaluateGates();
    // The gates' timer may have got there first, and be finishing the switch: wait for it, not for time.
    await vi.waitFor(() => expect(route()).toEqual({ mode: 'legacy', percent: 0 }), { timeout: 20_000, interval: 50 });
    const entry = (await admin(g.adminUrl, 'GET', '/audit?operationId=getCustomer&limit=1')).body.entries[0];
    expect(entry).toMatchObject({ actor: 'gate', automatic: true, from: 'canary 50%', to: 'legacy' });
    expect(entry.reason).toMatch(/^rollback gate: modern failed \d+ of \d+ calls over the last 1m \([\d.]+%, limit 20%\)/);
    expect((await fetch(`${g.url}/customers/1001`)).headers.get('ficus-backend')).toBe('legacy');
  });

  it('refuses to pause gates on a route that has none', async () => {
    const r = await admin(g.adminUrl, 'PUT', '/routes/listCustomers/gates', { paused: true, reason: 'nothing to pause' });
    expect(r.status).toBe(409);
    expect(r.body.detail).toMatch(/has no gates/);
  });
});

describe('gate configuration', () => {
  it('refuses a gate that moves a route without a modern binding to canary, naming the key', async () => {
    await expect(
      startMigrationGateway({
        env: { LEGACY_URL: 'http://127.0.0.1:9', MODERN_URL: 'http://127.0.0.1:9' },
        routes: { getLegacyOnly: { gates: { steps: [{ from: 'legacy', to: 'canary 10', clean: '1h' }] } } },
      }),
    ).rejects.toThrow(/routes\.getLegacyOnly\.gates\.steps\[0\]\.to: canary needs a modern backend/);
  });
});
