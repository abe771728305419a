/** `ficus routes …` against a running gateway's admin API: clear output, --json, exit codes. */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../fixtures/migration-gateway/backends.ts';
import { ALICE, startMigrationGateway, type MigrationGateway } from '../fixtures/migration-gateway/harness.ts';
import { main } from '../../src/cli/main.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

/** The real command, in its own process (as a user runs it). */
function ficusProcess(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(PROJECT_ROOT, 'bin/ficus.js'), ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/**
 * The same command run in this process (the program `ficus` builds, with its output captured): fast
 * enough to cover every case; the URL and token come from `env` as they would from the environment.
 */
async function ficus(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const saved = { url: process.env.FICUS_ADMIN_URL, token: process.env.FICUS_ADMIN_TOKEN };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  const set = (k: 'FICUS_ADMIN_URL' | 'FICUS_ADMIN_TOKEN', v: string | undefined) => (v === undefined ? delete process.env[k] : (process.env[k] = v));
  set('FICUS_ADMIN_URL', env.FICUS_ADMIN_URL);
  set('FICUS_ADMIN_TOKEN', env.FICUS_ADMIN_TOKEN);
  process.stdout.write = ((chunk: string) => ((out.stdout += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((out.stderr += chunk), true)) as typeof process.stderr.write;
  try {
    process.exitCode = undefined;
    await main(['node', 'ficus', ...args]);
    return { code: Number(process.exitCode ?? 0), ...out };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    process.exitCode = undefined;
    set('FICUS_ADMIN_URL', saved.url);
    set('FICUS_ADMIN_TOKEN', saved.token);
  }
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

  it('lists routes as a table (the real command, URL and token from the environment)', async () => {
    const table = await ficusProcess(['routes', 'list'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^OPERATION\s+MODE\s+LEGACY\s+MODERN/m);
    expect(table.stdout).toMatch(/^getCustomer\s+shadow\s+legacy-crm\s+modern-customers\s+0%\s+50%\s+2\s+-/m);
    expect(table.stdout).toMatch(/migration 0% done/);
  });

  it('shows the latest mismatches with their diffs, and as JSON for scripts', async () => {
    const r = await ficus(['routes', 'mismatches', 'getCustomer', '--limit', '5'], env);
    const json = await ficus(['routes', 'mismatches', 'getCustomer', '--json'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/GET \/customers\/1004 {2}\(request [0-9a-f-]+; legacy 200, modern 200\)\n {2}\$\.vip: legacy (true|false), modern (true|false)/);
    expect(r.stdout).toMatch(/GET \/customers\/1002/);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { mismatches: { request: string; differences: { path: string }[] }[] };
    expect(parsed.mismatches.map((m) => m.request)).toEqual(['GET /customers/1004', 'GET /customers/1002']);
    expect(parsed.mismatches[0].differences.map((d) => d.path)).toEqual(['$.vip']);
  });

  it("switches a mode with a reason, audited under the token's name", async () => {
    const r = await ficus(['routes', 'set', 'getCustomer', '--mode', 'canary', '--percent', '10', '--reason', 'match rate good enough'], env);
    expect(r).toMatchObject({ code: 0, stdout: 'getCustomer: shadow → canary 10%\n' });
    expect(g.gateway.routes.get('getCustomer')?.state).toEqual({ mode: 'canary', percent: 10 });
    const audit = await ficus(['routes', 'audit', 'getCustomer', '--limit', '1'], env);
    expect(audit.stdout).toMatch(/alice\s+getCustomer\s+mode: shadow → canary 10%\s+match rate good enough/);
  });

  it('exits 4 and changes nothing when the admin API refuses (a bad value, a wrong token)', async () => {
    const results = [
      await ficus(['routes', 'set', 'getLegacyOnly', '--mode', 'canary', '--percent', '150', '--reason', 'too far'], env),
      await ficus(['routes', 'set', 'getCustomer', '--mode', 'modern', '--reason', 'not me'], { ...env, FICUS_ADMIN_TOKEN: 'wrong-token-123' }),
      await ficus(['routes', 'set', 'getNothing', '--mode', 'modern', '--reason', 'nothing'], env),
      await ficus(['routes', 'set', 'getLegacyOnly', '--mode', 'modern', '--reason', 'cannot'], env),
    ];
    expect(results.map((r) => r.code)).toEqual([4, 4, 4, 4]);
    expect(results[2].stderr).toMatch(/404 Not found: no operation "getNothing"/);
    expect(results[3].stderr).toMatch(/409 .*has no modern binding/);
    expect(results[0].stderr).toMatch(/400 The request does not match the contract: body\.percent: percent must be from 0 to 100[\s\S]*nothing was changed/);
    expect(results[1].stderr).toMatch(/401 Unauthorized: unknown token/);
    expect(g.gateway.routes.get('getCustomer')?.state).toEqual({ mode: 'canary', percent: 10 });
  });

  it('exits 2 without a URL or token, 3 when the admin API cannot be reached', async () => {
    const closed = await startBackend();
    const closedUrl = closed.url;
    await closed.close();
    const noUrl = await ficus(['routes', 'list'], { FICUS_ADMIN_TOKEN: ALICE });
    const noToken = await ficus(['routes', 'list', '--url', g.adminUrl], {});
    const down = await ficus(['routes', 'list', '--url', closedUrl, '--token', ALICE], {});
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/set FICUS_ADMIN_TOKEN/);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/set FICUS_ADMIN_URL/);
    expect(down.code).toBe(3);
    expect(down.stderr).toBe(`ficus routes: cannot reach the admin API at ${closedUrl}: ECONNREFUSED\n`);
  });

  it('exits quietly with 0 when the reader of its output goes away (ficus routes list | head)', async () => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/ficus.js'), 'routes', 'list', '--json'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy(); // the reader is gone before the command (still loading) writes a byte
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    clearTimeout(timer);
    expect(stderr).toBe('');
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });
});
