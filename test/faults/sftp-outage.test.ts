/**
 * 1,000 orders posted by clients that retry, while the mainframe's SFTP server (a real OpenSSH sshd)
 * is stopped and restarted several times: the batch job receives exactly 1,000 distinct orders,
 * none twice, and every caller's status resource resolves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gateway } from '../../src/gateway.ts';
import { memoryLogger } from '../helpers/gateway.ts';
import { startMainframe, type Mainframe } from '../sftp/support.ts';
import { controlFileOrders, makeWritesProject, pool, postWithRetries } from './faults-support.ts';

const ORDERS = 1_000;
let mainframe: Mainframe;
let project: { root: string; dispose(): void };
let gateway: Gateway;
let url: string;

beforeAll(async () => {
  mainframe = await startMainframe('openssh', { replyDelayMs: 20, rejectRate: 0 });
  project = makeWritesProject({ async: false });
  gateway = await Gateway.create({ root: project.root, env: { ...mainframe.env, MAINFRAME_REPLY_TIMEOUT_MS: '1500' }, logger: memoryLogger('warn').logger, processMetrics: false });
  url = await gateway.listen(0, '127.0.0.1');
});

afterAll(async () => {
  await gateway?.close(1_000);
  await mainframe?.stop();
  project?.dispose();
});

describe('SFTP server stopped and restarted under load', () => {
  it(`${ORDERS} orders with client retries: exactly ${ORDERS} distinct orders reach the batch job; every status resolves`, async () => {
    const sshd = mainframe.sshd!;
    const skus = mainframe.catalogue.filter((p) => p.status === 'active').map((p) => p.sku);
    const t0 = performance.now();
    const deadline = Date.now() + 240_000;
    let posting = true;
    let taken = 0;
    let queuedSince = 0;
    const outages: number[] = [];
    // Three outages, each started by progress (a quarter, a half, three quarters of the orders taken)
    // and ended once callers have felt it (orders taken into the outbox because the SFTP server was
    // down), not by the clock: the storm has the same shape on a fast machine and on a loaded one.
    const chaos = (async () => {
      for (let i = 1; i <= 3 && posting; i++) {
        while (posting && taken < (i * ORDERS) / 4) await new Promise((r) => setTimeout(r, 10));
        if (!posting) break;
        const down = performance.now();
        await sshd.stop();
        queuedSince = 0;
        while (posting && queuedSince < 10) await new Promise((r) => setTimeout(r, 10));
        await sshd.start();
        outages.push(Math.round(performance.now() - down));
      }
    })();
    let resent = 0;
    const outcomes = await pool(
      Array.from({ length: ORDERS }, (_, i) => i),
      24,
      async (i) => {
        const key = `fault-order-${String(i).padStart(5, '0')}`;
        const order = { customerId: 1000 + (i % 50), reference: `F-${i}`, lines: [{ sku: skus[i % skus.length], quantity: 1 + (i % 5) }] };
        // One caller in five gives up on its first try after 40 ms (as if the answer were lost) and retries.
        const first = await postWithRetries(url, key, order, deadline, { firstTimeoutMs: i % 5 === 0 ? 40 : undefined });
        if (first.status === 202) queuedSince++;
        taken++;
        if (i % 5 === 1) {
          // Another one in five sends its order again after the answer: it gets the same status resource.
          const again = await postWithRetries(url, key, order, deadline);
          expect(again.location).toBe(first.location);
          resent++;
        }
        return first;
      },
    );
    posting = false;
    await chaos;
    if (!sshd.running) await sshd.start();
    const postedMs = performance.now() - t0;

    // Every caller's status resource resolves to the mainframe's answer.
    const pending = new Set(outcomes.map((o) => o.location));
    const statuses = new Map<string, string>();
    const notAccepted: string[] = [];
    const lastSeen = new Map<string, string>();
    while (pending.size > 0 && Date.now() < deadline) {
      await pool([...pending], 16, async (loc) => {
        const res = await fetch(`${url}${loc}`);
        const body = (await res.json()) as { status?: string };
        lastSeen.set(loc, `${res.status} ${JSON.stringify(body)}`);
        if (res.status === 200 && body.status && body.status !== 'pending') {
          statuses.set(loc, body.status);
          if (body.status !== 'accepted') notAccepted.push(`${loc}: ${JSON.stringify(body)}`);
          pending.delete(loc);
        }
      });
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 50));
    }
    const resolvedMs = performance.now() - t0;
    expect([...pending].map((loc) => `${loc}: ${lastSeen.get(loc) ?? 'no answer'}`)).toEqual([]);
    // No good order is turned into a rejection by the outages (nor by the retries).
    expect(notAccepted).toEqual([]);
    expect([...statuses.values()].every((s) => s === 'accepted')).toBe(true);

    const decided = controlFileOrders(mainframe.root);
    expect(new Set(decided).size).toBe(ORDERS);
    expect(decided.length).toBe(ORDERS);
    expect(mainframe.job.ordersDecided).toBe(ORDERS);
    const tries = outcomes.reduce((n, o) => n + o.tries, 0);
    const queued = outcomes.filter((o) => o.status === 202).length;
    const counts = await gateway.writes.outbox.counts();
    console.log(
      `${ORDERS} orders, OpenSSH down ${outages.length} times (${outages.join(', ')} ms): all taken after ${Math.round(postedMs)} ms, ` +
        `${tries - ORDERS} client retries after failures or early give-ups, ${resent} orders sent again after their answer, ${queued} answered 202 (outbox ${JSON.stringify(counts)}); all resolved after ${Math.round(resolvedMs)} ms; ` +
        `batch job: ${decided.length} distinct orders, ${mainframe.job.filesProcessed - ORDERS} redelivered files absorbed by its control file`,
    );
    expect(outages.length).toBe(3);
    expect(resent).toBe(ORDERS / 5);
  }, 300_000);
});
