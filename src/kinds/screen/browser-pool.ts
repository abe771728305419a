/**
 * The browser pool of one screen adapter: one browser process, a bounded number of pages (each in
 * its own context, carrying the logged-in storage state) reused across requests, pages recycled
 * after a number of uses, and a browser that crashed (it went away) or hung (it did not answer a
 * probe) replaced by a new one, so that only the requests in flight at that moment fail.
 */
import { randomUUID } from 'node:crypto';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Logger } from '../../observability/logger.ts';
import { waitInQueue } from '../../resilience/binding-policy.ts';
import { Permits } from './permits.ts';
import { nicedBrowser } from './browser-priority.ts';
import { startBrowserServer, type BrowserServerProcess } from './browser-server-process.ts';
import { browserProcessTree, isRunning, killAll, mainProcess, processActivity, processesWithEnv, type ProcessActivity } from './process-tree.ts';

/** The environment variable that marks every process of one pool's browser. */
export const BROWSER_MARK = 'FICUS_BROWSER_ID';

/**
 * Where Playwright's server side (the dispatchers that drive Chromium) runs: `process`, in a child
 * process of the gateway that the pool connects to (browser-server.ts), so that its CPU is not taken
 * on the gateway's event loop; `inline`, in the gateway's own process, as `chromium.launch()` does.
 */
export type BrowserServerMode = 'process' | 'inline';

export type StorageState = Awaited<ReturnType<BrowserContext['storageState']>>;

export interface PoolOptions {
  executablePath: string;
  args: string[];
  /** Run the browser at this niceness (1–19), below the gateway's CPU priority; 0 or absent: at the gateway's own (browser-priority.ts). */
  nice?: number;
  /** Where Playwright's server runs (default `process`: a child process of the gateway's). */
  browserServer?: BrowserServerMode;
  /** Pages in use at once: the legacy system's concurrency limit. */
  size: number;
  /** Requests of one operation that may wait for a page; past that, they are refused at once. */
  queueLimit: number;
  /** Pages one operation may hold at once, so that a flood of it leaves pages for the others (default: size - 1, at least 1). */
  perOperation?: number;
  /** A page (and its context) is closed and replaced after this many flows. */
  maxUsesPerPage: number;
  /** The browser itself is replaced (gracefully) after this many flows; 0: never. */
  maxFlowsPerBrowser: number;
  launchTimeoutMs: number;
  actionTimeoutMs: number;
  navigationTimeoutMs: number;
  /**
   * A probe's window: a browser that leaves a probe unanswered for `HUNG_WINDOWS` windows in a row
   * while its process is stopped or idle (not on a CPU, not waiting for one) is hung.
   */
  probeTimeoutMs: number;
  /** Probe the browser this often while it runs (0: only after a flow was cut off). */
  probeIntervalMs: number;
  /** Start Playwright tracing on each context, so that a failed flow's trace can be saved. */
  trace: boolean;
  logger: Logger;
  /** The storage state new contexts start with, and its version. */
  session: () => { state: StorageState | undefined; version: number };
}

export interface Slot {
  readonly id: number;
  readonly context: BrowserContext;
  readonly page: Page;
  readonly generation: number;
  uses: number;
  sessionVersion: number;
  /** Set when the page may be in a bad state (cut off mid-flow): it is closed on release. */
  broken: boolean;
  /** Whether the browser this page belongs to is still connected. */
  browserAlive(): boolean;
}

export interface PoolStats {
  launches: number;
  /** Browsers that went away without being asked (crashed, killed). */
  crashes: number;
  /** Browsers the pool killed because they were hung. */
  hungReplaced: number;
  /** Probe windows that passed unanswered while the machine or the browser was busy (not counted as a hang). */
  probesLate: number;
  /** Browsers replaced, gracefully, after their number of flows. */
  browsersRotated: number;
  pagesCreated: number;
  pagesRecycled: number;
  pagesBusy: number;
  pagesIdle: number;
  waiting: number;
}

