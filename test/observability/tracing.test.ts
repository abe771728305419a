/**
 * Tracing, as an operator's tracing backend sees it: the spans Ficus exports over OTLP/HTTP are
 * decoded by a receiver on loopback (JSON and protobuf) and their tree checked: the caller's trace
 * continued by one SERVER span per request, one CLIENT span per attempt (retries and the circuit's
 * state on each, the http kind's attributes), the shadow call and the outbox delivery in traces of
 * their own linked to the request, W3C trace context passed on to the backends, the trace id on the
 * log line and as an exemplar. Sampling, the OTEL_* variables and their mistakes.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { sampleCustomers } from '../../sample/data/customers.ts';
import { ConfigErrors } from '../../src/config/config-error.ts';
import { Gateway } from '../../src/gateway.ts';
import type { TracingApi } from '../../src/observability/tracing/tracing-feature.ts';
import { MIGRATION_FIXTURE } from '../fixtures/migration-gateway/harness.ts';
import { startOrdersService } from '../fixtures/writes-gateway/orders-service.ts';
import { startGateway, startHttpServer, type StartedGateway } from '../helpers/gateway.ts';
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.ts';
import { eventually } from '../helpers/wait.ts';
import { startWritesGateway } from '../writes/writes-helpers.ts';

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

/** The backend of both adapters: answers customers and quotes, keeps each call's traceparent, fails the first `failQuotes` quote calls with 503. */
async function startTracedBackend() {
  const customers = sampleCustomers();
  const seen: { path: string; traceparent: string | undefined }[] = [];
  const state = { failQuotes: 0 };
  const server = await startHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/healthz') return void res.writeHead(200).end('{}');
    seen.push({ path, traceparent: req.headers.traceparent as string | undefined });
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const one = /^\/customers\/(\d+)$/.exec(path);
    if (one)
      return send(
        200,
        customers.find((c) => c.id === Number(one[1])),
      );
    if (path === '/customers') return send(200, { items: customers.slice(0, 2), nextCursor: null });
    if (path.startsWith('/quotes/')) {
      if (state.failQuotes > 0) {
        state.failQuotes--;
        return send(503, { title: 'busy', status: 503 });
      }
      return send(200, { id: 5, price: 1.5, quotedAt: new Date().toISOString() });
    }
    send(404, { title: 'no', status: 404 });
  });
  return { ...server, seen, state };
}

const PATHS: Record<string, string> = { getQuote: '/quotes/{quoteId}', getCustomer: '/customers/{customerId}', listCustomers: '/customers', createNote: '/notes', getLegacyOnly: '/legacy-only' };

/** A project over the migration contract: a legacy and a modern http adapter on `backendUrl`, the routes and tracing given. */
function writeProject(dir: string, routes: Record<string, unknown>, tracing: Record<string, unknown> | undefined): string {
  const adapter = (role: string, ops: string[], policy: Record<string, unknown>) =>
    stringify({ kind: 'http', role, connection: { baseUrl: '${env:BACKEND_URL}' }, policy, operations: Object.fromEntries(ops.map((o) => [o, { path: PATHS[o] }])) });
  for (const [name, role, ops, policy] of [
    [
      'legacy-crm',
      'legacy',
      ['getCustomer', 'listCustomers', 'getQuote', 'createNote', 'getLegacyOnly'],
      { retry: { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 5, budget: { ratio: 1, minPerSecond: 100 } } },
    ],
    ['modern-customers', 'modern', ['getCustomer', 'listCustomers'], { retry: { maxRetries: 0 } }],
  ] as const) {
    mkdirSync(join(dir, 'adapters', name), { recursive: true });
    writeFileSync(join(dir, 'adapters', name, 'adapter.yaml'), adapter(role, [...ops], policy));
  }
  const file = join(dir, 'ficus.yaml');
  writeFileSync(
    file,
    stringify({
      contract: join(MIGRATION_FIXTURE, 'openapi.yaml'),
      adaptersDir: join(dir, 'adapters'),
      server: { port: 0, host: '127.0.0.1' },
      log: { level: 'info' },
      state: { driver: 'sqlite', file: join(dir, 'state.sqlite') },
      admin: { port: 0, host: '127.0.0.1' },
      routes,
      ...(tracing ? { tracing } : {}),
    }),
  );
  return file;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let backend: Awaited<ReturnType<typeof startTracedBackend>>;
let receiver: OtlpReceiver;
beforeAll(async () => {
  backend = await startTracedBackend();
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await backend?.close();
  await receiver?.close();
});

async function gateway(routes: Record<string, unknown>, tracing: Record<string, unknown> | undefined, env: Record<string, string> = {}): Promise<StartedGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'ficus-tracing-'));
  const file = writeProject(dir, routes, tracing);
  const g = await startGateway(dir, { BACKEND_URL: backend.url, FICUS_ADMIN_TOKENS: 'alice:alice-secret-token', ...env }, { file });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => g.close());
  return g;
}

