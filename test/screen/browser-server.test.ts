/**
 * Playwright's server side out of the gateway's process (`connection.browserServer: process`, the
 * default): it runs in a child process of the gateway, at the browser's niceness, with Chromium as
 * its child; that process dying is a crash the pool recovers from; closing the pool, or the gateway
 * dying even by SIGKILL, leaves neither it nor any browser process behind. `inline` keeps today's
 * `chromium.launch()` in the gateway's own process. Real headless Chromium.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserPool, BrowserServerMode } from '../../src/kinds/screen/browser-pool.ts';
import { testBrowserPool } from '../helpers/browser-pool.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';

function makePool(browserServer: BrowserServerMode): BrowserPool {
  return testBrowserPool({ nice: 10, browserServer });
}

const statFields = (pid: number, tid = pid) => {
  const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
};
const parentOf = (pid: number) => Number(statFields(pid)[1]);
/** The niceness of every thread of a process. */
const nicesOf = (pid: number) => new Set(readdirSync(`/proc/${pid}/task`).map((tid) => Number(statFields(pid, Number(tid))[16])));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie is dead too; its parent reaps it in its own time.
    return statFields(pid)[0] !== 'Z';
  } catch {
    return false;
  }
}

const aPageWorks = (pool: BrowserPool) => pool.use(AbortSignal.timeout(30_000), (slot) => slot.page.evaluate(() => 6 * 7));

describe.skipIf(process.platform !== 'linux')('the browser server process (browserServer: process)', () => {
  let pool: BrowserPool;
  beforeAll(async () => {
    pool = makePool('process');
    await pool.warm(1);
  }, 60_000);
  afterAll(() => pool?.close());

  it("runs Playwright's server in a child process of the gateway, at the browser's niceness, with the browser as its child", async () => {
    const b = pool.browser!;
    expect(b.serverPid).toBeDefined();
    expect(b.serverPid).not.toBe(process.pid);
    expect(parentOf(b.serverPid!)).toBe(process.pid);
    expect(parentOf(b.pid!)).toBe(b.serverPid);
    // It is the browser side: listed (and so killed, and checked gone) with the browser's processes, below the gateway's priority.
    expect(pool.browserProcesses()).toEqual(expect.arrayContaining([b.serverPid, b.pid]));
    expect([...nicesOf(b.serverPid!)]).toEqual([Math.min(19, getPriority() + 10)]);
    expect(await aPageWorks(pool)).toBe(42);
  });

  it('a server process that dies is a crash: its browser goes with it, and the pool launches a new one', async () => {
    const before = pool.browser!;
    const old = pool.browserProcesses();
    process.kill(before.serverPid!, 'SIGKILL');
    await eventually(() => pool.stats().crashes === 1, undefined, 'the crash to be seen');
    await eventually(() => pool.browser !== undefined && pool.browser.serverPid !== before.serverPid, undefined, 'a new browser server');
    expect(pool.browser!.pid).not.toBe(before.pid);
    expect(await aPageWorks(pool)).toBe(42);
    expect(pool.stats()).toMatchObject({ launches: 2, crashes: 1, hungReplaced: 0 });
    await eventually(() => old.every((pid) => !isAlive(pid)), undefined, "the old server's browser to exit");
  });

  it('closing the pool leaves no browser and no server process', async () => {
    const b = pool.browser!;
    expect(pool.leftoverProcesses()).toContain(b.serverPid);
    await pool.close();
    expect(pool.leftoverProcesses()).toEqual([]);
    expect(isAlive(b.serverPid!)).toBe(false);
    expect(isAlive(b.pid!)).toBe(false);
  });
});

describe.skipIf(process.platform !== 'linux')('a gateway killed with SIGKILL', () => {
  it('leaves no server and no browser process: the server closes its browser when its channel to the gateway closes', async () => {
    // Started as bin/ficus.js starts the gateway: tsx registered in-process (so the server must be given tsx itself).
    const fixture = pathToFileURL(`${PROJECT_ROOT}test/fixtures/browser-server/pool-process.ts`).href;
    const gateway = spawn(process.execPath, ['--input-type=module', '-e', `import { register } from 'tsx/esm/api'; register(); await import(${JSON.stringify(fixture)});`], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    gateway.stdout.setEncoding('utf8');
    gateway.stdout.on('data', (s: string) => (out += s));
    try {
      const started = await eventually(
        () => out.includes('\n') && (JSON.parse(out) as { serverPid: number; browserPid: number; processes: number[] }),
        60_000,
        'the stand-in gateway to open its page',
      );
      expect(parentOf(started.serverPid)).toBe(gateway.pid);
      expect(parentOf(started.browserPid)).toBe(started.serverPid);
      gateway.kill('SIGKILL');
      await eventually(() => started.processes.every((pid) => !isAlive(pid)), undefined, 'the server and its browser to exit');
    } finally {
      gateway.kill('SIGKILL');
    }
  }, 90_000);
});

describe.skipIf(process.platform !== 'linux')('browserServer: inline', () => {
  it("launches the browser from the gateway's own process, with no server process", async () => {
    const pool = makePool('inline');
    try {
      await pool.warm(1);
      const b = pool.browser!;
      expect(b.serverPid).toBeUndefined();
      expect(parentOf(b.pid!)).toBe(process.pid);
      expect(await aPageWorks(pool)).toBe(42);
    } finally {
      await pool.close();
    }
    expect(pool.leftoverProcesses()).toEqual([]);
  }, 60_000);
});
