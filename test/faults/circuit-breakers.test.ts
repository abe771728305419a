/**
 * Each legacy system made slow (longer than the timeout) and then down, through a TCP proxy or by
 * stopping it: the circuit opens, callers get fast 503s with Retry-After instead of waiting, and the
 * circuit closes again once the system is back. The figures are printed.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { PROJECT_ROOT, startGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';
import { createLegacyDatabase } from '../db/legacy-databases.ts';
import { makeProject, startMainframe } from '../sftp/support.ts';
import { screenEstate } from '../fixtures/screen-project.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Call {
  status: number;
  ms: number;
  type?: string;
  retryAfter: string | null;
}

type Caller = () => Promise<Call>;

function caller(url: string, init: () => RequestInit = () => ({})): Caller {
  return async () => {
    const t = performance.now();
    const res = await fetch(url, init());
    const body = (await res.json()) as { type?: string };
    return { status: res.status, ms: performance.now() - t, type: body.type?.replace(/.*\/problems\//, ''), retryAfter: res.headers.get('retry-after') };
  };
}

const ok = (c: Call) => c.status >= 200 && c.status < 300;

/** Calls until the circuit answers; returns the failures before it opened and the fast answers after. */
async function untilOpen(call: Caller, limit = 20): Promise<{ failures: Call[]; open: Call[] }> {
  const failures: Call[] = [];
  for (let i = 0; i < limit; i++) {
    const c = await call();
    if (c.type === 'circuit-open') {
      const openedAt = performance.now();
      const open = [c];
      for (let j = 0; j < 9; j++) {
        const next = await call();
        // After halfOpenAfterMs (1 s in these tests) one call is let through as a trial: on a busy
        // machine ten calls can take that long. Only then may an answer not be circuit-open.
        if (next.type !== 'circuit-open' && performance.now() - openedAt >= 1_000) break;
        open.push(next);
      }
      return { failures, open };
    }
    failures.push(c);
  }
  throw new Error(`the circuit did not open after ${limit} calls: ${JSON.stringify(failures.map((f) => [f.status, f.type]))}`);
}

