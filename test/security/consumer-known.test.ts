/**
 * The consumer is known after the door, everywhere: the request log line, the bounded metric label
 * (and the admin API's calls by consumer, the dashboard's table of them in Chromium), recordings (one
 * line per consumer for the same request), shadow mismatches, the audit of admin actions on a
 * consumer, the header a modern backend receives (its name configured per connection), and writes:
 * the outbox's delivery and the dead letters. Never the credential.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { Recorder } from '../../src/recording/recorder.ts';
import { startBackend, type Backend } from '../fixtures/migration-gateway/backends.ts';
import { MIGRATION_FIXTURE } from '../fixtures/migration-gateway/harness.ts';
import { startOrdersService, type OrdersService } from '../fixtures/writes-gateway/orders-service.ts';
import { startGateway, startHttpServer, type StartedGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';
import { newOrder, post, WRITES_FIXTURE } from '../writes/writes-helpers.ts';

const TOKEN = 'alice-secret-token';
const ADMIN = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The contract at `file` with every operation behind an API key in X-API-Key, written into `dir`. */
function securedContract(file: string, dir: string): string {
  const doc = parse(readFileSync(file, 'utf8')) as { security?: unknown; components?: { securitySchemes?: Record<string, unknown> } };
  doc.security = [{ apiKey: [] }];
  doc.components = { ...doc.components, securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } } };
  const out = join(dir, 'openapi.yaml');
  writeFileSync(out, stringify(doc));
  return out;
}

