/**
 * The repository's recording of the sample estate's traffic (recordings/), replayed against the
 * sample estate: a change that breaks an answer fails here with a readable diff.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startModernCustomers } from '../../sample/modern-customers/server.ts';
import { Contract } from '../../src/contract/contract.ts';
import { runReplay } from '../../src/replay/run-replay.ts';
import { FIXTURES, memoryLogger, PROJECT_ROOT, startGateway } from '../helpers/gateway.ts';

const run = promisify(execFile);
const ROOT = join(FIXTURES, 'replay-sample');
const RECORDINGS = join(PROJECT_ROOT, 'recordings');
const out = mkdtempSync(join(tmpdir(), 'ficus-sample-replay-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the recording of the sample estate', () => {
  it('replays clean against the modern customers service', async () => {
    const svc = await startModernCustomers();
    try {
      const r = await runReplay({ against: 'modern', root: ROOT, env: { CUSTOMERS_SERVICE_URL: svc.url }, paths: [RECORDINGS], logger: memoryLogger('silent').logger });
      expect(r.run.bad).toEqual([]);
      expect(Object.keys(r.run.byOperation).sort()).toEqual(['getCustomer', 'listCustomers']);
      for (const [op, c] of Object.entries(r.run.byOperation)) {
        expect(c.pass, op).toBeGreaterThan(3);
        expect(c.fail + c.error, `${op}:\n${r.summary}`).toBe(0);
      }
      expect(r.run.results.some((x) => x.item.exchange.response.status === 404)).toBe(true);
      expect(r.exitCode).toBe(0);
    } finally {
      await svc.close();
    }
  });

  it('fails with a readable diff when the backend changes an answer', async () => {
    const drifted = await startModernCustomers({ driftEvery: 7 });
    const gw = await startGateway(ROOT, { CUSTOMERS_SERVICE_URL: drifted.url }, { level: 'silent' });
    const junit = join(out, 'junit.xml');
    const html = join(out, 'report.html');
    try {
      const r = await runReplay({ against: gw.url, root: ROOT, env: {}, paths: [RECORDINGS], junit, html });
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
      await gw.close();
      await drifted.close();
    }
  });

  it('is replayed by the CLI the same way (ficus replay --sample-estate --against modern)', async () => {
    const junit = join(out, 'cli-junit.xml');
    const r = await run(process.execPath, [join(PROJECT_ROOT, 'bin/ficus.js'), 'replay', '--root', ROOT, '--sample-estate', '--against', 'modern', '--junit', junit, '--no-progress', RECORDINGS], { cwd: PROJECT_ROOT });
    expect(r.stdout).toMatch(/Replayed \d+ exchanges against modern/);
    expect(r.stdout).toContain('PASS: every replayed answer matches its recording.');
    expect(readFileSync(junit, 'utf8')).toMatch(/failures="0" errors="0"/);
  }, 60_000);

  it('keeps the fixture contract equal to the customers part of the project contract', () => {
    const project = Contract.load(join(PROJECT_ROOT, 'openapi.yaml'));
    const fixture = Contract.load(join(ROOT, 'openapi.yaml'));
    expect(fixture.operationIds.sort()).toEqual(['getCustomer', 'listCustomers']);
    for (const op of fixture.all()) {
      const p = project.operation(op.operationId);
      expect({ method: op.method, path: op.path, parameters: op.parameters, responses: op.responses }).toEqual({ method: p.method, path: p.path, parameters: p.parameters, responses: p.responses });
    }
  });
});