const tracingOf = (g: StartedGateway) => g.gateway.feature<TracingApi>('tracing');

/** Waits until the receiver has spans matching `pick` (flushing the gateway's exporter first). */
async function spansOf(g: StartedGateway, pick: (s: ReceivedSpan) => boolean, count: number): Promise<ReceivedSpan[]> {
  return eventually(
    async () => {
      await tracingOf(g).flush();
      const found = receiver.spans.filter(pick);
      return found.length >= count ? found : undefined;
    },
    20_000,
    `${count} spans`,
  );
}

describe('tracing', () => {
  it('continues the caller trace: a SERVER span per request, a CLIENT span per attempt, the shadow call linked, context passed on', async () => {
    const g = await gateway({ getCustomer: { mode: 'shadow' } }, { enabled: true, endpoint: receiver.url, protocol: 'http/json', serviceName: 'ficus-test' });
    backend.seen.length = 0;
    const res = await fetch(`${g.url}/customers/1001`, { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, tracestate: 'vendor=1' } });
    expect(res.status).toBe(200);
    await g.gateway.control.shadow.drain();

    const [server] = await spansOf(g, (s) => s.traceId === CALLER_TRACE && s.kind === SPAN_KIND.server, 1);
    expect(server).toMatchObject({ name: 'getCustomer', parentSpanId: CALLER_SPAN, service: 'ficus-test', statusCode: 0 });
    expect(server.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/customers/{customerId}',
      'http.response.status_code': 200,
      'ficus.backend': 'legacy',
      'ficus.adapter': 'legacy-crm',
      'ficus.mode': 'shadow',
    });
    const [legacy] = await spansOf(g, (s) => s.parentSpanId === server.spanId, 1);
    expect(legacy).toMatchObject({ kind: SPAN_KIND.client, name: 'legacy-crm getCustomer', traceId: CALLER_TRACE });
    expect(legacy.attributes).toMatchObject({
      'ficus.adapter': 'legacy-crm',
      'ficus.kind': 'http',
      'ficus.backend': 'legacy',
      'ficus.attempt': 1,
      'ficus.retry': false,
      'ficus.circuit.state': 'closed',
      'http.response.status_code': 200,
    });
    expect(String(legacy.attributes['url.full'])).toBe(`${backend.url}/customers/1001`);

    // The shadow call: a trace of its own, linked to the request's span; its attempt is its child.
    const [shadow] = await spansOf(g, (s) => s.name === 'shadow getCustomer', 1);
    expect(shadow.traceId).not.toBe(CALLER_TRACE);
    expect(shadow.links).toEqual([expect.objectContaining({ traceId: CALLER_TRACE, spanId: server.spanId })]);
    const [modern] = await spansOf(g, (s) => s.parentSpanId === shadow.spanId, 1);
    expect(modern).toMatchObject({ kind: SPAN_KIND.client, name: 'modern-customers getCustomer', traceId: shadow.traceId });

    // Each backend got the W3C context of the attempt that called it.
    const tps = backend.seen.map((s) => s.traceparent);
    expect(tps).toContain(`00-${CALLER_TRACE}-${legacy.spanId}-01`);
    expect(tps).toContain(`00-${shadow.traceId}-${modern.spanId}-01`);

    // The log line and the latency histogram (as an exemplar) carry the trace id.
    expect(g.logLines.find((l) => l.msg === 'request' && l.operation === 'getCustomer')).toMatchObject({ traceId: CALLER_TRACE });
    const metrics = await fetch(`${g.url}/metrics`, { headers: { accept: 'application/openmetrics-text' } });
    const text = await metrics.text();
    expect(text).toMatch(new RegExp(`ficus_http_request_duration_seconds_bucket\\{[^}]*operation="getCustomer"[^}]*\\} \\d+ # \\{trace_id="${CALLER_TRACE}"\\}`));
  });

  it('makes one CLIENT span per attempt: retries are spans of their own, counted on the request span', async () => {
    const g = await gateway({}, { enabled: true, endpoint: receiver.url, protocol: 'http/json' });
    backend.state.failQuotes = 2;
    const res = await fetch(`${g.url}/quotes/5`);
    expect(res.status).toBe(200);
    const traceId = String(g.logLines.find((l) => l.operation === 'getQuote')?.traceId);
    const [server] = await spansOf(g, (s) => s.traceId === traceId && s.kind === SPAN_KIND.server, 1);
    expect(server.attributes['ficus.retries']).toBe(2);
    const attempts = (await spansOf(g, (s) => s.parentSpanId === server.spanId, 3)).sort((a, b) => Number(a.attributes['ficus.attempt']) - Number(b.attributes['ficus.attempt']));
    expect(attempts.map((a) => [a.attributes['ficus.attempt'], a.attributes['ficus.retry'], a.statusCode])).toEqual([
      [1, false, 2],
      [2, true, 2],
      [3, true, 0],
    ]);
    expect(attempts[0].attributes['error.type']).toBe('upstream-error');
  });

  it('reads the standard OTEL_* variables: protobuf export, the service name, a new trace passed on to modern', async () => {
    const g = await gateway({ listCustomers: { mode: 'modern' } }, undefined, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_SERVICE_NAME: 'orders-gateway',
    });
    backend.seen.length = 0;
    expect((await fetch(`${g.url}/customers?limit=2`)).status).toBe(200);
    const [server] = await spansOf(g, (s) => s.service === 'orders-gateway' && s.name === 'listCustomers', 1);
    expect(server).toMatchObject({ kind: SPAN_KIND.server, parentSpanId: '' });
    const [client] = await spansOf(g, (s) => s.parentSpanId === server.spanId, 1);
    expect(client.attributes).toMatchObject({ 'ficus.adapter': 'modern-customers', 'ficus.backend': 'modern' });
    expect(receiver.contentTypes).toContain('application/x-protobuf');
    expect(backend.seen.find((s) => s.path === '/customers')?.traceparent).toBe(`00-${server.traceId}-${client.spanId}-01`);
  });

  it('samples by ratio: at 0 nothing is exported, the context still goes on unsampled; OTEL_SDK_DISABLED turns it all off', async () => {
    const before = receiver.spans.length;
    const g = await gateway({ listCustomers: { mode: 'modern' } }, { enabled: true, endpoint: receiver.url, sampleRatio: 0.5 }, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    backend.seen.length = 0;
    for (let i = 0; i < 5; i++) expect((await fetch(`${g.url}/customers?limit=2`)).status).toBe(200);
    await tracingOf(g).flush();
    expect(receiver.spans.length).toBe(before);
    expect(backend.seen).toHaveLength(5);
    for (const s of backend.seen) expect(s.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);

    const off = await gateway({ listCustomers: { mode: 'modern' } }, { enabled: true, endpoint: receiver.url }, { OTEL_SDK_DISABLED: 'true' });
    expect(tracingOf(off).enabled).toBe(false);
    backend.seen.length = 0;
    expect((await fetch(`${off.url}/customers?limit=2`)).status).toBe(200);
    expect(backend.seen[0].traceparent).toBeUndefined();
    expect(off.logLines.find((l) => l.operation === 'listCustomers')).not.toHaveProperty('traceId');
  });

  it('refuses a tracing setting it cannot honour before anything starts, naming the variable or the key and the fix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ficus-tracing-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = writeProject(dir, {}, { enabled: true, sampleRatio: 2 });
    const err = await Gateway.create({ root: dir, file, env: { BACKEND_URL: backend.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_TRACES_SAMPLER: 'sometimes' }, processMetrics: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigErrors);
    const text = (err as ConfigErrors).message;
    expect(text).toMatch(/ficus\.yaml:\d+: tracing\.sampleRatio: /);
    expect(text).toContain('environment: OTEL_EXPORTER_OTLP_PROTOCOL: protocol "grpc" is not one Ficus exports with (gRPC is not supported)');
    expect(text).toContain('fix: set OTEL_EXPORTER_OTLP_PROTOCOL to http/protobuf or http/json');
    expect(text).toContain('environment: OTEL_TRACES_SAMPLER: sampler "sometimes" is unknown');
  });

  it('links an outbox delivery to the request that queued the write', async () => {
    const svc = await startOrdersService();
    cleanups.push(() => svc.close());
    const g = await startWritesGateway({ ORDERS_URL: svc.url, ORDERS_ASYNC: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    cleanups.push(() => g.close());
    const res = await fetch(`${g.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'trace-order-1', traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` },
      body: JSON.stringify({ customerId: 1001, lines: [{ sku: 'HW-1042', quantity: 1 }] }),
    });
    expect(res.status).toBe(202);
    await eventually(() => svc.orders.length === 1, 20_000, 'the order to be delivered');
    const [server] = await spansOf(g, (s) => s.traceId === CALLER_TRACE && s.name === 'createOrder', 1);
    const [delivery] = await spansOf(g, (s) => s.name === 'deliver createOrder', 1);
    expect(delivery.kind).toBe(SPAN_KIND.consumer);
    expect(delivery.traceId).not.toBe(CALLER_TRACE);
    expect(delivery.links).toEqual([expect.objectContaining({ traceId: CALLER_TRACE, spanId: server.spanId })]);
    expect(delivery.attributes).toMatchObject({ 'ficus.operation': 'createOrder', 'ficus.outbox.attempt': 1 });
    const [attempt] = await spansOf(g, (s) => s.parentSpanId === delivery.spanId, 1);
    expect(attempt).toMatchObject({ kind: SPAN_KIND.client, name: 'orders createOrder' });
  });
});
