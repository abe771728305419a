import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';
import { startUpstream } from '../fixtures/upstream-server.ts';

const ROOT = join(FIXTURES, 'http-gateway');

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('the http kind against a real local service', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  beforeAll(async () => {
    upstream = await startUpstream();
    gw = await startGateway(ROOT, { UPSTREAM_URL: upstream.url });
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('maps path and query parameters onto the upstream call', async () => {
    const res = await fetch(`${gw.url}/customers?limit=5&updatedSince=2024-01-01T00:00:00Z`);
    expect(res.status).toBe(200);
    expect(res.headers.get('ficus-backend')).toBe('legacy');
    const body = (await res.json()) as { echo: Record<string, string> };
    expect(body.echo).toEqual({ limit: '5', updatedSince: '2024-01-01T00:00:00Z' });
  });

  it('passes the body of a POST and answers with the upstream status', async () => {
    const res = await fetch(`${gw.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'call back' }) });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ text: 'call back' });
    expect(JSON.parse(upstream.control.seen.at(-1)!.body)).toEqual({ text: 'call back' });
  });

  it('passes an upstream 404 through as a not-found problem with the upstream’s words', async () => {
    const res = await fetch(`${gw.url}/customers/404`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(await res.json()).toMatchObject({ type: 'https://ficus.dev/problems/not-found', detail: 'no customer 404 in the CRM' });
  });

  it('answers 504 when the upstream is slower than the timeout, and does not hang', async () => {
    const t0 = Date.now();
    const res = await fetch(`${gw.url}/slow/60000`);
    expect(res.status).toBe(504);
    expect(((await res.json()) as { type: string }).type).toBe('https://ficus.dev/problems/upstream-timeout');
    // The timeout is 3 s, the upstream would take a minute: a generous bound still tells them apart.
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('retries a safe call that failed, with backoff, and succeeds', async () => {
    upstream.control.failNext = 2;
    const before = upstream.callsTo('/flaky');
    const res = await fetch(`${gw.url}/flaky`);
    expect(res.status).toBe(200);
    expect(upstream.callsTo('/flaky') - before).toBe(3);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/ficus_adapter_retries_total\{adapter="upstream",operation="getFlaky"\} 2/);
  });

  it('never retries an unsafe call by default: one failed POST is one upstream call', async () => {
    upstream.control.failNext = 1;
    const before = upstream.callsTo('/notes');
    const res = await fetch(`${gw.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'once' }) });
    expect(res.status).toBe(502);
    expect(upstream.callsTo('/notes') - before).toBe(1);
  });

  it('bounds concurrency: calls past the limit and its queue get 503 at once, the rest are served', async () => {
    // getSlow: limit 4, queue 2 (fixture adapter policy). /slow/1 is held by the upstream until released.
    let rejectedEarly = 0;
    const calls = Array.from({ length: 10 }, () =>
      fetch(`${gw.url}/slow/1`).then(async (r) => {
        if (r.status === 503) rejectedEarly++;
        return { status: r.status, body: (await r.json()) as { type?: string } };
      }),
    );
    const until = (cond: () => boolean) => eventually(cond, undefined, undefined, 5);
    // With 4 held upstream and 2 queued, the other 4 are refused without waiting for anything.
    await until(() => upstream.control.held.length === 4 && rejectedEarly === 4);
    expect(upstream.control.held).toHaveLength(4);
    expect(rejectedEarly).toBe(4);
    upstream.release();
    await until(() => upstream.control.held.length === 2);
    upstream.release();
    const results = await Promise.all(calls);
    const rejected = results.filter((r) => r.status === 503);
    expect(results.filter((r) => r.status === 200)).toHaveLength(6);
    expect(rejected).toHaveLength(4);
    expect(rejected[0].body.type).toBe('https://ficus.dev/problems/overloaded');
    expect(upstream.callsTo('/slow/1')).toBe(6);
  });

  it('opens the circuit after repeated failures (fast 503 with Retry-After) and closes it when the service is back', async () => {
    upstream.control.down = true;
    const first = await fetch(`${gw.url}/flaky`); // 3 attempts fail: the breaker (3 in a row) opens
    expect(first.status).toBe(502);
    const callsWhenOpen = upstream.callsTo('/flaky');
    const open = await fetch(`${gw.url}/flaky`);
    expect(open.status).toBe(503);
    expect(open.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await open.json()) as { type: string }).type).toBe('https://ficus.dev/problems/circuit-open');
    expect(upstream.callsTo('/flaky')).toBe(callsWhenOpen); // fast: the open circuit answers without calling the service
    let metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/ficus_circuit_state\{adapter="upstream",operation="getFlaky"\} 1/);

    upstream.control.down = false;
    // halfOpenAfterMs: 2000 (long enough that the circuit is still open for the call above on a busy
    // machine); then the next call is the trial, and it closes the circuit.
    await vi.waitFor(async () => expect((await fetch(`${gw.url}/flaky`)).status).toBe(200), { timeout: 20_000, interval: 100 });
    metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/ficus_circuit_state\{adapter="upstream",operation="getFlaky"\} 0/);
  });
});

describe('callers that go away', () => {
  it('are not backend failures: the circuit stays closed, nothing is retried, and the next caller is served', async () => {
    const upstream = await startUpstream();
    const gw = await startGateway(ROOT, { UPSTREAM_URL: upstream.url });
    try {
      upstream.control.holdFlaky = true;
      // More callers give up than it takes failures in a row to open getFlaky's circuit (3).
      for (let i = 0; i < 5; i++) {
        const caller = new AbortController();
        const call = fetch(`${gw.url}/flaky`, { signal: caller.signal }).catch((e: unknown) => e);
        await eventually(() => upstream.control.held.length > 0, undefined, 'the upstream call to be held', 5);
        caller.abort();
        await call;
        upstream.control.held.splice(0);
      }
      upstream.control.holdFlaky = false;
      expect(upstream.callsTo('/flaky')).toBe(5); // one upstream call per caller: no retries
      const res = await fetch(`${gw.url}/flaky`);
      expect(res.status).toBe(200);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/ficus_circuit_state\{adapter="upstream",operation="getFlaky"\} 0/);
      expect(metrics).toMatch(/ficus_adapter_call_duration_seconds_count\{adapter="upstream",operation="getFlaky",outcome="caller_gone"\} 5/);
      expect(metrics).toMatch(/ficus_http_requests_total\{operation="getFlaky",backend="[a-z]+",status="499"\} 5/);
      expect(metrics).not.toMatch(/ficus_adapter_errors_total\{adapter="upstream",operation="getFlaky"/);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe('the http kind when the service is not there', () => {
  it('answers 503 upstream-unavailable, and /readyz names the adapter that is down', async () => {
    const port = await closedPort();
    const gw = await startGateway(ROOT, { UPSTREAM_URL: `http://127.0.0.1:${port}` });
    try {
      const res = await fetch(`${gw.url}/customers/1`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { type: string; detail: string }).detail).toContain('refused');
      const ready = await fetch(`${gw.url}/readyz`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { detail: string; adapters: Record<string, { ok: boolean }> };
      expect(body.adapters.upstream.ok).toBe(false);
      expect(body.detail).toContain('upstream');
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});
