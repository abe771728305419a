/**
 * The durable outbox: writes to a legacy system that is down, slow or declared asynchronous are
 * committed before the caller hears 202, delivered later with retries, in order per key, and the
 * status resource tells the caller what became of them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOrdersService, type OrdersService } from '../fixtures/writes-gateway/orders-service.ts';
import { eventually, get, metricValue, newOrder, post, startWritesGateway, tempDir } from './writes-helpers.ts';

let svc: OrdersService;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  svc = await startOrdersService();
  cleanups.push(() => svc.close());
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function gateway(env: Record<string, string> = {}) {
  const g = await startWritesGateway({ ORDERS_URL: svc.url, ...env });
  cleanups.push(() => g.close());
  return g;
}

async function statusOf(base: string, location: string) {
  return (await get(`${base}${location}`)).body;
}

describe('the outbox', () => {
  it('answers an asynchronous route with 202 and a status resource, then delivers', async () => {
    const g = await gateway({ ORDERS_ASYNC: 'true' });
    svc.delayMs = 200;
    const res = await post(`${g.url}/orders`, { ...newOrder(1001, 'PO-9'), requestedDelivery: '2030-01-02' }, 'async-key-001');
    expect(res.status).toBe(202);
    const location = res.headers.get('location') ?? '';
    expect(location).toMatch(/^\/orders\/[0-9a-f-]{36}$/);
    // The 202 carries what the Order schema allows of the request (requestedDelivery is not part of an Order).
    expect(res.body).toEqual({ orderId: location.slice(8), status: 'pending', customerId: 1001, reference: 'PO-9', lines: [{ sku: 'HW-1042', quantity: 3 }] });
    expect(await g.gateway.writes.outbox.get(location.slice(8))).toMatchObject({ state: expect.stringMatching(/pending|delivering/) });
    const pending = await statusOf(g.url, location);
    expect(pending.status).toBe('pending');
    const done = await eventually(
      async () => {
        const s = await statusOf(g.url, location);
        return s.status === 'accepted' ? s : undefined;
      },
      20_000,
      'the order to be accepted',
    );
    // The caller keeps its id; the legacy system's own status resource answered.
    expect(done).toMatchObject({ orderId: location.slice(8), status: 'accepted', customerId: 1001 });
    expect(svc.orders).toHaveLength(1);
    expect(svc.orders[0].key).toBe('async-key-001');
    // A retry of the POST gets the same 202 and does not queue the write again.
    const retry = await post(`${g.url}/orders`, { ...newOrder(1001, 'PO-9'), requestedDelivery: '2030-01-02' }, 'async-key-001');
    expect(retry.status).toBe(202);
    expect(retry.headers.get('location')).toBe(location);
    expect(await g.gateway.writes.outbox.counts()).toEqual({ delivered: 1 });
  });

  it('queues a write while the legacy system is down and delivers it when it is back', async () => {
    const g = await gateway();
    await svc.stop();
    const res = await post(`${g.url}/orders`, newOrder(2002), 'down-key-0001');
    expect(res.status).toBe(202);
    const location = res.headers.get('location') ?? '';
    expect((await statusOf(g.url, location)).status).toBe('pending');
    await new Promise((r) => setTimeout(r, 300));
    expect((await statusOf(g.url, location)).status).toBe('pending');
    await svc.start();
    await eventually(async () => (await statusOf(g.url, location)).status === 'accepted', 20_000, 'delivery after the service came back');
    expect(svc.orders.map((o) => o.customerId)).toEqual([2002]);
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metricValue(metrics, 'ficus_outbox_accepted_total', { operation: 'createOrder', why: 'down' })).toBe(1);
    expect(metricValue(metrics, 'ficus_outbox_deliveries_total', { operation: 'createOrder', outcome: 'delivered' })).toBe(1);
    expect(metricValue(metrics, 'ficus_outbox_pending')).toBe(0);
  });

  it('retries failed deliveries with backoff and records each attempt', async () => {
    const g = await gateway({ ORDERS_ASYNC: 'true' });
    svc.failNext = 2;
    const res = await post(`${g.url}/orders`, newOrder(3003), 'retry-key-001');
    const id = (res.headers.get('location') ?? '').slice(8);
    const entry = await eventually(
      async () => {
        const e = await g.gateway.writes.outbox.get(id);
        return e?.state === 'delivered' ? e : undefined;
      },
      20_000,
      'delivery after two failures',
    );
    expect(entry.attempts).toBe(3);
    expect(entry.errors.map((e) => e.attempt)).toEqual([1, 2]);
    expect(entry.errors[0].error).toContain('answered 500');
    expect(svc.orders).toHaveLength(1);
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metricValue(metrics, 'ficus_outbox_deliveries_total', { operation: 'createOrder', outcome: 'retry' })).toBe(2);
  });

  it('keeps writes for one key in order while others go ahead', async () => {
    const g = await gateway({ ORDERS_ASYNC: 'true', OUTBOX_MAX_ATTEMPTS: '100' });
    svc.failCustomer.add(1); // customer 1's writes fail until further notice
    for (let i = 1; i <= 4; i++) await post(`${g.url}/orders`, newOrder(1, `C1-${i}`), `order-key-c1-${i}`);
    await post(`${g.url}/orders`, newOrder(2, 'C2-1'), 'order-key-c2-1');
    // Customer 2 is not held up behind customer 1's failing write...
    await eventually(() => svc.orders.some((o) => o.customerId === 2), 20_000, "customer 2's order");
    // ...while customer 1's later writes wait behind its first: only C1-1 has been tried.
    await eventually(() => svc.attempts.filter((a) => a.customerId === 1).length >= 3, 20_000, "retries of customer 1's first write");
    expect(new Set(svc.attempts.filter((a) => a.customerId === 1).map((a) => a.reference))).toEqual(new Set(['C1-1']));
    svc.failCustomer.delete(1);
    await eventually(() => svc.orders.length === 5, 20_000, 'all five orders');
    expect(svc.orders.filter((o) => o.customerId === 1).map((o) => o.reference)).toEqual(['C1-1', 'C1-2', 'C1-3', 'C1-4']);
  });

  it('moves a write the legacy system refuses to the dead-letter queue at once; the status says failed', async () => {
    const g = await gateway({ ORDERS_ASYNC: 'true' });
    svc.refuse.add(9999);
    const res = await post(`${g.url}/orders`, newOrder(9999), 'refuse-key-01');
    const location = res.headers.get('location') ?? '';
    const failed = await eventually(
      async () => {
        const s = await statusOf(g.url, location);
        return s.status === 'failed' ? s : undefined;
      },
      20_000,
      'the write to fail',
    );
    expect(failed.rejection).toEqual({ code: 'REJECTED', reason: 'customer 9999 is closed' });
    const letter = await g.gateway.writes.deadLetters.get(location.slice(8));
    expect(letter).toMatchObject({ reason: 'rejected', attempts: 1, state: 'dead', source: 'outbox' });
    expect(svc.posts).toBe(1);
    const warn = g.logLines.find((l) => l.msg === 'write moved to the dead-letter queue');
    expect(warn).toMatchObject({ level: 40, deadLetter: location.slice(8), reason: 'rejected', operation: 'createOrder' });
  });

  it('gives up after the attempt budget and keeps every attempt error in the dead letter', async () => {
    const g = await gateway({ ORDERS_ASYNC: 'true', OUTBOX_MAX_ATTEMPTS: '3' });
    svc.failing = true;
    const res = await post(`${g.url}/orders`, newOrder(4004), 'exhaust-key-1');
    const id = (res.headers.get('location') ?? '').slice(8);
    const letter = await eventually(() => g.gateway.writes.deadLetters.get(id), 20_000, 'the dead letter');
    expect(letter.reason).toBe('exhausted');
    expect(letter.attempts).toBe(3);
    expect(letter.errors.map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(letter.errors.every((e) => e.status === 502)).toBe(true);
    expect((await statusOf(g.url, `/orders/${id}`)).rejection).toMatchObject({ code: 'UNDELIVERABLE' });
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metricValue(metrics, 'ficus_dlq_depth')).toBe(1);
    expect(metricValue(metrics, 'ficus_dlq_arrivals_total', { operation: 'createOrder', reason: 'exhausted' })).toBe(1);
    expect(metricValue(metrics, 'ficus_dlq_oldest_age_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('on shutdown finishes deliveries within the grace period and hands the rest back, losing nothing', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.remove());
    const env = { ORDERS_ASYNC: 'true', STATE_FILE: `${tmp.dir}/state.sqlite`, OUTBOX_GRACE_MS: '150', ORDERS_TIMEOUT_MS: '30000' };
    const g1 = await startWritesGateway({ ORDERS_URL: svc.url, ...env });
    // The service holds its answer far longer than the grace period (released only after the restart).
    let release!: () => void;
    svc.hold = new Promise<void>((r) => (release = r));
    const res = await post(`${g1.url}/orders`, newOrder(5005), 'shutdown-key-1');
    const id = (res.headers.get('location') ?? '').slice(8);
    await eventually(async () => (await g1.gateway.writes.outbox.get(id))?.state === 'delivering', 20_000, 'the delivery to start');
    const t0 = performance.now();
    await g1.close(100);
    // Generous, but far below the 30 s the delivery could take: the shutdown did not wait for it.
    expect(performance.now() - t0).toBeLessThan(10_000);
    svc.hold = null;
    release();
    const g2 = await gateway(env);
    await eventually(async () => (await g2.gateway.writes.outbox.get(id))?.state === 'delivered', 20_000, 'delivery by the next start');
    // The first attempt reached the service before the shutdown; the service de-duplicates by key.
    expect(svc.orders).toHaveLength(1);
  });
});
