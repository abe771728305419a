/**
 * The write path with two workers (`ficus start --workers 2`): orders posted by clients that retry
 * with the same key while the worker running the singletons (outbox delivery and reply polling) is
 * killed with SIGKILL twice in the middle of delivering. Another worker takes the singletons over
 * (what the dead one held is handed back at once), the primary replaces the dead worker, nothing
 * accepted is lost (every 202 resolves to the mainframe's acceptance) and the batch job processes
 * each order exactly once. The kills are started by progress (orders decided), never by the clock.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, leaseOf, startCluster, whoServes, type RunningCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/wait.ts';
import { startMainframe, type Mainframe } from '../sftp/support.ts';
import { controlFileOrders, makeWritesProject, pool, postWithRetries } from './faults-support.ts';

const ORDERS = 300;
const KILLS = 2;
let mainframe: Mainframe;
let project: { root: string; dispose(): void };
let cluster: RunningCluster | undefined;
const killed: number[] = [];

beforeAll(async () => {
  mainframe = await startMainframe('openssh', { replyDelayMs: 20, rejectRate: 0 });
  project = makeWritesProject({ async: true });
});

afterAll(async () => {
  if (cluster && cluster.proc.exitCode === null && cluster.proc.signalCode === null) {
    cluster.proc.kill('SIGKILL');
    await cluster.exited;
  }
  for (const pid of cluster?.pids ?? []) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await mainframe?.stop();
  project?.dispose();
});

describe('the order storm with two workers: the singletons holder killed mid-delivery', () => {
  it(`${ORDERS} orders, the worker running the singletons killed ${KILLS} times: none lost, none processed twice`, async () => {
    cluster = await startCluster(['--root', project.root], { ...mainframe.env, MAINFRAME_REPLY_TIMEOUT_MS: '1000' }, 2);
    const c = cluster;
    const url = c.url;
    const stateFile = join(project.root, 'var', 'state.db');
    const deadline = Date.now() + 180_000;
    const decided = () => mainframe.job.ordersDecided;
    const skus = mainframe.catalogue.filter((p) => p.status === 'active').map((p) => p.sku);
    const wave = ORDERS / KILLS;
    const post = (from: number) =>
      pool(
        Array.from({ length: wave }, (_, i) => from + i),
        16,
        async (i) => {
          const key = `workers-order-${String(i).padStart(4, '0')}`;
          const order = { customerId: 3000 + (i % 20), reference: `W-${i}`, lines: [{ sku: skus[i % skus.length], quantity: 1 + (i % 3) }] };
          return postWithRetries(url, key, order, deadline);
        },
      );

    // One wave of orders per kill, posted once two workers serve (the one replacing the last victim
    // has started), and the holder killed a third of the way through the wave's deliveries.
    const waves: ReturnType<typeof post>[] = [];
    const takeovers: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      await eventually(
        async () => {
          const seen = new Set<number>();
          for (let i = 0; i < 6; i++) seen.add((await whoServes(url).catch(() => ({ pid: -1 }))).pid);
          seen.delete(-1);
          return seen.size === 2 && ![...seen].some((p) => killed.includes(p));
        },
        90_000,
        'two live workers',
        100,
      );
      waves.push(post(k * wave));
      const killAt = k * wave + Math.round(wave / 3);
      await eventually(() => decided() >= killAt, 120_000, `${killAt} orders to be decided`, 20);
      const holder = await eventually(() => leaseOf(stateFile), 30_000, 'a worker to hold the singletons lease');
      const at = Date.now();
      process.kill(holder.pid, 'SIGKILL');
      killed.push(holder.pid);
      expect(decided()).toBeLessThan((k + 1) * wave);
      const next = await eventually(
        () => {
          const l = leaseOf(stateFile);
          return l && l.pid !== holder.pid && !killed.includes(l.pid) ? l : undefined;
        },
        30_000,
        `another worker to take the singletons (output so far:\n${c.output().slice(-3000)})`,
        10,
      );
      takeovers.push(next.acquiredAt - at);
    }
    const outcomes = (await Promise.all(waves)).flat();
    expect(outcomes.every((o) => o.status === 202)).toBe(true);

    // Every caller's status resource resolves, to the mainframe's acceptance (asked of whichever worker answers).
    const pending = new Set(outcomes.map((o) => o.location));
    const notAccepted: string[] = [];
    while (pending.size > 0 && Date.now() < deadline) {
      await pool([...pending], 8, async (loc) => {
        // A keep-alive connection to a worker that was killed fails once: ask again on the next round.
        const res = await fetch(`${url}${loc}`)
          .then(async (r) => ({ status: r.status, body: (await r.json()) as { status?: string } }))
          .catch(() => undefined);
        if (!res) return;
        const body = res.body;
        if (res.status !== 200 || !body.status || body.status === 'pending') return;
        if (body.status !== 'accepted') notAccepted.push(`${loc}: ${JSON.stringify(body)}`);
        pending.delete(loc);
      });
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect([...pending]).toEqual([]);
    expect(notAccepted).toEqual([]);
    const orders = controlFileOrders(mainframe.root);
    expect(orders.length).toBe(ORDERS);
    expect(new Set(orders).size).toBe(ORDERS);
    expect(mainframe.job.ordersDecided).toBe(ORDERS);
    for (const pid of killed) expect(alive(pid)).toBe(false);
    console.log(
      `${ORDERS} orders with 2 workers: the singletons holder killed ${KILLS} times (pids ${killed.join(', ')}), taken over after ${takeovers.join(', ')} ms; ` +
        `batch job: ${orders.length} distinct orders, ${mainframe.job.filesProcessed - ORDERS} redelivered files absorbed by its control file`,
    );
    c.proc.kill('SIGTERM');
    expect(await c.exited, c.output().slice(-3000)).toEqual({ code: 0, signal: null });
  }, 300_000);
});
