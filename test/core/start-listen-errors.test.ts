/**
 * `ficus start` when it cannot listen: a bad port (flag or environment) is refused, naming which,
 * before anything starts; a port in use is reported with its address and what to do, everything
 * started (sample estate, adapters, browser) is stopped, and the process exits non-zero instead of
 * hanging.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FIXTURES, PROJECT_ROOT, SAMPLE_SECURITY } from '../helpers/gateway.ts';

const FICUS = join(PROJECT_ROOT, 'bin/ficus.js');

interface Run {
  /** null when it had to be killed: it hung. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ficus …`; kills it (and reports code null) if it has not exited within `limitMs`. */
function ficus(args: string[], env: Record<string, string>, limitMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [FICUS, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: hung ? null : code, stdout, stderr });
    });
  });
}

let holder: Server;
let busyPort: number;
let dir: string;

beforeAll(async () => {
  holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  busyPort = (holder.address() as AddressInfo).port;
  dir = mkdtempSync(join(tmpdir(), 'ficus-listen-'));
});
afterAll(async () => {
  await new Promise<void>((resolve) => holder.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

const HTTP_FIXTURE = ['start', '--root', join(FIXTURES, 'http-gateway')];
const HTTP_ENV = { UPSTREAM_URL: 'http://127.0.0.1:9' };

describe('ficus start when it cannot listen', () => {
  it('refuses --port 99999 by name, before starting anything', async () => {
    const r = await ficus([...HTTP_FIXTURE, '--port', '99999'], HTTP_ENV, 30_000);
    expect(r.code).not.toBeNull();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("option '-p, --port <port>' argument '99999' is invalid");
    expect(r.stderr).toContain('0 to 65535');
  });

  it('refuses PORT=abc naming PORT, with exit code 78', async () => {
    const r = await ficus(HTTP_FIXTURE, { ...HTTP_ENV, PORT: 'abc' }, 30_000);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('PORT: "abc" is not a port');
    expect(r.stderr).toContain('fix: set PORT to a whole number from 0 to 65535');
  });

  it('reports a port in use with its address and what to do, and exits instead of hanging', async () => {
    const r = await ficus([...HTTP_FIXTURE, '--port', String(busyPort), '--host', '127.0.0.1'], HTTP_ENV, 60_000);
    expect(r.code, `it hung:\n${r.stderr}`).not.toBeNull();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`127.0.0.1:${busyPort} is already in use`);
    expect(r.stderr).toMatch(/choose another port with --port, PORT or server\.port/);
  }, 70_000);

  it('with --sample on a port in use: stops the sample estate, the adapters and the browser, removes its files, and exits', async () => {
    // The project's own config and adapters, with its state and the estate's files under a folder of this test.
    const config = join(dir, 'ficus.yaml');
    writeFileSync(
      config,
      stringify({
        contract: join(PROJECT_ROOT, 'openapi.yaml'),
        adaptersDir: join(PROJECT_ROOT, 'adapters'),
        server: { port: busyPort, host: '127.0.0.1' },
        log: { level: 'warn' },
        state: { driver: 'sqlite', file: join(dir, 'state.sqlite') },
        admin: { port: 0, host: '127.0.0.1' },
        recording: { dir: join(dir, 'recordings') },
        security: SAMPLE_SECURITY,
      }),
    );
    const r = await ficus(['start', '--sample', '--root', dir, '--config', config], { BILLING_UI_PROBE_INTERVAL_MS: '600000' }, 120_000);
    expect(r.code, `it hung:\n${r.stderr}`).not.toBeNull();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`127.0.0.1:${busyPort} is already in use`);
    // This run's folder of the sample estate is gone; nothing else was written there.
    expect(existsSync(join(dir, 'var', 'sample')) ? readdirSync(join(dir, 'var', 'sample')) : []).toEqual([]);
  }, 130_000);
});
