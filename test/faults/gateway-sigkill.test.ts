/**
 * The gateway process killed with SIGKILL in the middle of delivering queued writes, then started
 * again: nothing accepted is lost (every 202 resolves) and the batch job processes each order once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/gateway.ts';
import { startMainframe, type Mainframe } from '../sftp/support.ts';
import { controlFileOrders, makeWritesProject, pool, postWithRetries } from './faults-support.ts';

const ORDERS = 200;
let mainframe: Mainframe;
let project: { root: string; dispose(): void };
const children: ChildProcess[] = [];

/** `ficus start` in its own process; resolves with its URL from the start-up banner. */
function startGatewayProcess(): Promise<{ url: string; proc: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/ficus.js'), 'start', '--root', project.root, '--port', '0', '--host', '127.0.0.1'], {
      env: { ...process.env, ...mainframe.env, MAINFRAME_REPLY_TIMEOUT_MS: '1000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(proc);
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`the gateway did not start within 30 s: ${out} ${err}`)), 30_000);
    proc.stdout?.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], proc });
      }
    });
    proc.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited (${code ?? signal}) before it listened: ${err}`));
    });
  });
}

function exited(proc: ChildProcess): Promise<void> {
  return proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', () => r()));
}

beforeAll(async () => {
  mainframe = await startMainframe('openssh', { replyDelayMs: 20, rejectRate: 0 });
  project = makeWritesProject({ async: true });
});

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await exited(c);
    }
  }
  await mainframe?.stop();
  project?.dispose();
});

describe('gateway killed mid-delivery', () => {
  it(`SIGKILL while ${ORDERS} queued orders are being delivered, then restart: none lost, none processed twice`, async () => {
    const skus = mainframe.catalogue.filter((p) => p.status === 'active').map((p) => p.sku);
    const first = await startGatewayProcess();
    let url = first.url;
    const deadline = Date.now() + 90_000;
    const outcomes = await pool(Array.from({ length: ORDERS }, (_, i) => i), 16, (i) =>
      postWithRetries(() => url, `kill-order-${String(i).padStart(4, '0')}`, { customerId: 2000 + (i % 30), reference: `K-${i}`, lines: [{ sku: skus[i % skus.length], quantity: 1 }] }, deadline),
    );
    expect(outcomes.every((o) => o.status === 202)).toBe(true);

    // Kill it while deliveries are under way: some orders are through, most are not.
    while (mainframe.job.ordersDecided < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const decidedAtKill = mainframe.job.ordersDecided;
    first.proc.kill('SIGKILL');
    await exited(first.proc);
    expect(first.proc.signalCode).toBe('SIGKILL');
    expect(decidedAtKill).toBeLessThan(ORDERS);

    const second = await startGatewayProcess();
    url = second.url;
    const pending = new Set(outcomes.map((o) => o.location));
    while (pending.size > 0 && Date.now() < deadline) {
      await pool([...pending], 16, async (loc) => {
        const res = await fetch(`${url}${loc}`);
        const body = (await res.json()) as { status?: string };
        if (res.status === 200 && body.status === 'accepted') pending.delete(loc);
      });
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(pending.size).toBe(0);
    const decided = controlFileOrders(mainframe.root);
    expect(decided.length).toBe(ORDERS);
    expect(new Set(decided).size).toBe(ORDERS);
    console.log(
      `SIGKILL after ${decidedAtKill}/${ORDERS} orders were processed; after the restart all ${ORDERS} resolved; ` +
        `batch job: ${decided.length} distinct orders, ${mainframe.job.filesProcessed - ORDERS} redelivered files absorbed by its control file`,
    );
    second.proc.kill('SIGTERM');
    await exited(second.proc);
    expect(second.proc.exitCode).toBe(0);
  }, 150_000);
});
