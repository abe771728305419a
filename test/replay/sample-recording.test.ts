/**
 * The repository's recording of the sample estate's traffic (recordings/, made with
 * `ficus record capture recordings/sample-traffic.txt --sample-estate`), replayed against the sample
 * estate's legacy and modern backends through the project's own gateway config: a change that
 * breaks an answer fails here with a readable diff.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleEstate, type RunningEstate } from '../../sample/estate.ts';
import { startModernCustomers } from '../../sample/modern-customers/server.ts';
import { Contract } from '../../src/contract/contract.ts';
import { InProcessGatewayTarget } from '../../src/replay/replay-target.ts';
import { runReplay } from '../../src/replay/run-replay.ts';
import { ficus } from '../fixtures/ficus-cli.ts';
import { FIXTURES, memoryLogger, PROJECT_ROOT, SCREEN_PATIENCE } from '../helpers/gateway.ts';

const RECORDINGS = join(PROJECT_ROOT, 'recordings');
const out = mkdtempSync(join(tmpdir(), 'ficus-sample-replay-'));
let estate: RunningEstate;
/** One gateway of the project on the sample estate, shared by the replays against legacy and modern. */
let gateway: InProcessGatewayTarget;

beforeAll(async () => {
  estate = await startSampleEstate({ root: out });
  gateway = await InProcessGatewayTarget.start({ root: PROJECT_ROOT, env: { ...estate.env, ...SCREEN_PATIENCE }, logger: memoryLogger('silent').logger, connections: 8 });
}, 120_000);
afterAll(async () => {
  await gateway?.close();
  await estate?.stop();
  rmSync(out, { recursive: true, force: true });
});

const quiet = () => memoryLogger('silent').logger;

describe('the recording of the sample estate', () => {
  it('covers the operations of the sample estate, and every line of it is readable', async () => {
    const r = await runReplay({ against: 'legacy', root: PROJECT_ROOT, env: estate.env, paths: [RECORDINGS], gateway });
    expect(r.run.bad).toEqual([]);
    expect(Object.keys(r.run.byOperation).sort()).toEqual(['getAccount', 'getCustomer', 'getProduct', 'listAccountInvoices', 'listCustomers', 'listProducts', 'searchAccounts']);
    expect(r.run.results.some((x) => x.item.exchange.response.status === 404)).toBe(true);
    // It replays clean against legacy (the CRM database, the mainframe export, the billing screens).
    for (const [op, c] of Object.entries(r.run.byOperation)) expect({ op, ...c }, r.summary).toEqual({ op, pass: c.pass, fail: 0, error: 0, skipped: 0 });
    expect(r.exitCode).toBe(0);
  }, 120_000);

  it('replays clean against modern for the routes that have a modern backend, and says which have none yet', async () => {
    const r = await runReplay({ against: 'modern', root: PROJECT_ROOT, env: estate.env, paths: [RECORDINGS], gateway });
    expect(r.run.byOperation.getCustomer).toMatchObject({ fail: 0, error: 0, skipped: 0 });
    expect(r.run.byOperation.getCustomer.pass).toBeGreaterThan(50);
    expect(r.run.byOperation.listCustomers).toMatchObject({ fail: 0, error: 0, skipped: 0 });
    expect(r.run.byOperation.getAccount).toMatchObject({ pass: 0, skipped: 3 });
    expect(r.summary).toContain('no modern adapter serves getAccount in this config');
    expect(r.exitCode).toBe(0);
  }, 120_000);

  it('fails with a readable diff when a backend changes an answer', async () => {
    const drifted = await startModernCustomers({ driftEvery: 7 });
    const junit = join(out, 'junit.xml');
    const html = join(out, 'report.html');
    try {
      const r = await runReplay({
        against: 'modern',
        root: PROJECT_ROOT,
        env: { ...estate.env, CUSTOMERS_SERVICE_URL: drifted.url },
        paths: [join(RECORDINGS, 'getCustomer'), join(RECORDINGS, 'listCustomers')],
        junit,
        html,
        logger: quiet(),
      });
      expect(r.exitCode).toBe(1);
      const failing = r.run.results.filter((x) => x.outcome === 'fail');
      expect(failing.length).toBeGreaterThan(0);
      for (const f of failing) for (const d of f.differences) expect(d.path).toMatch(/^\$(\.items\[\d+\])?\.vip$/);
      const one = failing.find((f) => f.item.exchange.operationId === 'getCustomer');
      const id = Number(one?.item.exchange.request.path.split('/').pop());
      expect(id % 7).toBe(0);
      expect(r.summary).toMatch(new RegExp(`getCustomer\\s+GET /customers/${id}`));
      expect(r.summary).toMatch(/\$\.vip: recorded (true|false), replayed (true|false)/);
      expect(readFileSync(junit, 'utf8')).toMatch(/<failure message="1 difference from the recording">/);
      expect(readFileSync(html, 'utf8')).toContain(`GET /customers/${id}`);
    } finally {
      await drifted.close();
    }
  }, 120_000);

  it('is replayed by the CLI the same way (ficus replay --against legacy)', async () => {
    const junit = join(out, 'cli-junit.xml');
    const saved = { ...process.env };
    Object.assign(process.env, estate.env, { LOG_LEVEL: 'error' });
    try {
      const r = await ficus('replay', '--root', PROJECT_ROOT, '--against', 'legacy', '--junit', junit, '--no-progress', join(RECORDINGS, 'getCustomer'), join(RECORDINGS, 'listCustomers'));
      expect(r.stdout).toMatch(/Replayed \d+ exchanges against legacy/);
      expect(r.stdout).toContain('PASS: every replayed answer matches its recording.');
      expect(r.code).toBe(0);
      expect(readFileSync(junit, 'utf8')).toMatch(/<testsuites [^>]*failures="0" errors="0"/);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  }, 120_000);

  it('keeps the replay-sample fixture contract equal to the customers part of the project contract', () => {
    const project = Contract.load(join(PROJECT_ROOT, 'openapi.yaml'));
    const fixture = Contract.load(join(FIXTURES, 'replay-sample', 'openapi.yaml'));
    expect(fixture.operationIds.sort()).toEqual(['getCustomer', 'listCustomers']);
    for (const op of fixture.all()) {
      const p = project.operation(op.operationId);
      expect({ method: op.method, path: op.path, parameters: op.parameters, responses: op.responses }).toEqual({ method: p.method, path: p.path, parameters: p.parameters, responses: p.responses });
    }
  });
});
