/**
 * The order storm: 2,000 orders posted by clients that retry with the same key (one in five gives
 * up early on its first try, one in five sends its order again after the answer), while the gateway
 * process is killed with SIGKILL three times in the middle of delivering queued writes (and started
 * again) and the mainframe's OpenSSH server is stopped three times under the running gateway. Nothing
 * accepted is lost (every 202 resolves), no good order is turned into a rejection, and the batch job
 * processes each order exactly once. Every fault is started by progress and ended by an event (never
 * by the clock), so the storm has the same shape on a fast machine and on a loaded one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/gateway.ts';
import { startMainframe, type Mainframe } from '../sftp/support.ts';
import { controlFileOrders, makeWritesProject, pool, postWithRetries } from './faults-support.ts';

const ORDERS = 2_000;
const ROUNDS = 3;
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

/** A counter of the gateway's /metrics (summed over its labels that match `labels`), or 0 when it cannot be read. */
async function counter(url: string, name: string, labels: RegExp): Promise<number> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    let sum = 0;
    for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && labels.test(line)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    return sum;
  } catch {
    return 0;
  }
}

const until = async (what: string, cond: () => boolean | Promise<boolean>, deadline: number): Promise<void> => {
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('the order storm: gateway killed and SFTP server stopped mid-delivery', () => {
  it(`${ORDERS} orders, SIGKILL ${ROUNDS} times and OpenSSH stopped ${ROUNDS} times, clients retrying with the same key: none lost, none rejected, none processed twice`, async () => {
    const sshd = mainframe.sshd!;
    const skus = mainframe.catalogue.filter((p) => p.status === 'active').map((p) => p.sku);
    let gateway = await startGatewayProcess();
    let url = gateway.url;
    const deadline = Date.now() + 240_000;
    const decided = () => mainframe.job.ordersDecided;
    const kills: number[] = [];
    const outages: number[] = [];

    let resent = 0;
    const clients = pool(
      Array.from({ length: ORDERS }, (_, i) => i),
      24,
      async (i) => {
        const key = `storm-order-${String(i).padStart(5, '0')}`;
        const order = { customerId: 2000 + (i % 30), reference: `S-${i}`, lines: [{ sku: skus[i % skus.length], quantity: 1 + (i % 3) }] };
        const first = await postWithRetries(() => url, key, order, deadline, { firstTimeoutMs: i % 5 === 0 ? 40 : undefined });
        if (i % 5 === 1) {
          // Sent again after its answer (perhaps to the next gateway process): the same status resource.
          const again = await postWithRetries(() => url, key, order, deadline);
          expect(again.location).toBe(first.location);
          resent++;
        }
        return first;
      },
    );

    for (let round = 0; round < ROUNDS; round++) {
      // SIGKILL while deliveries are under way: some orders are through, most are not.
      const killAt = Math.round(((round * 2 + 1) * ORDERS) / (ROUNDS * 2 + 2));
      await until(`${killAt} orders are decided`, () => decided() >= killAt, deadline);
      kills.push(decided());
      gateway.proc.kill('SIGKILL');
      await exited(gateway.proc);
      expect(gateway.proc.signalCode).toBe('SIGKILL');
      gateway = await startGatewayProcess();
      url = gateway.url;

      // The SFTP server stopped under the new process once it delivers again, and started again once
      // that process has felt it (a delivery failed and was put back for later).
      const stopAt = decided() + Math.round(ORDERS / (ROUNDS * 4));
      await until(`the restarted gateway delivers (${stopAt} decided)`, () => decided() >= stopAt, deadline);
      const failedBefore = await counter(url, 'ficus_outbox_deliveries_total', /outcome="(retry|paused)"/);
      const down = performance.now();
      await sshd.stop();
      await until('a delivery failed during the outage', async () => (await counter(url, 'ficus_outbox_deliveries_total', /outcome="(retry|paused)"/)) > failedBefore, deadline);
      await sshd.start();
      outages.push(Math.round(performance.now() - down));
      expect(decided()).toBeLessThan(ORDERS);
    }
    const outcomes = await clients;
    expect(outcomes.every((o) => o.status === 202)).toBe(true);

    // Every caller's status resource resolves, to the mainframe's acceptance.
    const pending = new Set(outcomes.map((o) => o.location));
    const notAccepted: string[] = [];
    const lastSeen = new Map<string, string>();
    while (pending.size > 0 && Date.now() < deadline) {
      await pool([...pending], 16, async (loc) => {
        const res = await fetch(`${url}${loc}`);
        const body = (await res.json()) as { status?: string };
        lastSeen.set(loc, `${res.status} ${JSON.stringify(body)}`);
        if (res.status !== 200 || !body.status || body.status === 'pending') return;
        if (body.status !== 'accepted') notAccepted.push(`${loc}: ${JSON.stringify(body)}`);
        pending.delete(loc);
      });
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect([...pending].map((loc) => `${loc}: ${lastSeen.get(loc) ?? 'no answer'}`)).toEqual([]);
    expect(notAccepted).toEqual([]);
    const orders = controlFileOrders(mainframe.root);
    expect(orders.length).toBe(ORDERS);
    expect(new Set(orders).size).toBe(ORDERS);
    expect(mainframe.job.ordersDecided).toBe(ORDERS);
    expect(resent).toBe(ORDERS / 5);
    const tries = outcomes.reduce((n, o) => n + o.tries, 0);
    console.log(
      `${ORDERS} orders: SIGKILL after ${kills.join(', ')} were decided; OpenSSH down ${outages.length} times (${outages.join(', ')} ms); ` +
        `${tries - ORDERS} client retries, ${resent} orders sent again after their answer; all resolved; ` +
        `batch job: ${orders.length} distinct orders, ${mainframe.job.filesProcessed - ORDERS} redelivered files absorbed by its control file`,
    );
    gateway.proc.kill('SIGTERM');
    await exited(gateway.proc);
    expect(gateway.proc.exitCode).toBe(0);
  }, 300_000);
});