async function untilClosed(call: Caller, timeoutMs = 30_000): Promise<number> {
  const t = performance.now();
  await eventually(async () => ok(await call()), timeoutMs, 'the circuit to close after the system came back', 100);
  return performance.now() - t;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Slow, back, down, back: checks and prints what callers saw. */
async function exercise(name: string, call: Caller, timeoutMs: number, faults: { slow(): Promise<void>; down(): Promise<void>; heal(): Promise<void> }) {
  await untilClosed(call, 60_000); // up and answering (the first call may start a browser or a connection pool)
  const lines: string[] = [];
  for (const fault of ['slow', 'down'] as const) {
    await faults[fault]();
    const { failures, open } = await untilOpen(call);
    for (const c of open) {
      expect(c.status).toBe(503);
      expect(c.type).toBe('circuit-open');
      expect(Number(c.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    if (fault === 'slow') for (const f of failures) expect(f.ms).toBeGreaterThanOrEqual(timeoutMs * 0.9);
    // Fast: the open circuit answers without waiting for the backend's timeout (a bound with room for a busy machine).
    expect(median(open.map((c) => c.ms))).toBeLessThan(timeoutMs / 2);
    await faults.heal();
    const closedAfter = await untilClosed(call);
    lines.push(
      `${name} ${fault}: ${failures.length} failures (${[...new Set(failures.map((f) => `${f.status} ${f.type}`))].join(', ')}; median ${Math.round(median(failures.map((f) => f.ms)))} ms), ` +
        `then circuit open: median ${median(open.map((c) => c.ms)).toFixed(1)} ms, Retry-After ${open[0].retryAfter} s; closed again ${Math.round(closedAfter)} ms after the system came back`,
    );
  }
  console.log(lines.join('\n'));
}

describe('circuit breakers in front of slow and down legacy systems', () => {
  it('the legacy database (PostgreSQL through a proxy)', async () => {
    const db = await createLegacyDatabase('postgres');
    cleanups.push(() => db.drop());
    const proxy = await startTcpProxy(5432);
    cleanups.push(() => proxy.close());
    const root = mkdtempSync(join(tmpdir(), 'ficus-faults-db-'));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const contract = parse(readFileSync(join(PROJECT_ROOT, 'openapi.yaml'), 'utf8')) as { paths: Record<string, unknown> };
    contract.paths = Object.fromEntries(Object.entries(contract.paths).filter(([p]) => p.startsWith('/customers')));
    writeFileSync(join(root, 'openapi.yaml'), stringify(contract));
    mkdirSync(join(root, 'adapters'));
    symlinkSync(join(PROJECT_ROOT, 'adapters', 'crm-db'), join(root, 'adapters', 'crm-db'));
    writeFileSync(
      join(root, 'ficus.yaml'),
      stringify({
        server: { port: 0, host: '127.0.0.1' },
        log: { level: 'silent' },
        state: { driver: 'sqlite', file: ':memory:' },
        admin: { enabled: false },
        policy: { circuitBreaker: { consecutiveFailures: 3, halfOpenAfterMs: 1000 } },
      }),
    );
    const url = new URL(db.env.CRM_DB_URL);
    url.port = String(proxy.port);
    const gw = await startGateway(root, { CRM_DB_DRIVER: 'postgres', CRM_DB_URL: url.toString(), CRM_DB_TIMEOUT_MS: '500', CRM_DB_STATEMENT_TIMEOUT_MS: '400' }, { level: 'silent' });
    cleanups.push(() => gw.close(500));
    const base = gw.url;
    await exercise('legacy database', caller(`${base}/customers/1001`), 500, proxyFaults(proxy));
  }, 90_000);

  it('the mainframe file drop (OpenSSH: slow through a proxy, down by stopping sshd)', async () => {
    const mainframe = await startMainframe('openssh', { replyDelayMs: 10 });
    cleanups.push(() => mainframe.stop());
    const sshd = mainframe.sshd!;
    const proxy = await startTcpProxy(sshd.port);
    cleanups.push(() => proxy.close());
    // No outbox for this route: the caller sees the breaker itself (with writes.routes.createOrder the write would be queued: 202).
    const project = makeProject({
      auth: 'key',
      adapterEdits: (t) => t.replace('role: legacy\n', 'role: legacy\npolicy:\n  timeoutMs: 800\n  circuitBreaker: { consecutiveFailures: 3, halfOpenAfterMs: 1000 }\n'),
    });
    cleanups.push(() => project.dispose());
    const knownHosts = join(project.root, 'known_hosts');
    writeFileSync(knownHosts, sshd.hostKeyLine.replace(`]:${sshd.port} `, `]:${proxy.port} `) + '\n');
    const gw = await startGateway(
      project.root,
      { ...mainframe.env, MAINFRAME_SFTP_PORT: String(proxy.port), MAINFRAME_SFTP_KNOWN_HOSTS: knownHosts, MAINFRAME_REPLY_TIMEOUT_MS: '200' },
      { level: 'silent' },
    );
    cleanups.push(() => gw.close(500));
    const base = gw.url;
    const sku = mainframe.catalogue.find((p) => p.status === 'active')?.sku ?? '';
    let n = 0;
    const call = caller(`${base}/orders`, () => ({
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `breaker-order-${++n}` },
      body: JSON.stringify({ customerId: 1001, lines: [{ sku, quantity: 1 }] }),
    }));
    await exercise('mainframe SFTP', call, 800, {
      slow: async () => proxy.setMode('slow'),
      down: async () => {
        proxy.setMode('pass');
        await sshd.stop();
      },
      heal: async () => {
        proxy.setMode('pass');
        if (!sshd.running) await sshd.start();
      },
    });
  }, 90_000);

  it('the legacy web app (driven in Chromium, through a proxy)', async () => {
    const estate = await screenEstate({ delayMs: 0 });
    cleanups.push(() => estate.stop());
    const proxy = await startTcpProxy(Number(new URL(estate.legacy.url).port));
    cleanups.push(() => proxy.close());
    // Chromium on a busy 2-core machine can take seconds per page: timeouts of 3-4 s, and "slow" is 8 s.
    proxy.delayMs = 8_000;
    writeFileSync(
      join(estate.dir, 'ficus.yaml'),
      stringify({
        server: { port: 0, host: '127.0.0.1' },
        log: { level: 'silent' },
        state: { driver: 'sqlite', file: ':memory:' },
        admin: { enabled: false },
        policy: { circuitBreaker: { consecutiveFailures: 3, halfOpenAfterMs: 1000 } },
      }),
    );
    const gw = await startGateway(
      estate.dir,
      {
        ...estate.env,
        LEGACY_BILLING_URL: `http://127.0.0.1:${proxy.port}`,
        BILLING_UI_PAGES: '2',
        BILLING_UI_RETRIES: '0',
        BILLING_UI_TIMEOUT_MS: '4000',
        BILLING_UI_NAVIGATION_MS: '3000',
        BILLING_UI_ACTION_MS: '3000',
      },
      { level: 'silent' },
    );
    cleanups.push(() => gw.close(500));
    const base = gw.url;
    await exercise('legacy web app', caller(`${base}/accounts/A000123`), 3000, proxyFaults(proxy));
  }, 180_000);
});

function proxyFaults(proxy: TcpProxy) {
  return {
    slow: async () => proxy.setMode('slow'),
    down: async () => proxy.setMode('down'),
    heal: async () => proxy.setMode('pass'),
  };
}
