/**
 * Idempotency keys: a retried POST never writes twice, whatever the timing, and gets the first answer.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startOrdersService, type OrdersService } from '../fixtures/writes-gateway/orders-service.ts';
import { newOrder, post, startWritesGateway, tempDir } from './writes-helpers.ts';

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

describe('idempotency keys', () => {
  it('answers a retry with the first response and writes once', async () => {
    const g = await gateway();
    const first = await post(`${g.url}/orders`, newOrder(1001, 'PO-1'), 'key-retry-0001');
    const again = await post(`${g.url}/orders`, newOrder(1001, 'PO-1'), 'key-retry-0001');
    expect(first.status).toBe(201);
    expect(first.body.orderId).toBe('ORD-1');
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(svc.posts).toBe(1);
    const other = await post(`${g.url}/orders`, newOrder(1001, 'PO-1'), 'key-retry-0002');
    expect(other.body.orderId).toBe('ORD-2');
    expect(svc.posts).toBe(2);
  });

  it('refuses the same key with a different body with 422 and writes nothing more', async () => {
    const g = await gateway();
    await post(`${g.url}/orders`, newOrder(1001, 'PO-1'), 'key-reused-01');
    const reused = await post(`${g.url}/orders`, newOrder(1001, 'PO-2'), 'key-reused-01');
    expect(reused.status).toBe(422);
    expect(reused.headers.get('content-type')).toContain('application/problem+json');
    expect(reused.body.type).toBe('https://ficus.dev/problems/idempotency-key-reused');
    expect(String(reused.body.detail)).toContain('key-reused-01');
    expect(svc.posts).toBe(1);
  });

  it('treats bodies that differ only in key order as the same request', async () => {
    const g = await gateway();
    const a = await post(`${g.url}/orders`, { customerId: 7, reference: 'R', lines: [{ sku: 'HW-1042', quantity: 1 }] }, 'key-order-001');
    const b = await post(`${g.url}/orders`, { lines: [{ quantity: 1, sku: 'HW-1042' }], reference: 'R', customerId: 7 }, 'key-order-001');
    expect(b.status).toBe(a.status);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(svc.posts).toBe(1);
  });

  it('makes retries that arrive while the first is in flight wait for its answer: one write', async () => {
    const g = await gateway();
    let release!: () => void;
    svc.hold = new Promise<void>((r) => (release = r));
    const first = post(`${g.url}/orders`, newOrder(2002), 'key-parallel-1');
    await vi.waitFor(() => expect(svc.arrived).toBe(1), { timeout: 20_000, interval: 20 });
    const retries = Array.from({ length: 5 }, () => post(`${g.url}/orders`, newOrder(2002), 'key-parallel-1'));
    // The retries are in: they wait on the first (none reaches the service), then the service answers.
    await new Promise((r) => setTimeout(r, 100));
    expect(svc.arrived).toBe(1);
    svc.hold = null;
    release();
    const answers = await Promise.all([first, ...retries]);
    expect(svc.posts).toBe(1);
    expect(new Set(answers.map((a) => a.body.orderId))).toEqual(new Set(['ORD-1']));
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(5);
  });

  it('answers 409 with Retry-After when the first is still in flight after the wait', async () => {
    const g = await gateway({ IDEM_WAIT_MS: '100' });
    let release!: () => void;
    svc.hold = new Promise<void>((r) => (release = r));
    const first = post(`${g.url}/orders`, newOrder(3003), 'key-inflight-1');
    // The first is at the service (so its key is taken), and stays there until the second has its answer.
    await vi.waitFor(() => expect(svc.arrived).toBe(1), { timeout: 20_000, interval: 20 });
    const second = await post(`${g.url}/orders`, newOrder(3003), 'key-inflight-1');
    svc.hold = null;
    release();
    expect(second.status).toBe(409);
    expect(second.body.type).toBe('https://ficus.dev/problems/idempotency-key-in-flight');
    expect(second.headers.get('retry-after')).toBe('1');
    expect((await first).status).toBe(201);
    const third = await post(`${g.url}/orders`, newOrder(3003), 'key-inflight-1');
    expect(third.status).toBe(201);
    expect(third.body.orderId).toBe((await first).body.orderId);
    expect(svc.posts).toBe(1);
  });

  it('keeps a refusal (422 from the legacy system) and gives it to retries without asking again', async () => {
    const g = await gateway();
    svc.refuse.add(9999);
    const a = await post(`${g.url}/orders`, newOrder(9999), 'key-refused-1');
    const b = await post(`${g.url}/orders`, newOrder(9999), 'key-refused-1');
    expect(a.status).toBe(422);
    expect(a.body.detail).toBe('customer 9999 is closed');
    expect(b.status).toBe(422);
    expect(b.body.detail).toBe('customer 9999 is closed');
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(svc.posts).toBe(1);
  });

  it('lets a retry try again after a failure that wrote nothing (5xx)', async () => {
    const g = await gateway();
    svc.failNext = 1;
    const a = await post(`${g.url}/orders`, newOrder(4004), 'key-failed-01');
    expect(a.status).toBe(502);
    const b = await post(`${g.url}/orders`, newOrder(4004), 'key-failed-01');
    expect(b.status).toBe(201);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
    expect(svc.orders).toHaveLength(1);
  });

  it('forgets keys after their time to live', async () => {
    // Two seconds: the second call must come within the time to live even on a busy machine.
    const g = await gateway({ IDEM_TTL_S: '2' });
    await post(`${g.url}/orders`, newOrder(5005, 'A'), 'key-expiry-01');
    expect((await post(`${g.url}/orders`, newOrder(5005, 'B'), 'key-expiry-01')).status).toBe(422);
    await new Promise((r) => setTimeout(r, 2_100));
    const later = await post(`${g.url}/orders`, newOrder(5005, 'B'), 'key-expiry-01');
    expect(later.status).toBe(201);
    expect(later.headers.get('idempotent-replayed')).toBeNull();
  });

  it('remembers keys across a restart (SQLite file)', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.remove());
    const env = { STATE_FILE: `${tmp.dir}/state.sqlite` };
    const g1 = await startWritesGateway({ ORDERS_URL: svc.url, ...env });
    const first = await post(`${g1.url}/orders`, newOrder(6006), 'key-restart-1');
    await g1.close();
    const g2 = await gateway(env);
    const again = await post(`${g2.url}/orders`, newOrder(6006), 'key-restart-1');
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(svc.posts).toBe(1);
  });

  it('leaves requests without a key alone where the contract does not require one', async () => {
    const g = await gateway();
    const a = await post(`${g.url}/notes`, { text: 'hello' });
    const b = await post(`${g.url}/notes`, { text: 'hello' });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.id).not.toBe(b.body.id);
    const c = await post(`${g.url}/notes`, { text: 'keyed' }, 'note-key-001');
    const d = await post(`${g.url}/notes`, { text: 'keyed' }, 'note-key-001');
    expect(d.body).toEqual(c.body);
  });

  it('rejects a POST without the required key before anything is written', async () => {
    const g = await gateway();
    const res = await post(`${g.url}/orders`, newOrder(1));
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toMatch(/idempotency-key/i);
    expect(svc.posts).toBe(0);
  });
});
