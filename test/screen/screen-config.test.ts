/**
 * Start-up and credentials: the gateway says which browser it drives or why it cannot, binding
 * mistakes name the file and key, and legacy credentials that are refused are the gateway's 502,
 * never the caller's fault.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Gateway } from '../../src/gateway.ts';
import { screenEstate, type ScreenEstate } from '../fixtures/screen-project.ts';
import { PROJECT_ROOT, memoryLogger, startGateway } from '../helpers/gateway.ts';
import type { ScreenAdapter } from '../../src/kinds/screen/screen-adapter.ts';

const estates: ScreenEstate[] = [];
afterAll(async () => {
  for (const e of estates) await e.stop();
});

async function estate(env: Record<string, string> = {}) {
  const e = await screenEstate({}, { BILLING_UI_PAGES: '1', BILLING_UI_RETRIES: '0', ...env });
  estates.push(e);
  return e;
}

describe('start-up', () => {
  it('refuses to start when the configured browser does not exist, saying where it looked and how to fix it', async () => {
    const e = await estate({ FICUS_CHROMIUM: '/nonexistent/chromium' });
    const err = await Gateway.create({ root: e.dir, env: e.env, logger: memoryLogger().logger, processMetrics: false }).then(
      () => undefined,
      (x: unknown) => x as Error,
    );
    expect(err?.message).toContain('connection.executablePath: connection.executablePath /nonexistent/chromium does not exist');
    expect(err?.message).toContain('apt-get install chromium');
  });

  it('refuses a connection.browserServer other than process or inline, naming the key', async () => {
    const e = await estate({ BILLING_UI_BROWSER_SERVER: 'thread' });
    const err = await Gateway.create({ root: e.dir, env: e.env, logger: memoryLogger().logger, processMetrics: false }).then(
      () => undefined,
      (x: unknown) => x as Error,
    );
    expect(err?.message).toContain('connection.browserServer');
    expect(err?.message).toContain('"process"');
  });

  it('says at start-up which browser it found', async () => {
    const e = await estate();
    const gw = await startGateway(e.dir, e.env);
    try {
      const found = gw.logLines.find((l) => typeof l.msg === 'string' && l.msg.includes('using the browser at'));
      expect(found?.executablePath).toMatch(/chromium|chrome/);
      const started = gw.logLines.find((l) => l.msg === 'browser started');
      expect(started?.version).toMatch(/^\d+\./);
      const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { adapters: Record<string, { ok: boolean; detail: string }> };
      expect(ready.adapters['billing-ui']).toMatchObject({ ok: true, detail: expect.stringMatching(/^Chromium \d+/) });
    } finally {
      await gw.close();
    }
  });

  it('names the file and key of a binding whose flow is missing or whose mapping reads a field the flow does not return', async () => {
    const e = await estate();
    const dir = join(e.dir, 'adapters', 'billing-ui');
    rmSync(dir);
    mkdirSync(dir);
    symlinkSync(join(PROJECT_ROOT, 'adapters/billing-ui/flows'), join(dir, 'flows'), 'dir');
    const yaml = readFileSync(join(PROJECT_ROOT, 'adapters/billing-ui/adapter.yaml'), 'utf8')
      .replace('flow: flows/search-accounts.ts', 'flow: flows/no-such-flow.ts')
      .replace(
        'name: holder\n      status: { from: status, values: { OPEN: open, OVERDUE: overdue, CLOSED: closed } }\n      balance',
        'name: holderName\n      status: { from: status, values: { OPEN: open, OVERDUE: overdue, CLOSED: closed } }\n      balance',
      );
    writeFileSync(join(dir, 'adapter.yaml'), yaml);
    const err = await Gateway.create({ root: e.dir, env: e.env, logger: memoryLogger().logger, processMetrics: false }).then(
      () => undefined,
      (x: unknown) => x as Error,
    );
    expect(err?.message).toContain('operations.searchAccounts.flow: flows/no-such-flow.ts does not exist');
    expect(err?.message).toMatch(/operations\.getAccount\.output\.name: the flow returns no field "holderName" \(flows\/get-account\.ts\)/);
    expect(err?.message).toContain("fix: use one of the flow's fields: accountNo, holder");
  });
});

describe('browser rotation', () => {
  it('replaces the browser after its number of flows without failing a request, and closes the old one', async () => {
    const e = await estate({ BILLING_UI_MAX_FLOWS_PER_BROWSER: '3' });
    const gw = await startGateway(e.dir, e.env);
    try {
      const pool = (gw.gateway.adapters[0].adapter as ScreenAdapter).pool!;
      const first = pool.browser!.pid;
      for (let i = 1; i <= 7; i++) {
        const r = await fetch(`${gw.url}/accounts/A00000${i}`);
        expect(r.status).toBe(200);
      }
      // The fresh browser starts in the background (the requests meanwhile go to the old one): wait for it.
      await vi.waitFor(() => expect(pool.stats().browsersRotated).toBeGreaterThanOrEqual(1), { timeout: 60_000, interval: 50 });
      expect(pool.browser!.pid).not.toBe(first);
      // Every process left is the current browser's. Which browser is current is read at each check:
      // a rotation still under way (they run in the background) replaces it, and the current browser
      // may start more processes of its own meanwhile.
      const notCurrent = () => {
        const current = new Set(pool.browserProcesses());
        return pool.leftoverProcesses().filter((pid) => !current.has(pid));
      };
      await vi.waitFor(() => expect(notCurrent()).toEqual([]), { timeout: 30_000, interval: 50 });
      expect(e.legacy.stats.logins).toBe(1); // the new browsers carry the session
    } finally {
      await gw.close();
    }
  });
});

describe('legacy credentials', () => {
  it('refused credentials are a 502 about the gateway’s own credentials; sign-on is not hammered', async () => {
    const e = await estate({ BILLING_UI_PASSWORD: 'wrong-password' });
    const gw = await startGateway(e.dir, e.env);
    try {
      expect(e.legacy.stats.failedLogins).toBe(1); // the warm-up
      const ready = await fetch(`${gw.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { detail: string }).detail).toContain('refused the gateway\'s credentials: "Invalid user ID or password."');
      for (const no of ['A000001', 'A000002']) {
        const r = await fetch(`${gw.url}/accounts/${no}`);
        const body = (await r.json()) as Record<string, string>;
        expect(r.status).toBe(502);
        expect(body.type).toBe('https://ficus.dev/problems/upstream-credentials');
        expect(body.title).toBe("The gateway's credentials for the legacy system were refused");
        expect(body.detail).toContain('not the caller');
        expect(body.detail).toContain('Invalid user ID or password.');
        expect(body.detail).not.toContain('wrong-password');
      }
      // Within the back-off the gateway does not try again, so as not to lock the legacy user out.
      expect(e.legacy.stats.failedLogins).toBe(1);
      expect(e.legacy.stats.logins).toBe(0);
    } finally {
      await gw.close();
    }
  });
});
