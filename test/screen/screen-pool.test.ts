/**
 * The browser pool under trouble, with real headless Chromium: a browser killed mid-request, a
 * browser that hangs, a queue that is full, pages worn out, and a shutdown that leaves no browser
 * process behind.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { screenEstate, type ScreenEstate } from '../fixtures/screen-project.ts';
import { autogroupOf, autogroupsOn, groupNice } from '../helpers/autogroup.ts';
import { startGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';
import type { ScreenAdapter } from '../../src/kinds/screen/screen-adapter.ts';

let estate: ScreenEstate;
let gw: Awaited<ReturnType<typeof startGateway>>;
let adapter: ScreenAdapter;

const get = async (path: string) => {
  const r = await fetch(gw.url + path);
  return { status: r.status, headers: r.headers, body: (await r.json()) as Record<string, any> };
};

const until = (check: () => boolean, what?: string) => eventually(check, undefined, what, 20);

beforeAll(async () => {
  estate = await screenEstate(
    { delayMs: 5 },
    {
      BILLING_UI_PAGES: '2',
      BILLING_UI_QUEUE: '2',
      // Both pages may serve one operation, and waiting callers wait for them (the flood test covers the bounds).
      BILLING_UI_PAGES_PER_OPERATION: '2',
      BILLING_UI_QUEUE_TIMEOUT_MS: '60000',
      BILLING_UI_MAX_USES: '3',
      BILLING_UI_RETRIES: '0',
      // Generous: a cold browser on a busy 2-core machine takes seconds for its first page.
      BILLING_UI_TIMEOUT_MS: '20000',
      BILLING_UI_PROBE_MS: '2000',
      BILLING_UI_PROBE_INTERVAL_MS: '1000',
    },
  );
  gw = await startGateway(estate.dir, estate.env);
  adapter = gw.gateway.adapters.find((a) => a.name === 'billing-ui')!.adapter as ScreenAdapter;
});

afterAll(async () => {
  await gw?.close();
  await estate?.stop();
});

describe('the browser pool', () => {
  it("runs the browser below the gateway's CPU priority: every process and thread of it at niceness 10 (the default)", () => {
    const processes = adapter.pool!.browserProcesses();
    expect(processes.length).toBeGreaterThan(1);
    const nices = new Set<number>();
    for (const pid of processes) {
      let tids: string[] = [];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue; // a short-lived helper, gone meanwhile
      }
      for (const tid of tids) {
        try {
          const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
          nices.add(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
        } catch {
          // a thread ended meanwhile
        }
      }
    }
    expect([...nices]).toEqual([Math.min(19, getPriority() + 10)]);
    // Where the kernel groups processes by session for scheduling (autogroup), the browser's session
    // (Playwright starts it in one of its own) is a group at niceness 10 too: else that group would get
    // as much CPU as the gateway's. (Crashpad's handlers, idle, start sessions of their own.)
    if (autogroupsOn) {
      const groups = new Set<string>();
      for (const pid of processes) {
        try {
          if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'chromium') groups.add(autogroupOf(pid));
        } catch {
          // gone meanwhile
        }
      }
      expect(groups.size).toBe(1);
      expect(groupNice([...groups][0])).toBe(10);
    }
  });

  it('a browser killed mid-request fails only the requests in flight; a new browser serves the next ones', async () => {
    const pool = adapter.pool!;
    const before = pool.browser!;
    const oldProcesses = pool.browserProcesses();
    expect(oldProcesses.length).toBeGreaterThan(1);
    // The legacy app holds these two until their browser goes away: in flight however slow the machine.
    estate.legacy.setHang(/no=A00003[01]/);
    const inFlight = [get('/accounts/A000030'), get('/accounts/A000031')];
    await until(() => estate.legacy.stats.inFlight >= 2, 'both requests at the legacy app');
    for (const pid of oldProcesses) kill(pid);
    const failed = await Promise.all(inFlight);
    estate.legacy.setHang(undefined);
    for (const r of failed) {
      expect(r.status).toBe(502);
      expect(r.body.detail).toMatch(/browser went away/);
    }
    const next = await Promise.all(['A000032', 'A000033', 'A000034'].map((no) => get(`/accounts/${no}`)));
    expect(next.map((r) => [r.status, r.body.accountId])).toEqual([
      [200, 'A000032'],
      [200, 'A000033'],
      [200, 'A000034'],
    ]);
    expect(pool.stats().crashes).toBe(1);
    expect(pool.browser!.generation).toBeGreaterThan(before.generation);
    expect(pool.browser!.pid).not.toBe(before.pid);
    await until(() => oldProcesses.every((pid) => !isAlive(pid)), 'the old browser processes to exit');
  });

  it('a probe that fails because the browser is going away counts a crash, not a hung browser, however late its end is heard', async () => {
    const pool = adapter.pool!;
    const before = pool.browser!;
    const counted = pool.stats();
    // The browser stopped, then its server killed: the probe's connection closes at once while the
    // browser's main process still exists (stopped, so it cannot notice and exit yet), as a killed
    // browser's does for a moment on a busy machine.
    process.kill(before.pid!, 'SIGSTOP');
    const probed = pool.probe();
    process.kill(before.serverPid!, 'SIGKILL');
    expect(await probed).toBe(false);
    await until(() => pool.browser !== undefined && pool.browser.generation > before.generation, 'a new browser');
    expect(pool.stats().crashes).toBe(counted.crashes + 1);
    expect(pool.stats().hungReplaced).toBe(counted.hungReplaced);
    await until(() => !isAlive(before.pid!), 'the stopped browser to be ended');
    expect((await get('/accounts/A000035')).status).toBe(200);
  });

  it('a hung browser is found out by its probe, killed and replaced; only the request in flight fails', async () => {
    const pool = adapter.pool!;
    const before = pool.browser!;
    estate.legacy.setHang(/no=A000040/); // in flight until its browser is replaced, however slow the machine
    const inFlight = get('/accounts/A000040');
    await until(() => estate.legacy.stats.inFlight >= 1, 'the request at the legacy app');
    // The browser's main process (a child of the browser server's process, which relays the probe).
    const main = before.pid!;
    expect(pool.browserProcesses()).toContain(main);
    process.kill(main, 'SIGSTOP');
    const r = await inFlight;
    estate.legacy.setHang(undefined);
    expect(r.status).toBe(502);
    expect(r.body.detail).toMatch(/browser went away/);
    const next = await get('/accounts/A000041');
    expect(next.status).toBe(200);
    expect(next.body.accountId).toBe('A000041');
    expect(pool.stats().hungReplaced).toBe(1); // (the next test counts from here)
    expect(pool.browser!.pid).not.toBe(before.pid);
    await until(() => !isAlive(main), 'the hung browser to exit');
  });

  it('a hung browser is counted once, however many probes find it out before its end is heard', async () => {
    const pool = adapter.pool!;
    const before = pool.browser!;
    const counted = pool.stats().hungReplaced;
    process.kill(before.pid!, 'SIGSTOP');
    // Probes one after another, as the timer and a slow call ask them: the later ones find the browser
    // killed but not yet gone (its end is heard through the browser server's connection).
    for (let i = 0; i < 5; i++) expect(await pool.probe()).toBe(false);
    await until(() => pool.browser !== undefined && pool.browser.generation > before.generation, 'a new browser');
    expect(pool.stats().hungReplaced).toBe(counted + 1);
    expect((await get('/accounts/A000042')).status).toBe(200);
  });

  it('waiting callers are bounded: past the queue they get a 503 with Retry-After at once, and the rest are served', async () => {
    // Each answer takes 3 s, so all eight arrive while the first are served, even on a loaded machine.
    estate.legacy.setDelay(3_000);
    try {
      const nos = Array.from({ length: 8 }, (_, i) => `A${String(50 + i).padStart(6, '0')}`);
      const results = await Promise.all(nos.map((no) => get(`/accounts/${no}`)));
      const served = results.filter((r) => r.status === 200);
      const refused = results.filter((r) => r.status === 503);
      expect(served.length + refused.length).toBe(8);
      expect(served.length).toBeGreaterThanOrEqual(4); // two pages + two waiting
      expect(refused.length).toBeGreaterThanOrEqual(1);
      for (const r of refused) {
        expect(r.body.type).toBe('https://ficus.dev/problems/overloaded');
        expect(r.headers.get('retry-after')).toBe('1');
      }
      for (const r of served) expect(nos).toContain(r.body.accountId);
    } finally {
      estate.legacy.setDelay(5);
    }
  });

  it('pages are replaced after their number of uses, without the callers noticing', async () => {
    const pool = adapter.pool!;
    const recycled = pool.stats().pagesRecycled;
    for (const no of ['A000060', 'A000061', 'A000062', 'A000063']) expect((await get(`/accounts/${no}`)).body.accountId).toBe(no);
    expect(pool.stats().pagesRecycled).toBeGreaterThan(recycled);
    expect(pool.stats().pagesBusy + pool.stats().pagesIdle).toBeLessThanOrEqual(2);
  });

  it('reports its figures on /metrics', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/ficus_screen_pool\{adapter="billing-ui",figure="crashes"\} 2/); // the killed browser and the killed browser server above
    expect(text).toMatch(/ficus_screen_pool\{adapter="billing-ui",figure="hung_replaced"\} 2/); // the two hung-browser tests above
    expect(text).toMatch(/ficus_screen_pool\{adapter="billing-ui",figure="sign_ons"\} 1/);
  });

  it('shutting down leaves no browser process behind', async () => {
    const pool = adapter.pool!;
    expect(pool.leftoverProcesses().length).toBeGreaterThan(0);
    await gw.close();
    expect(pool.leftoverProcesses()).toEqual([]);
  });
});

/** SIGKILL; a short-lived helper process may already be gone. */
function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead too; its parent reaps it in its own time.
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
