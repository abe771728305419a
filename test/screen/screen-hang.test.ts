/**
 * Telling a hung browser from a busy machine, with real headless Chromium: a browser whose process
 * is frozen (SIGSTOP) is found out by its probe and replaced; a machine saturated by busy processes
 * slows the browser's answers past the probe window, and that is not taken for a hang.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BrowserPool } from '../../src/kinds/screen/browser-pool.ts';
import { testBrowserPool } from '../helpers/browser-pool.ts';

// Short windows, so that a busy machine makes many of them pass unanswered.
const PROBE_WINDOW_MS = 25;
const BUSY_MS = 6_000;

let pool: BrowserPool;
const children: ChildProcess[] = [];

beforeAll(async () => {
  pool = testBrowserPool({ probeTimeoutMs: PROBE_WINDOW_MS });

  await pool.warm(1);
}, 60_000);

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.pid !== undefined) kill(c.pid, 'SIGKILL');
});

afterAll(async () => {
  await pool?.close();
});

/** Busy loops, two per core (plus two), each ending by itself after `ms`. */
function saturate(ms: number): Promise<void> {
  const n = 2 * cpus().length + 2;
  const ended: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const c = spawn(process.execPath, ['-e', `const end = Date.now() + ${ms}; while (Date.now() < end) {}`], { stdio: 'ignore' });
    children.push(c);
    ended.push(new Promise((resolve) => c.once('exit', () => resolve())));
  }
  return Promise.all(ended).then(() => undefined);
}

describe('the hang detector', () => {
  it('does not replace a healthy browser on a machine saturated by busy processes', async () => {
    const before = pool.browser!;
    let busy = true;
    const load = saturate(BUSY_MS).finally(() => {
      busy = false;
    });
    const answers: boolean[] = [];
    // Probe for as long as the machine is busy (bounded by the busy loops' own end, and a count).
    while (busy && answers.length < 200) answers.push(await pool.probe());
    await load;
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((a) => a)).toBe(true);
    expect(pool.stats().hungReplaced).toBe(0);
    expect(pool.browser!.pid).toBe(before.pid);
    // The load was felt: windows passed unanswered, and were put down to the busy machine.
    expect(pool.stats().probesLate).toBeGreaterThan(0);
    expect(await pool.probe()).toBe(true);
  }, 60_000);

  it('finds out a frozen browser (SIGSTOP) and replaces it with a new one', async () => {
    const before = pool.browser!;
    expect(before.pid).toBeDefined();
    kill(before.pid!, 'SIGSTOP');
    try {
      expect(await pool.probe()).toBe(false);
      expect(pool.stats().hungReplaced).toBe(1);
      await vi.waitFor(() => expect(pool.browser?.pid).not.toBe(before.pid), { timeout: 30_000, interval: 50 });
      await vi.waitFor(async () => expect(await pool.probe()).toBe(true), { timeout: 30_000, interval: 100 });
      expect(pool.stats().hungReplaced).toBe(1);
    } finally {
      kill(before.pid!, 'SIGKILL');
    }
  }, 60_000);
});

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}
