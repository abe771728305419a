/**
 * Two gateway instances sharing one PostgreSQL state store (a database this test creates and drops):
 * the same idempotency key arriving at both at the same moment makes one write, and the outbox
 * shared by both instances' workers delivers every queued write exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrdersService, type OrdersService } from '../fixtures/writes-gateway/orders-service.ts';
import { eventually, newOrder, post, startWritesGateway, tempPgDatabase } from '../writes/writes-helpers.ts';

let db: Awaited<ReturnType<typeof tempPgDatabase>>;
let svc: OrdersService;

beforeAll(async () => {
  db = await tempPgDatabase('ficus_faults');
  svc = await startOrdersService();
});
afterAll(async () => {
  await svc?.close();
  await db?.drop();
});

async function twoInstances(env: Record<string, string>) {
  const common = { ORDERS_URL: svc.url, STATE_URL: db.url, ...env };
  // Started one after the other, as a rolling deploy would: the migrations run once.
  const a = await startWritesGateway(common, { file: 'ficus-pg.yaml' });
  const b = await startWritesGateway(common, { file: 'ficus-pg.yaml' });
  return { a, b, close: async () => Promise.all([a.close(), b.close()]) };
}

describe('two instances on one PostgreSQL', () => {
  it('the same key at both instances at the same moment: one write, one answer', async () => {
    const { a, b, close } = await twoInstances({ ORDERS_TIMEOUT_MS: '10000' });
    try {
      svc.delayMs = 150; // both requests are in flight together
      const postsBefore = svc.posts;
      const keys = Array.from({ length: 40 }, (_, i) => `twin-key-${String(i).padStart(4, '0')}`);
      const t0 = performance.now();
      const pairs = await Promise.all(keys.map((k, i) => Promise.all([post(`${a.url}/orders`, newOrder(100 + i), k), post(`${b.url}/orders`, newOrder(100 + i), k)])));
      const ms = performance.now() - t0;
      expect(svc.posts - postsBefore).toBe(keys.length);
      for (const [x, y] of pairs) {
        expect([x.status, y.status]).toEqual([201, 201]);
        expect(y.body).toEqual(x.body);
        // Exactly one of the two was served by the legacy system; the other got its stored answer.
        expect([x.headers.get('idempotent-replayed'), y.headers.get('idempotent-replayed')].filter((h) => h === 'true')).toHaveLength(1);
      }
      console.log(`two instances, ${keys.length} keys sent to both at once: ${svc.posts - postsBefore} writes, ${Math.round(ms)} ms`);
    } finally {
      svc.delayMs = 0;
      await close();
    }
  });

  it('both instances deliver from the shared outbox, each write exactly once', async () => {
    const { a, b, close } = await twoInstances({ ORDERS_ASYNC: 'true', OUTBOX_CONCURRENCY: '8' });
    try {
      const postsBefore = svc.posts;
      const n = 100; // five writes per customer over 20 customers: enough for both workers and for per-customer order
      svc.delayMs = 5;
      const t0 = performance.now();
      // Twenty customers at once; each customer's writes one after another (S-c, S-c+20, ...), so that
      // the order they were accepted in, which delivery must keep, is the order of their numbers.
      const chains = Array.from({ length: 20 }, async (_, c) => {
        const out = [];
        for (let i = c; i < n; i += 20) out.push(await post(`${(i % 2 === 0 ? a : b).url}/orders`, newOrder(1 + c, `S-${i}`), `shared-outbox-${i}`));
        return out;
      });
      const answers = (await Promise.all(chains)).flat();
      expect(answers.every((r) => r.status === 202)).toBe(true);
      const accepted = performance.now() - t0;
      try {
        await eventually(async () => (await a.gateway.writes.outbox.counts()).delivered === n, 60_000, `${n} deliveries`);
      } catch (e) {
        console.log(await a.gateway.writes.outbox.counts(), a.logLines.filter((l) => Number(l.level) >= 40).slice(0, 5), b.logLines.filter((l) => Number(l.level) >= 40).slice(0, 5));
        throw e;
      }
      expect(svc.posts - postsBefore).toBe(n);
      const keys = svc.orders.filter((o) => o.key.startsWith('shared-outbox-')).map((o) => o.key);
      expect(new Set(keys).size).toBe(n);
      // Per-customer order held across both workers.
      for (let c = 1; c <= 20; c++) {
        const refs = svc.orders.filter((o) => o.customerId === c && o.key.startsWith('shared-outbox-')).map((o) => Number(o.reference?.slice(2)));
        expect(refs).toEqual([...refs].sort((x, y) => x - y));
      }
      const deliveredBy = async (g: typeof a) =>
        Number(/ficus_outbox_deliveries_total\{operation="createOrder",outcome="delivered"\} (\d+)/.exec(await (await fetch(`${g.url}/metrics`)).text())?.[1] ?? 0);
      const [da, dbb] = [await deliveredBy(a), await deliveredBy(b)];
      expect(da + dbb).toBe(n);
      console.log(`shared outbox: ${n} writes accepted in ${Math.round(accepted)} ms, all delivered once each after ${Math.round(performance.now() - t0)} ms (instance A ${da}, instance B ${dbb})`);
    } finally {
      svc.delayMs = 0;
      await close();
    }
  }, 120_000);
});
