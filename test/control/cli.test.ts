/** `ficus routes …` against a running gateway's admin API: clear output, --json, exit codes. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../fixtures/migration-gateway/backends.ts';
import { ALICE, startMigrationGateway, type MigrationGateway } from '../fixtures/migration-gateway/harness.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

function ficus(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(PROJECT_ROOT, 'bin/ficus.js'), ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('ficus routes', () => {
  let legacy: Backend;
  let modern: Backend;
  let g: MigrationGateway;
  let env: Record<string, string>;

  beforeAll(async () => {
    legacy = await startBackend();
    modern = await startBackend({ driftEvery: 2 });
    g = await startMigrationGateway({ env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url }, routes: { getCustomer: { mode: 'shadow' } } });
    env = { FICUS_ADMIN_URL: g.adminUrl, FICUS_ADMIN_TOKEN: ALICE };
    for (let id = 1001; id <= 1004; id++) await fetch(`${g.url}/customers/${id}`);
    await g.gateway.control.shadow.drain();
  });
  afterAll(async () => {
    await g?.close();
    await legacy?.close();
    await modern?.close();
  });

  it('lists routes as a table, and as JSON for scripts', async () => {
    const [table, json] = await Promise.all([ficus(['routes', 'list'], env), ficus(['routes', 'list', '--json'], env)]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^OPERATION\s+MODE\s+LEGACY\s+MODERN/m);
    expect(table.stdout).toMatch(/^getCustomer\s+shadow\s+legacy-crm\s+modern-customers\s+0%\s+50%\s+2\s+-/m);
    expect(table.stdout).toMatch(/migration 0% done/);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { routes: { operationId: string; shadow: { mismatched: number } }[] };
    expect(parsed.routes.find((r) => r.operationId === 'getCustomer')?.shadow.mismatched).toBe(2);
  });

  it('shows the latest mismatches with their diffs', async () => {
    const r = await ficus(['routes', 'mismatches', 'getCustomer', '--limit', '5'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/GET \/customers\/1004 {2}\(request [0-9a-f-]+; legacy 200, modern 200\)\n {2}\$\.vip: legacy (true|false), modern (true|false)/);
    expect(r.stdout).toMatch(/GET \/customers\/1002/);
  });

  it('switches a mode with a reason, audited under the token\'s name', async () => {
    const r = await ficus(['routes', 'set', 'getCustomer', '--mode', 'canary', '--percent', '10', '--reason', 'match rate good enough'], env);
    expect(r).toMatchObject({ code: 0, stdout: 'getCustomer: shadow → canary 10%\n' });
    expect(g.gateway.routes.get('getCustomer')?.state).toEqual({ mode: 'canary', percent: 10 });
    const audit = await ficus(['routes', 'audit', 'getCustomer', '--limit', '1'], env);
    expect(audit.stdout).toMatch(/alice\s+getCustomer\s+mode: shadow → canary 10%\s+match rate good enough/);
  });

  it('exits 4 and changes nothing when the admin API refuses (bad value, unknown route, no modern binding, wrong token)', async () => {
    const results = await Promise.all([
      ficus(['routes', 'set', 'getCustomer', '--mode', 'canary', '--percent', '150', '--reason', 'too far'], env),
      ficus(['routes', 'set', 'getNothing', '--mode', 'modern', '--reason', 'nothing'], env),
      ficus(['routes', 'set', 'getLegacyOnly', '--mode', 'modern', '--reason', 'cannot'], env),
      ficus(['routes', 'list'], { ...env, FICUS_ADMIN_TOKEN: 'wrong-token-123' }),
    ]);
    expect(results.map((r) => r.code)).toEqual([4, 4, 4, 4]);
    expect(results[0].stderr).toMatch(/400 .*body\.percent: percent must be from 0 to 100[\s\S]*nothing was changed/);
    expect(results[1].stderr).toMatch(/404 No such route: no operation "getNothing"/);
    expect(results[2].stderr).toMatch(/409 .*has no modern binding/);
    expect(results[3].stderr).toMatch(/401 Unknown token/);
    expect(g.gateway.routes.get('getCustomer')?.state).toEqual({ mode: 'canary', percent: 10 });
  });

  it('exits 2 without a URL or token, 3 when the admin API cannot be reached', async () => {
    const closed = await startBackend();
    const closedUrl = closed.url;
    await closed.close();
    const [noUrl, noToken, down] = await Promise.all([
      ficus(['routes', 'list'], { FICUS_ADMIN_TOKEN: ALICE }),
      ficus(['routes', 'list', '--url', g.adminUrl], {}),
      ficus(['routes', 'list', '--url', closedUrl, '--token', ALICE], {}),
    ]);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/set FICUS_ADMIN_URL/);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/set FICUS_ADMIN_TOKEN/);
    expect(down.code).toBe(3);
    expect(down.stderr).toBe(`ficus routes: cannot reach the admin API at ${closedUrl}: ECONNREFUSED\n`);
  });
});