interface RunningBrowser {
  browser: Browser;
  /** The value of BROWSER_MARK in its processes' environment. */
  mark: string;
  pid: number | undefined;
  /** The process Playwright's server runs in, when not in this one. */
  server: BrowserServerProcess | undefined;
  generation: number;
  version: string;
  /** Set when the pool itself kills it (hung), so that its end is not counted as a crash. */
  killedAsHung?: boolean;
  /** Settles when its end is heard (Playwright's `disconnected`). */
  ended: Promise<void>;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
const TIMED_OUT = Symbol('timed out');
/** A browser server's own start-up (Node, and the sources through tsx), allowed on top of the launch timeout. */
const SERVER_START_MS = 15_000;

/** Probe windows in a row, unanswered while the browser's process was stopped or idle, that make it hung. */
export const HUNG_WINDOWS = 3;
/** However busy the machine, a browser that answers no probe for this long (or ten windows, if longer) is hung. */
const PROBE_GIVE_UP_MS = 30_000;

/**
 * How one unanswered probe window went: the browser's main process stopped (SIGSTOP, a debugger)
 * or idle (it neither ran nor waited for a CPU) means the browser did not even try; it ran, or
 * waited for a CPU, or this process's own event loop was late, means a busy machine. With
 * Playwright's server in a process of its own, that process is judged alongside the browser's: the
 * probe passes through it, and it may be the one stopped, or the one busy.
 */
function judgeWindow(pids: readonly number[], before: readonly (ProcessActivity | undefined)[], lateMs: number, windowMs: number): 'stopped' | 'idle' | 'busy' {
  if (lateMs > windowMs / 2) return 'busy';
  const after = pids.map((pid) => processActivity(pid));
  if (after.some((a) => a?.stopped)) return 'stopped';
  return after.some((a, i) => a !== undefined && before[i] !== undefined && (a.runnable || a.cpuNs > (before[i] as ProcessActivity).cpuNs)) ? 'busy' : 'idle';
}

/** The processes whose activity tells a hung browser from a busy one: its main process, and the server that relays to it. */
const watched = (b: RunningBrowser): number[] => [b.pid, b.server?.pid].filter((pid): pid is number => pid !== undefined);

export class PoolClosed extends Error {
  constructor() {
    super('the browser pool is shut down');
    this.name = 'PoolClosed';
  }
}

export class BrowserPool {
  private current: RunningBrowser | undefined;
  private launching: Promise<RunningBrowser> | undefined;
  private generation = 0;
  private nextSlotId = 1;
  private readonly idle: Slot[] = [];
  private readonly busy = new Set<Slot>();
  private readonly permits: Permits;
  private closed = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly started: { mark: string; pid: number | undefined }[] = [];
  private readonly counters = { launches: 0, crashes: 0, hungReplaced: 0, probesLate: 0, browsersRotated: 0, pagesCreated: 0, pagesRecycled: 0 };
  private probing: Promise<boolean> | undefined;
  private flowsOnCurrent = 0;
  private rotating = false;
  /** Browsers being replaced: closed once their last page is given back. */
  private readonly retiring = new Map<number, RunningBrowser>();
  /** Set once the browser could not be started at its niceness (and that was logged). */
  private niceRefused = false;

  constructor(private readonly opts: PoolOptions) {
    this.permits = new Permits(opts.size, opts.queueLimit, opts.perOperation);
    if (opts.probeIntervalMs > 0) {
      this.probeTimer = setInterval(() => {
        if (this.current && !this.launching) void this.probe();
      }, opts.probeIntervalMs);
      this.probeTimer.unref();
    }
  }

  stats(): PoolStats {
    return { ...this.counters, pagesBusy: this.busy.size, pagesIdle: this.idle.length, waiting: this.permits.waiting };
  }

  /** The running browser's version, main pid and the pid of the process Playwright's server runs in (undefined: this one), if one runs. */
  get browser(): { version: string; pid: number | undefined; serverPid: number | undefined; generation: number } | undefined {
    const c = this.current;
    return c ? { version: c.version, pid: c.pid, serverPid: c.server?.pid, generation: c.generation } : undefined;
  }

  /** Every live process of the running browser (main, zygotes, renderers, utilities, crash handlers, and the server's, if in a process of its own). */
  browserProcesses(): number[] {
    const c = this.current;
    return c === undefined ? [] : browserProcessTree(BROWSER_MARK, c.mark, c.pid);
  }

  /** Every live process of every browser this pool ever started: empty once it is closed. */
  leftoverProcesses(): number[] {
    return this.started.flatMap((b) => browserProcessTree(BROWSER_MARK, b.mark, b.pid));
  }

  /** Launches the browser and opens `pages` pages, so that the first callers do not pay for it. */
  async warm(pages: number): Promise<void> {
    await this.ensureBrowser();
    const n = Math.min(pages, this.opts.size) - this.idle.length - this.busy.size;
    const made = await Promise.all(Array.from({ length: Math.max(0, n) }, () => this.newSlot()));
    this.idle.push(...made);
  }

