import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import { startUpstream } from '../fixtures/upstream-server.ts';

const ROOT = join(FIXTURES, 'http-gateway');
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

async function call(path: string, init: RequestInit = {}) {
  const res = await fetch(gw.url + path, init);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', headers: res.headers, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

function expectProblem(r: Awaited<ReturnType<typeof call>>, status: number, type: string) {
  expect(r.status).toBe(status);
  expect(r.type).toMatch(/^application\/problem\+json/);
  expect(r.body?.type).toBe(`https://ficus.dev/problems/${type}`);
  expect(r.body?.status).toBe(status);
  expect(typeof r.body?.title).toBe('string');
  expect(r.body?.requestId).toBe(r.headers.get('x-request-id'));
}

describe('requests that break the contract', () => {
  it('answers a path parameter of the wrong type with 400 naming the parameter, without calling the adapter', async () => {
    const before = upstream.callsTo('/customers');
    const r = await call('/customers/abc');
    expectProblem(r, 400, 'validation');
    expect(r.body?.errors).toContainEqual(expect.objectContaining({ field: 'path.customerId' }));
    expect(upstream.callsTo('/customers')).toBe(before);
  });

  it('refuses query parameters the contract does not declare', async () => {
    const r = await call('/customers?limit=5&color=blue');
    expectProblem(r, 400, 'validation');
    expect(r.body?.errors).toContainEqual(expect.objectContaining({ field: 'query.color' }));
  });

  it('names every offending field of a body', async () => {
    const r = await call('/notes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ priority: 9, extra: true }) });
    expectProblem(r, 400, 'validation');
    const fields = (r.body?.errors as { field: string }[]).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['body.text', 'body.priority', 'body.extra']));
  });

  it('answers malformed JSON with 400 malformed-json', async () => {
    const r = await call('/notes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text": "unterminated' });
    expectProblem(r, 400, 'malformed-json');
    expect(r.body?.detail).toMatch(/JSON/);
  });

  it('answers a wrong content type with 415', async () => {
    const r = await call('/notes', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'text=hello' });
    expectProblem(r, 415, 'unsupported-media-type');
  });

  it('answers a body over the configured limit with 413, and the adapter never sees it', async () => {
    const before = upstream.callsTo('/notes');
    const r = await call('/notes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'x'.repeat(20_000) }) });
    expectProblem(r, 413, 'payload-too-large');
    expect(upstream.callsTo('/notes')).toBe(before);
  });

  it('answers unknown routes with 404 and wrong methods with 405, as problems', async () => {
    expectProblem(await call('/no/such/route'), 404, 'route-not-found');
    expectProblem(await call('/customers/12', { method: 'DELETE' }), 405, 'method-not-allowed');
  });

  it('keeps serving after a burst of bad requests', async () => {
    const bad = await Promise.all(
      Array.from({ length: 30 }, (_, i) => call(i % 2 ? '/customers/x' : '/notes', { method: i % 2 ? 'GET' : 'POST', headers: { 'content-type': 'application/json' }, body: i % 2 ? undefined : '{' })),
    );
    expect(bad.every((r) => r.status === 400)).toBe(true);
    expect((await call('/customers/7')).status).toBe(200);
  });
});

describe('responses that break the contract', () => {
  it('answers 502 instead of passing an off-contract response on, naming each field', async () => {
    const r = await call('/customers/502');
    expectProblem(r, 502, 'upstream-contract-violation');
    const fields = (r.body?.errors as { field: string }[]).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['response.status', 'response.shoeSize']));
    expect(JSON.stringify(r.body)).not.toContain('dormant"'.repeat(2));
  });

  it('counts the violation in a metric and logs the route and the field', async () => {
    await call('/customers/502');
    const metrics = await (await fetch(gw.url + '/metrics')).text();
    expect(metrics).toMatch(/ficus_contract_violations_total\{operation="getCustomer",direction="response",field="response\.shoeSize"\} [1-9]/);
    const warn = gw.logLines.find((l) => l.msg === 'backend response breaks the contract');
    expect(warn).toMatchObject({ operation: 'getCustomer' });
    expect(JSON.stringify(warn)).toContain('response.shoeSize');
  });
});

describe('request ids', () => {
  it('takes the caller’s X-Request-Id, forwards it upstream and writes it in the log line', async () => {
    const r = await call('/customers/77', { headers: { 'x-request-id': 'trace-abc-123' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-request-id')).toBe('trace-abc-123');
    const upstreamCall = upstream.control.seen.find((s) => s.path === '/customers/77');
    expect(upstreamCall?.headers['x-request-id']).toBe('trace-abc-123');
    const line = gw.logLines.find((l) => l.requestId === 'trace-abc-123' && l.msg === 'request');
    expect(line).toMatchObject({ operation: 'getCustomer', backend: 'legacy', status: 200 });
  });

  it('makes one up when the caller sends none or a malformed one, and the problem carries it', async () => {
    const r = await call('/customers/abc', { headers: { 'x-request-id': 'bad id with spaces' } });
    const id = r.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body?.requestId).toBe(id);
    expect(gw.logLines.some((l) => l.requestId === id && l.status === 400)).toBe(true);
  });
});