async function adminCall(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(base + path, { method, headers: ADMIN, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function issueKey(adminUrl: string, consumer: string): Promise<string> {
  expect((await adminCall(adminUrl, 'POST', '/consumers', { name: consumer })).status).toBe(201);
  const issued = await adminCall(adminUrl, 'POST', `/consumers/${consumer}/keys`);
  expect(issued.status).toBe(201);
  return String(issued.body.key);
}

describe('reads: log line, metric, recordings, shadow mismatches, the modern backend, the audit, the dashboard', () => {
  let dir: string;
  let legacy: Backend;
  let modern: Awaited<ReturnType<typeof startHttpServer>>;
  const seenByModern: (string | undefined)[] = [];
  let g: StartedGateway;
  let acme: string;
  let globex: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ficus-consumer-known-'));
    legacy = await startBackend();
    // Modern answers what legacy does with `vip` turned over (a mismatch every time), and notes the consumer header it got.
    modern = await startHttpServer((req, res) => {
      seenByModern.push(req.headers['x-caller'] as string | undefined);
      void fetch(legacy.url + (req.url ?? '/')).then(async (r) => {
        const body = (await r.json()) as Record<string, unknown>;
        const text = JSON.stringify(r.status === 200 ? { ...body, vip: !body.vip } : body);
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' }).end(text);
      });
    });
    // The migration fixture's adapters, the modern one naming the consumer in X-Caller.
    cpSync(join(MIGRATION_FIXTURE, 'adapters'), join(dir, 'adapters'), { recursive: true });
    const modernFile = join(dir, 'adapters', 'modern-customers', 'adapter.yaml');
    // (As text: the file's ${env:...} references stay as they are.)
    const adapter = readFileSync(modernFile, 'utf8');
    expect(adapter).toContain('  baseUrl: ${env:MODERN_URL}\n');
    writeFileSync(modernFile, adapter.replace('  baseUrl: ${env:MODERN_URL}\n', '  baseUrl: ${env:MODERN_URL}\n  consumerHeader: X-Caller\n'));
    const file = join(dir, 'ficus.yaml');
    writeFileSync(
      file,
      stringify({
        contract: securedContract(join(MIGRATION_FIXTURE, 'openapi.yaml'), dir),
        adaptersDir: join(dir, 'adapters'),
        server: { port: 0, host: '127.0.0.1' },
        log: { level: 'info' },
        state: { driver: 'sqlite', file: join(dir, 'state.sqlite') },
        admin: { port: 0, host: '127.0.0.1' },
        routes: { getCustomer: { mode: 'shadow' } },
        recording: { dir: join(dir, 'recordings'), routes: { getCustomer: {} } },
      }),
    );
    g = await startGateway(dir, { FICUS_ADMIN_TOKENS: `alice:${TOKEN}`, LEGACY_URL: legacy.url, MODERN_URL: modern.url }, { file, adminServer: true });
    acme = await issueKey(g.adminUrl, 'acme');
    globex = await issueKey(g.adminUrl, 'globex');
    const call = async (path: string, headers: Record<string, string>) => (await fetch(g.url + path, { headers })).status;
    expect(await call('/customers/1001', { 'x-api-key': acme, 'x-caller': 'someone-else' })).toBe(200);
    expect(await call('/customers/1002', { 'x-api-key': acme })).toBe(200);
    expect(await call('/customers/1001', { 'x-api-key': globex })).toBe(200);
    expect(await call('/customers/1001', {})).toBe(401);
    await g.gateway.control.shadow.drain();
    await g.gateway.feature<Recorder>('recording')?.flush();
  }, 60_000);

  afterAll(async () => {
    await g?.close();
    await modern?.close();
    await legacy?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the request log line names the consumer, never the key', () => {
    const lines = g.logLines.filter((l) => l.operation === 'getCustomer' && l.status === 200);
    expect(lines.map((l) => l.consumer).sort()).toEqual(['acme', 'acme', 'globex']);
    expect(JSON.stringify(g.logLines)).not.toContain(acme);
  });

  it('the modern backend gets the consumer in the header its connection names; a caller cannot set it', () => {
    expect(seenByModern.sort()).toEqual(['acme', 'acme', 'globex']);
  });

  it('shadow mismatches name the consumer whose call they compared', async () => {
    const r = await adminCall(g.adminUrl, 'GET', '/routes/getCustomer/mismatches?limit=10');
    const mismatches = r.body.mismatches as { request: string; consumer?: string }[];
    expect(mismatches.map((m) => `${m.request} ${m.consumer}`).sort()).toEqual(['GET /customers/1001 acme', 'GET /customers/1001 globex', 'GET /customers/1002 acme']);
    expect(JSON.stringify(mismatches)).not.toContain(acme);
    const route = await adminCall(g.adminUrl, 'GET', '/routes/getCustomer');
    expect((route.body.shadow as { byConsumer: unknown }).byConsumer).toEqual([
      { consumer: 'acme', compared: 2, mismatched: 2 },
      { consumer: 'globex', compared: 1, mismatched: 1 },
    ]);
  });

  it('recordings name the consumer; the same request of two consumers is two lines', () => {
    const folder = join(dir, 'recordings', 'getCustomer');
    const lines = readdirSync(folder)
      .flatMap((f) => readFileSync(join(folder, f), 'utf8').split('\n'))
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { request: { path: string }; consumer?: string; count: number; response: { status: number } });
    const ok = lines.filter((l) => l.response.status === 200);
    expect(ok.map((l) => `${l.request.path} ${l.consumer} ${l.count}`).sort()).toEqual(['/customers/1001 acme 1', '/customers/1001 globex 1', '/customers/1002 acme 1']);
    expect(lines.filter((l) => l.response.status === 401).every((l) => l.consumer === undefined)).toBe(true);
    expect(
      readdirSync(folder)
        .map((f) => readFileSync(join(folder, f), 'utf8'))
        .join(''),
    ).not.toContain(acme);
  });

  it('the metric labels registered consumers by name and the rest as anonymous; the admin API sums them up', async () => {
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metrics).toMatch(/^ficus_consumer_requests_total\{consumer="acme",operation="getCustomer",status="200"\} 2$/m);
    expect(metrics).toMatch(/^ficus_consumer_requests_total\{consumer="globex",operation="getCustomer",status="200"\} 1$/m);
    expect(metrics).toMatch(/^ficus_consumer_requests_total\{consumer="anonymous",operation="getCustomer",status="401"\} 1$/m);
    const calls = (await adminCall(g.adminUrl, 'GET', '/consumers/calls')).body.consumers as Record<string, unknown>[];
    expect(calls).toEqual([
      { consumer: 'acme', calls: 2, ok: 2, denied: 0, limited: 0, clientErrors: 0, failed: 0, operations: [{ operation: 'getCustomer', calls: 2 }] },
      { consumer: 'anonymous', calls: 1, ok: 0, denied: 1, limited: 0, clientErrors: 0, failed: 0, operations: [{ operation: 'getCustomer', calls: 1 }] },
      { consumer: 'globex', calls: 1, ok: 1, denied: 0, limited: 0, clientErrors: 0, failed: 0, operations: [{ operation: 'getCustomer', calls: 1 }] },
    ]);
  });

  it("the audit lists the admin actions on one consumer: its keys and its limits, no one else's", async () => {
    expect((await adminCall(g.adminUrl, 'PUT', '/limits/consumer/acme', { rate: { limit: 50, window: '1s' } })).status).toBe(200);
    const entries = (await adminCall(g.adminUrl, 'GET', '/audit?consumer=acme')).body.entries as { operationId: string; action: string; actor: string }[];
    expect(entries.map((e) => `${e.actor} ${e.operationId} ${e.action}`)).toEqual(['alice limits:consumer:acme limits-set', 'alice consumer:acme key-issue', 'alice consumer:acme consumer-add']);
  });

  it('the dashboard shows calls by consumer', async () => {
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
      const page = await browser.newPage();
      await page.goto(`${g.adminUrl}/#token=${TOKEN}`);
      const acmeRow = page.locator('tr[data-consumer="acme"]');
      await acmeRow.waitFor({ timeout: 20_000 });
      expect(await acmeRow.getByTestId('consumer-calls').textContent()).toBe('2');
      expect(await page.locator('tr[data-consumer="anonymous"] td').nth(3).textContent()).toBe('1');
      expect(await page.locator('#consumers-section').isVisible()).toBe(true);
    } finally {
      await browser?.close();
    }
  }, 60_000);
});