  /**
   * Runs `fn` with a page of its own; waits for one when all pages free to `operation` are busy,
   * bounded in number and in time: within an attempt of a binding's policy, by what is left of the
   * call's queue time (and that wait does not run down the attempt's timeout; see `waitInQueue`).
   */
  async use<T>(signal: AbortSignal, fn: (slot: Slot) => Promise<T>, operation = ''): Promise<T> {
    if (this.closed) throw new PoolClosed();
    await waitInQueue(signal, Number.POSITIVE_INFINITY, (maxWaitMs) => this.permits.acquire(signal, operation, maxWaitMs));
    let slot: Slot;
    try {
      slot = await this.takeSlot();
    } catch (err) {
      this.permits.release(operation);
      throw err;
    }
    try {
      return await fn(slot);
    } finally {
      this.giveBack(slot);
      this.permits.release(operation);
    }
  }

  /**
   * A flow was cut off (timeout, caller gone): close its page; if the browser cannot even do that
   * in time, it is hung and is replaced.
   */
  async abandon(slot: Slot): Promise<void> {
    slot.broken = true;
    // Slow to close is not hung by itself (a busy machine): the probe tells the two apart.
    await withTimeout(
      slot.context.close().then(
        () => true,
        () => true,
      ),
      2 * this.opts.probeTimeoutMs,
    );
    await this.probe();
  }

