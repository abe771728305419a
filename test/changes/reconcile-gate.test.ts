/**
 * Reconciliation on the control plane: each `ficus reconcile` run's summary is kept in the state
 * store per route; the admin API (and the dashboard, from the route view) shows the latest beside
 * the shadow match rate, whichever process ran it; a promotion gate that requires a clean
 * reconciliation keeps the route where it is until one is recent and clean enough, then moves it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReconcile } from '../../src/reconcile/run-reconcile.ts';
import { startModernCustomers, type RunningService } from '../../sample/modern-customers/server.ts';
import { memoryLogger } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';
import { admin, CHANGES_FIXTURE, HOOK_SECRET, legacyCrm, startChangesGateway, stateDir } from './changes-helpers.ts';

const CONFIG = 'ficus-reconcile-gate.yaml';

describe('reconciliation summaries: admin API, route view and a promotion gate', () => {
  let crm: Awaited<ReturnType<typeof legacyCrm>>;
  let state: ReturnType<typeof stateDir>;
  let same: RunningService;
  let drifted: RunningService;
  let gw: Awaited<ReturnType<typeof startChangesGateway>>;

  beforeAll(async () => {
    crm = await legacyCrm('sqlite');
    state = stateDir();
    same = await startModernCustomers({ port: 0 });
    drifted = await startModernCustomers({ port: 0, driftEvery: 2 });
    gw = await startChangesGateway({ ...crm.env, FICUS_STATE_FILE: state.file, CUSTOMERS_SERVICE_URL: same.url }, CONFIG);
  });
  afterAll(async () => {
    await gw?.close();
    await same?.close();
    await drifted?.close();
    await crm?.drop();
    state?.remove();
  });

  const reconcileAgainst = (modernUrl: string) =>
    runReconcile({
      operation: 'getCustomer',
      keys: ['1001', '1002', '1003', '1004'],
      against: 'modern',
      root: CHANGES_FIXTURE,
      config: CONFIG,
      env: { ...crm.env, FICUS_STATE_FILE: state.file, HOOK_SECRET, CUSTOMERS_SERVICE_URL: modernUrl },
      logger: memoryLogger('warn').logger,
    });

  it('before any run: no reconciliation, and the gate waits for one', async () => {
    expect((await admin(gw.adminUrl, '/reconciliations')).body).toEqual({ latest: [] });
    const route = (await admin(gw.adminUrl, '/routes/getCustomer')).body;
    expect(route.reconciliation).toBeNull();
    expect(route.mode).toBe('shadow');
    expect(route.gates.waitingFor).toMatch(/^modern after a reconciliation with parity ≥ 100% within the last 1h \(latest: none\)/);
  });

  it('a run with drift is shown with its figures, and the gate still waits', async () => {
    const r = await reconcileAgainst(drifted.url);
    expect(r.exitCode).toBe(1);
    const latest = (await admin(gw.adminUrl, '/reconciliations')).body.latest;
    expect(latest).toEqual([expect.objectContaining({ operation: 'getCustomer', keys: 4, equal: 2, different: 2, missingModern: 0, missingLegacy: 0, errors: 0, parity: 50 })]);
    const route = (await admin(gw.adminUrl, '/routes/getCustomer')).body;
    expect(route.reconciliation).toEqual(latest[0]);
    await gw.gateway.control.evaluateGates();
    expect((await admin(gw.adminUrl, '/routes/getCustomer')).body).toMatchObject({
      mode: 'shadow',
      gates: { waitingFor: expect.stringContaining('(latest: 50% of 4 keys') },
    });
  });

  it('a clean run moves the route (audited as the gate, with the figures), and the runs are listed newest first', async () => {
    const r = await reconcileAgainst(same.url);
    expect(r.exitCode).toBe(0);
    await eventually(async () => (await admin(gw.adminUrl, '/routes/getCustomer')).body.mode === 'modern', undefined, 'the gate to move the route');
    const audit = (await admin(gw.adminUrl, '/audit?operationId=getCustomer')).body.entries;
    expect(audit[0]).toMatchObject({ actor: 'gate', reason: expect.stringMatching(/reconciliation 100% of 4 keys equal/) });
    const runs = (await admin(gw.adminUrl, '/routes/getCustomer/reconciliations')).body.runs;
    expect(runs.map((x: { parity: number }) => x.parity)).toEqual([100, 50]);
  });
});
