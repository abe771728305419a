import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import { startUpstream } from '../fixtures/upstream-server.ts';

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let gw: Awaited<ReturnType<typeof startGateway>>;
beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startGateway(join(FIXTURES, 'http-gateway'), { UPSTREAM_URL: upstream.url });
});
afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

describe('metrics', () => {
  it('counts requests by operation, backend and status, with latency histograms per operation and adapter', async () => {
    await fetch(`${gw.url}/customers/1`);
    await fetch(`${gw.url}/customers/1`);
    await fetch(`${gw.url}/customers/404`);
    await fetch(`${gw.url}/customers/x`);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/ficus_http_requests_total\{operation="getCustomer",backend="legacy",status="200"\} 2/);
    expect(text).toMatch(/ficus_http_requests_total\{operation="getCustomer",backend="legacy",status="404"\} 1/);
    expect(text).toMatch(/ficus_http_requests_total\{operation="getCustomer",backend="none",status="400"\} 1/);
    expect(text).toMatch(/ficus_http_request_duration_seconds_bucket\{le="0\.1",operation="getCustomer",backend="legacy"\} \d+/);
    expect(text).toMatch(/ficus_adapter_call_duration_seconds_count\{adapter="upstream",operation="getCustomer",outcome="ok"\} 2/);
    expect(text).toMatch(/ficus_adapter_call_duration_seconds_count\{adapter="upstream",operation="getCustomer",outcome="client_error"\} 1/);
    expect(text).toMatch(/ficus_circuit_state\{adapter="upstream",operation="getCustomer"\} 0/);
    expect(text).toMatch(/# TYPE ficus_http_in_flight_requests gauge/);
  });

  it('counts adapter errors by reason', async () => {
    upstream.control.failNext = 1;
    await fetch(`${gw.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"x"}' });
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/ficus_adapter_errors_total\{adapter="upstream",operation="createNote",reason="http_500"\} 1/);
  });
});

describe('health, readiness and the API reference', () => {
  it('says the process is up and every adapter is ready', async () => {
    expect(await (await fetch(`${gw.url}/healthz`)).json()).toEqual({ status: 'up' });
    const ready = await fetch(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', adapters: { upstream: { kind: 'http', ok: true } }, stateStore: { ok: true } });
  });

  it('serves the API reference page and the contract it reads, without any CDN', async () => {
    const page = await (await fetch(`${gw.url}/docs`)).text();
    expect(page).toContain('/docs/assets/swagger-ui-bundle.js');
    expect(page).not.toMatch(/https?:\/\/(?!127\.)/);
    const asset = await fetch(`${gw.url}/docs/assets/swagger-ui-bundle.js`);
    expect(asset.status).toBe(200);
    expect((await asset.text()).length).toBeGreaterThan(100_000);
    const spec = await (await fetch(`${gw.url}/docs/openapi.yaml`)).text();
    expect(spec).toContain('operationId: getCustomer');
  });
});

describe('the request log', () => {
  it('keeps the query parameter names of a request but none of their values', async () => {
    const res = await fetch(`${gw.url}/customers?limit=5&name=bob.smith%40example.org`);
    const id = res.headers.get('x-request-id');
    await res.arrayBuffer();
    await vi.waitFor(() => expect(gw.logLines.some((l) => l.requestId === id && l.msg === 'request')).toBe(true), { timeout: 10_000 });
    const line = gw.logLines.find((l) => l.requestId === id && l.msg === 'request');
    expect(line?.path).toBe('/customers?limit=[redacted]&name=[redacted]');
    expect(JSON.stringify(gw.logLines.filter((l) => l.requestId === id))).not.toMatch(/bob\.smith/);
  });
});