describe('writes: the outbox delivers with the consumer, the dead letter names it', () => {
  let dir: string;
  let svc: OrdersService;
  let g: StartedGateway;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ficus-consumer-writes-'));
    svc = await startOrdersService();
    // The fixture's settings as they are (as text: its ${env:...} references stay), over the secured contract.
    const config = readFileSync(join(WRITES_FIXTURE, 'ficus.yaml'), 'utf8');
    const file = join(dir, 'ficus.yaml');
    writeFileSync(file, `contract: ${JSON.stringify(securedContract(join(WRITES_FIXTURE, 'openapi.yaml'), dir))}\nadaptersDir: ${JSON.stringify(join(WRITES_FIXTURE, 'adapters'))}\n${config}`);
    g = await startGateway(
      WRITES_FIXTURE,
      { ORDERS_URL: svc.url, ORDERS_ASYNC: 'true', OUTBOX_MAX_ATTEMPTS: '2', FICUS_ADMIN_TOKENS: `alice:${TOKEN}`, LOG_LEVEL: 'info' },
      { file, adminServer: true },
    );
  }, 60_000);

  afterAll(async () => {
    await g?.close();
    await svc?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a write the legacy system refuses is a dead letter naming its consumer (never the key)', async () => {
    const key = await issueKey(g.adminUrl, 'initech');
    svc.refuse.add(9999);
    const accepted = await post(`${g.url}/orders`, newOrder(9999, 'C-1'), 'consumer-dead-1', { 'x-api-key': key });
    expect(accepted.status).toBe(202);
    const id = String(accepted.headers.get('location')).slice('/orders/'.length);
    await eventually(async () => (await g.gateway.writes.deadLetters.list()).length === 1, 20_000, 'the refused write in the DLQ');
    const listed = await adminCall(g.adminUrl, 'GET', '/dlq');
    expect((listed.body.items as { id: string; consumer?: string }[]).map((d) => `${d.id} ${d.consumer}`)).toEqual([`${id} initech`]);
    const one = await adminCall(g.adminUrl, 'GET', `/dlq/${id}`);
    expect(one.body.consumer).toBe('initech');
    expect((one.body.request as { consumer?: string }).consumer).toBe('initech');
    expect(JSON.stringify(one.body)).not.toContain(key);
  });
});