  /**
   * Asks the browser for its version over CDP, and waits for the answer window by window
   * (`probeTimeoutMs` each). A window without an answer counts towards a hang only when the
   * browser's main process was stopped or idle through it: a browser that runs, or waits for a
   * CPU, or a window this process itself was too busy to time, is a busy machine, not a hung
   * browser. `HUNG_WINDOWS` such windows in a row, or no answer at all for 30 s (or ten windows),
   * and the browser is hung and replaced. Concurrent callers share one probe.
   */
  probe(): Promise<boolean> {
    this.probing ??= this.runProbe().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private async runProbe(): Promise<boolean> {
    const c = this.current;
    if (!c) return false;
    const windowMs = this.opts.probeTimeoutMs;
    let answer: boolean | undefined;
    const asked = (async () => {
      const cdp = await c.browser.newBrowserCDPSession();
      await cdp.send('Browser.getVersion');
      await cdp.detach();
      return true;
    })().then(
      () => (answer = true),
      () => (answer = false),
    );
    const started = performance.now();
    const giveUpMs = Math.max(PROBE_GIVE_UP_MS, 10 * windowMs);
    let inARow = 0;
    for (;;) {
      const pids = watched(c);
      const before = pids.map((pid) => processActivity(pid));
      const t0 = performance.now();
      await withTimeout(asked, windowMs);
      // An answer already read from the browser but not yet handled is an answer: let I/O run once.
      if (answer === undefined) await new Promise((r) => setImmediate(r));
      if (answer === true) return true;
      if (c !== this.current) return false;
      if (answer === false) {
        // A probe refused (not left unanswered) is a browser going away: killed or crashed, and its
        // end counts it so. That end is heard a moment after the refusal (the connection closing),
        // and its process may take as long to exit on a busy machine: both are given one window.
        // A browser still connected and running after it refuses probes while alive: replaced.
        if ((await withTimeout(c.ended, windowMs)) !== TIMED_OUT) return false;
        if (c !== this.current) return false;
        if (c.pid !== undefined && !isRunning(c.pid)) return false;
        this.replace(c.generation, 'the probe failed');
        return false;
      }
      const verdict = judgeWindow(pids, before, performance.now() - t0 - windowMs, windowMs);
      if (verdict === 'busy') {
        inARow = 0;
        this.counters.probesLate++;
      } else inARow++;
      if (inARow >= HUNG_WINDOWS) {
        this.replace(c.generation, `it left a probe unanswered for ${HUNG_WINDOWS} windows of ${windowMs} ms in a row while its process was ${verdict === 'stopped' ? 'stopped' : 'idle'}`);
        return false;
      }
      if (performance.now() - started >= giveUpMs) {
        this.replace(c.generation, `it answered no probe for ${Math.round(giveUpMs)} ms`);
        return false;
      }
    }
  }

  /** Shuts the pool: waiting requests are refused, the browser closed, and none of its processes left. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.permits.rejectAll(new PoolClosed());
    const c = this.current ?? (this.launching ? await this.launching.catch(() => undefined) : undefined);
    this.current = undefined;
    for (const old of this.retiring.values()) void this.closeBrowser(old);
    this.retiring.clear();
    if (!c) return;
    await withTimeout(this.closeBrowser(c), 5_000);
    const deadline = Date.now() + 3_000;
    for (let left = this.leftoverProcesses(); left.length > 0 && Date.now() < deadline; left = this.leftoverProcesses()) {
      if (Date.now() > deadline - 2_500) killAll(left);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async takeSlot(): Promise<Slot> {
    while (this.idle.length > 0) {
      const s = this.idle.pop() as Slot;
      if (!s.broken && s.generation === this.current?.generation && s.browserAlive()) {
        this.busy.add(s);
        return s;
      }
      void s.context.close().catch(() => undefined);
    }
    const s = await this.newSlot();
    this.busy.add(s);
    return s;
  }

  private giveBack(slot: Slot): void {
    this.busy.delete(slot);
    slot.uses++;
    const worn = slot.uses >= this.opts.maxUsesPerPage;
    if (worn) this.counters.pagesRecycled++;
    if (slot.generation === this.current?.generation && ++this.flowsOnCurrent >= this.opts.maxFlowsPerBrowser && this.opts.maxFlowsPerBrowser > 0 && !this.rotating) {
      void this.rotate();
    }
    if (this.closed || slot.broken || worn || slot.generation !== this.current?.generation) {
      void slot.context.close().catch(() => undefined);
      this.closeIfDrained(slot.generation);
      return;
    }
    this.idle.push(slot);
  }

  /** Starts a fresh browser beside the current one; the old one is closed when its pages are given back. */
  private async rotate(): Promise<void> {
    const old = this.current;
    if (!old || this.closed) return;
    this.rotating = true;
    try {
      this.launching = this.launch();
      await this.launching;
      this.counters.browsersRotated++;
      this.flowsOnCurrent = 0;
      this.retiring.set(old.generation, old);
      for (const s of this.idle.splice(0)) void s.context.close().catch(() => undefined);
      this.opts.logger.info({ oldPid: old.pid, pid: this.current?.pid }, 'replaced the browser after its number of flows');
      this.closeIfDrained(old.generation);
      await this.warm(this.opts.size);
    } catch (err) {
      this.opts.logger.warn({ err }, 'could not start a fresh browser; keeping the current one');
    } finally {
      this.launching = undefined;
      this.rotating = false;
    }
  }

  private closeIfDrained(generation: number): void {
    const old = this.retiring.get(generation);
    if (!old || [...this.busy].some((s) => s.generation === generation)) return;
    this.retiring.delete(generation);
    void withTimeout(this.closeBrowser(old), 5_000).then(() => killAll(browserProcessTree(BROWSER_MARK, old.mark, old.pid)));
  }

  /** Closes a browser gracefully: its connection, then its server process (which closes the browser), if in one. */
  private async closeBrowser(b: RunningBrowser): Promise<void> {
    await b.browser.close().catch(() => undefined);
    if (!b.server) return;
    b.server.stop();
    await b.server.exited;
  }

  private async newSlot(): Promise<Slot> {
    const b = await this.ensureBrowser();
    const session = this.opts.session();
    const context = await b.browser.newContext({ storageState: session.state, javaScriptEnabled: true, serviceWorkers: 'block' });
    context.setDefaultTimeout(this.opts.actionTimeoutMs);
    context.setDefaultNavigationTimeout(this.opts.navigationTimeoutMs);
    // DOM snapshots only: a screencast would cost every flow time; the evidence has its own screenshot.
    if (this.opts.trace) await context.tracing.start({ screenshots: false, snapshots: true });
    const page = await context.newPage();
    this.counters.pagesCreated++;
    return { id: this.nextSlotId++, context, page, generation: b.generation, uses: 0, sessionVersion: session.version, broken: false, browserAlive: () => b.browser.isConnected() };
  }

  private ensureBrowser(): Promise<RunningBrowser> {
    if (this.closed) return Promise.reject(new PoolClosed());
    if (this.current?.browser.isConnected()) return Promise.resolve(this.current);
    this.launching ??= this.launch().finally(() => {
      this.launching = undefined;
    });
    return this.launching;
  }

  private async launch(): Promise<RunningBrowser> {
    const mark = randomUUID();
    const started = performance.now();
    const { browser, pid, server, niced } = this.opts.browserServer === 'inline' ? await this.launchInline(mark) : await this.launchServer(mark);
    const generation = ++this.generation;
    const running: RunningBrowser = { browser, mark, pid, server, generation, version: browser.version(), ended: new Promise<void>((resolve) => browser.once('disconnected', () => resolve())) };
    this.started.push({ mark, pid: running.pid });
    this.counters.launches++;
    browser.on('disconnected', () => this.onGone(running));
    if (this.closed) {
      await withTimeout(this.closeBrowser(running), 5_000);
      throw new PoolClosed();
    }
    this.current = running;
    this.opts.logger.info(
      {
        pid: running.pid,
        serverPid: server?.pid,
        version: running.version,
        executablePath: this.opts.executablePath,
        nice: niced ? this.opts.nice : 0,
        ms: Math.round(performance.now() - started),
      },
      'browser started',
    );
    return running;
  }

  /** Chromium launched by Playwright in this process (`browserServer: inline`). */
  private async launchInline(mark: string): Promise<{ browser: Browser; pid: number | undefined; server: undefined; niced: boolean }> {
    // Started through a launcher at its niceness, which is deleted once the browser runs (its
    // processes start their helpers from its own executable, not from the launcher).
    const launcher = this.launcher(this.opts.executablePath);
    const browser = await chromium
      .launch({
        executablePath: launcher?.executablePath ?? this.opts.executablePath,
        args: this.opts.args,
        env: { ...process.env, [BROWSER_MARK]: mark },
        headless: true,
        timeout: this.opts.launchTimeoutMs,
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
      })
      .finally(() => launcher?.remove());
    return { browser, pid: mainProcess(processesWithEnv(BROWSER_MARK, mark)), server: undefined, niced: launcher !== undefined };
  }

  /**
   * Chromium launched by Playwright's server in a child process (`browserServer: process`), and
   * this process connected to it. The server is started through the niceness launcher (Node at
   * the browser's niceness, without CAP_SYS_NICE), so that it and the browser it starts, which
   * inherits both, are "the browser side" below the gateway's priority; it carries the mark too, so
   * that the browser's process tree includes it (listed, killed, checked gone with the rest).
   */
  private async launchServer(mark: string): Promise<{ browser: Browser; pid: number | undefined; server: BrowserServerProcess; niced: boolean }> {
    const launcher = this.launcher(process.execPath);
    let server: BrowserServerProcess;
    try {
      server = await startBrowserServer({
        launch: { executablePath: this.opts.executablePath, args: this.opts.args, timeoutMs: this.opts.launchTimeoutMs, groupNice: launcher ? this.opts.nice : undefined },
        env: { ...process.env, [BROWSER_MARK]: mark },
        execPath: launcher?.executablePath,
        // Node's own start-up (loading the sources through tsx) comes before the browser's launch.
        timeoutMs: this.opts.launchTimeoutMs + SERVER_START_MS,
      });
    } catch (err) {
      killAll(browserProcessTree(BROWSER_MARK, mark, undefined));
      throw err;
    } finally {
      launcher?.remove();
    }
    try {
      const browser = await chromium.connect(server.wsEndpoint, { timeout: this.opts.launchTimeoutMs });
      return { browser, pid: server.browserPid, server, niced: launcher !== undefined };
    } catch (err) {
      killAll(browserProcessTree(BROWSER_MARK, mark, server.browserPid));
      throw err;
    }
  }

  /** A launcher that runs `executablePath` (the browser, or the Node its server runs in) at the browser's niceness, or undefined: none asked for, or none can be made (said once). */
  private launcher(executablePath: string): { executablePath: string; remove(): void } | undefined {
    const nice = this.opts.nice ?? 0;
    if (nice <= 0 || this.niceRefused) return undefined;
    const niced = nicedBrowser(executablePath, nice);
    if (niced.ok) return niced;
    this.niceRefused = true;
    this.opts.logger.warn({ reason: niced.reason }, `the browser runs at the gateway's CPU priority, not at niceness ${nice}: ${niced.reason}`);
    return undefined;
  }

  private onGone(gone: RunningBrowser): void {
    killAll(browserProcessTree(BROWSER_MARK, gone.mark, gone.pid));
    if (this.current !== gone) return;
    this.current = undefined;
    for (const s of this.idle.splice(0)) void s.context.close().catch(() => undefined);
    if (this.closed) return;
    if (!gone.killedAsHung) this.counters.crashes++;
    this.opts.logger.warn({ pid: gone.pid }, gone.killedAsHung ? 'the hung browser is gone; starting a new one' : 'the browser went away (crashed or killed); starting a new one');
    this.warm(1).catch((err: unknown) => this.opts.logger.error({ err }, 'could not start a new browser'));
  }

  private replace(generation: number, why: string): void {
    const c = this.current;
    // Once: until its end is heard (later with the browser server in a process of its own), another
    // probe of the same browser fails too and must not count it again.
    if (!c || c.generation !== generation || c.killedAsHung) return;
    this.counters.hungReplaced++;
    c.killedAsHung = true;
    this.opts.logger.warn({ pid: c.pid, why }, 'the browser is hung; killing it and starting a new one');
    killAll(browserProcessTree(BROWSER_MARK, c.mark, c.pid));
  }
}
