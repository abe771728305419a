/**
 * The dead-letter queue as the migration team meets it: through the admin API (behind its bearer
 * tokens) and `ficus dlq …`: list and filter, inspect every attempt, replay one or many, expire;
 * depth and age as metrics; partial success of batches with the refused records quarantined.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';
import { startOrdersService, type OrdersService } from '../fixtures/writes-gateway/orders-service.ts';
import { eventually, get, metricValue, newOrder, post, startWritesGateway } from './writes-helpers.ts';

const TOKEN = 'dlq-test-token-0001';
let svc: OrdersService;
let g: Awaited<ReturnType<typeof startWritesGateway>>;
let admin: string;
const ids: Record<string, string> = {};

async function adminCall(method: string, path: string, body?: unknown, token = TOKEN) {
  const res = await fetch(`${admin}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as Record<string, unknown> & { items?: { id: string; reason: string; operation: string }[] } };
}

/** Runs `ficus …` in this process (the CLI's own code, flags for URL and token), capturing its output and exit code. */
async function ficus(args: string[], token = TOKEN) {
  const out: string[] = [];
  const err: string[] = [];
  const spyOut = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => out.push(String(chunk)) > 0);
  const spyErr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => err.push(String(chunk)) > 0);
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await main(['node', 'ficus', ...args, '--url', admin, '--token', token]);
    return { code: Number(process.exitCode ?? 0), stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.exitCode = before;
    spyOut.mockRestore();
    spyErr.mockRestore();
  }
}

/** The real command, as a user runs it: environment variables for URL and token. */
async function ficusProcess(args: string[]) {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [join(PROJECT_ROOT, 'bin/ficus.js'), ...args], {
      env: { ...process.env, FICUS_ADMIN_URL: admin, FICUS_ADMIN_TOKEN: TOKEN },
      timeout: 60_000,
    });
    return { code: 0, stdout };
  } catch (e) {
    return { code: (e as { code?: number }).code ?? -1, stdout: (e as { stdout?: string }).stdout ?? '' };
  }
}

const idOf = (location: string | null) => (location ?? '').slice('/orders/'.length);

beforeAll(async () => {
  svc = await startOrdersService();
  g = await startWritesGateway({ ORDERS_URL: svc.url, ORDERS_ASYNC: 'true', OUTBOX_MAX_ATTEMPTS: '2', FICUS_ADMIN_TOKENS: `ops:${TOKEN}` });
  admin = await g.gateway.control.listen(0, '127.0.0.1');
  // Two orders the legacy system refuses, one it cannot take (it fails every attempt).
  svc.refuse.add(9999).add(9998);
  ids.refused1 = idOf((await post(`${g.url}/orders`, newOrder(9999, 'R-1'), 'dlq-refused-1')).headers.get('location'));
  ids.refused2 = idOf((await post(`${g.url}/orders`, newOrder(9998, 'R-2'), 'dlq-refused-2')).headers.get('location'));
  await eventually(async () => (await g.gateway.writes.deadLetters.list()).length === 2, 20_000, 'two refused writes');
  svc.failing = true;
  ids.exhausted = idOf((await post(`${g.url}/orders`, newOrder(1234, 'X-1'), 'dlq-exhausted')).headers.get('location'));
  await eventually(async () => (await g.gateway.writes.deadLetters.list()).length === 3, 20_000, 'the exhausted write');
  svc.failing = false;
});

afterAll(async () => {
  await g?.close();
  await svc?.close();
});

describe('the dead-letter queue', () => {
  it('lists dead letters behind the admin token, with filters', async () => {
    expect((await adminCall('GET', '/dlq', undefined, 'wrong-token-000')).status).toBe(401);
    const all = await adminCall('GET', '/dlq');
    expect(all.status).toBe(200);
    expect(all.body.items?.map((d) => d.id).sort()).toEqual([ids.refused1, ids.refused2, ids.exhausted].sort());
    const rejected = await adminCall('GET', '/dlq?reason=rejected');
    expect(rejected.body.items?.map((d) => d.id).sort()).toEqual([ids.refused1, ids.refused2].sort());
    const byError = await adminCall('GET', '/dlq?errorContains=9998');
    expect(byError.body.items?.map((d) => d.id)).toEqual([ids.refused2]);
    expect((await adminCall('GET', '/dlq?olderThan=1h')).body.items).toEqual([]);
  });

  it('explains a bad filter or an unknown id as a problem naming the field', async () => {
    const bad = await adminCall('GET', '/dlq?reason=lost');
    expect(bad.status).toBe(400);
    expect(bad.type).toContain('application/problem+json');
    expect(String(bad.body.detail)).toContain('query.reason');
    const badAge = await adminCall('POST', '/dlq/replay', { olderThan: 'soon' });
    expect(badAge.status).toBe(400);
    expect(String(badAge.body.detail)).toContain('body.olderThan');
    const none = await adminCall('POST', '/dlq/expire', {});
    expect(none.status).toBe(400);
    const unknown = await adminCall('GET', '/dlq/no-such-letter');
    expect(unknown.status).toBe(404);
    expect(unknown.type).toContain('application/problem+json');
  });

  it('shows one dead letter with its request and every attempt error', async () => {
    const d = await adminCall('GET', `/dlq/${ids.exhausted}`);
    expect(d.body).toMatchObject({ id: ids.exhausted, operation: 'createOrder', reason: 'exhausted', attempts: 2, idempotencyKey: 'dlq-exhausted' });
    expect((d.body.errors as { attempt: number; error: string }[]).map((e) => e.attempt)).toEqual([1, 2]);
    expect((d.body.request as { body: unknown }).body).toEqual(newOrder(1234, 'X-1'));
  });

  it('reports depth and age as metrics and stats', async () => {
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metricValue(metrics, 'ficus_dlq_depth')).toBe(3);
    expect(metricValue(metrics, 'ficus_dlq_oldest_age_seconds')).toBeGreaterThan(0);
    const stats = await adminCall('GET', '/dlq/stats');
    expect(stats.body).toMatchObject({ depth: 3, outboxPending: 0 });
  });

  it('replays one dead letter through the outbox; its status resource follows', async () => {
    svc.refuse.delete(9999);
    const r = await adminCall('POST', `/dlq/${ids.refused1}/replay`);
    expect(r.status).toBe(202);
    expect(r.body.replayed).toEqual([ids.refused1]);
    await eventually(async () => (await get(`${g.url}/orders/${ids.refused1}`)).body.status === 'accepted', 20_000, 'the replayed order');
    expect((await g.gateway.writes.deadLetters.get(ids.refused1))?.state).toBe('replayed');
    expect((await adminCall('POST', `/dlq/${ids.refused1}/replay`)).status).toBe(409);
  });

  it('`ficus dlq` lists, shows, replays by filter and expires, with clear exit codes', async () => {
    const proc = await ficusProcess(['dlq', 'list']);
    expect(proc.code).toBe(0);
    expect(proc.stdout).toMatch(/^ID\s+OPERATION\s+REASON/);
    expect(proc.stdout).toContain(ids.exhausted);
    expect(proc.stdout).not.toContain(ids.refused1);
    const shown = await ficus(['dlq', 'show', ids.exhausted, '--json']);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: ids.exhausted, reason: 'exhausted' });
    const unknown = await ficus(['dlq', 'show', 'nope-nope']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('404 Not found: no dead letter has id "nope-nope"');
    const usage = await ficus(['dlq', 'replay']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('say which dead letters');
    expect((await ficus(['dlq', 'list'], 'not-the-token')).code).toBe(4);

    const replayed = await ficus(['dlq', 'replay', '--reason', 'exhausted']);
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toContain(`replayed 1 dead letter(s): ${ids.exhausted}`);
    await eventually(async () => (await get(`${g.url}/orders/${ids.exhausted}`)).body.status === 'accepted', 20_000, 'the replayed order');

    const expired = await ficus(['dlq', 'expire', '--error-contains', 'closed', '--json']);
    expect(JSON.parse(expired.stdout)).toEqual({ expired: [ids.refused2] });
    const status = (await get(`${g.url}/orders/${ids.refused2}`)).body;
    expect(status).toMatchObject({ status: 'failed', rejection: { code: 'EXPIRED' } });
    expect((await adminCall('GET', '/dlq/stats')).body).toMatchObject({ depth: 0 });
    // Every accepted order reached the legacy system exactly once.
    expect(svc.orders.map((o) => o.key).sort()).toEqual(['dlq-exhausted', 'dlq-refused-1']);
  }, 90_000);
});

describe('batches: partial success', () => {
  it('processes the valid records, quarantines the refused ones with their reasons, and says which', async () => {
    svc.refuse.add(7001).add(7002).add(7003);
    const orders = Array.from({ length: 100 }, (_, i) => newOrder([10, 50, 90].includes(i) ? 7001 + [10, 50, 90].indexOf(i) : 5000 + i, `B-${i}`));
    const res = await post(`${g.url}/orders/batch`, { orders }, 'batch-key-0001');
    expect(res.status).toBe(200);
    expect((res.body.accepted as unknown[]).length).toBe(97);
    expect((res.body.rejected as { index: number }[]).map((r) => r.index)).toEqual([10, 50, 90]);
    const quarantined = (res.headers.get('ficus-quarantined') ?? '').split(', ');
    expect(quarantined).toHaveLength(3);
    const listed = await adminCall('GET', '/dlq?reason=quarantined');
    expect(listed.body.items?.map((d) => d.id).sort()).toEqual([...quarantined].sort());
    const one = await adminCall('GET', `/dlq/${quarantined[1]}`);
    expect((one.body.errors as { error: string }[]).map((e) => e.error)).toEqual(['customer 7002 is closed', 'record not processed']);
    expect((one.body.request as { body: unknown }).body).toEqual(orders[50]);

    // A retry of the batch gets the same answer and quarantines nothing twice.
    const again = await post(`${g.url}/orders/batch`, { orders }, 'batch-key-0001');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('ficus-quarantined')).toBe(res.headers.get('ficus-quarantined'));
    expect((await adminCall('GET', '/dlq?reason=quarantined')).body.items).toHaveLength(3);
    const before = svc.orders.length;

    // Once the customer is sorted out, the quarantined record is replayed as a single order.
    svc.refuse.delete(7002);
    expect((await adminCall('POST', `/dlq/${quarantined[1]}/replay`)).status).toBe(202);
    await eventually(() => svc.orders.length === before + 1, 20_000, 'the replayed record');
    expect(svc.orders[svc.orders.length - 1]).toMatchObject({ customerId: 7002, reference: 'B-50', key: quarantined[1] });
  });
});

describe('credentials never reach the outbox or the dead-letter queue', () => {
  const secrets = {
    authorization: 'Bearer caller-bearer-secret',
    'x-api-key': 'api-key-secret-1',
    'x-auth-token': 'auth-token-secret-2',
    'x-csrf-token': 'csrf-secret-3',
    'x-upstream-password': 'upstream-password-secret-4',
    'x-debug-note': 'not-on-the-allow-list-5',
  };
  const leaked = (text: string) => Object.values(secrets).filter((v) => text.includes(v));

  it('keeps only allow-listed headers of a quarantined batch record, in the API and in the state store', async () => {
    svc.refuse.add(7101);
    const res = await post(`${g.url}/orders/batch`, { orders: [newOrder(5101, 'C-0'), newOrder(7101, 'C-1')] }, 'batch-key-credentials', secrets);
    expect(res.status).toBe(200);
    const id = res.headers.get('ficus-quarantined') ?? '';
    expect(id).not.toBe('');
    const one = await adminCall('GET', `/dlq/${id}`);
    expect(one.status).toBe(200);
    expect(Object.keys((one.body.request as { headers: Record<string, string> }).headers).sort()).toEqual(expect.arrayContaining(['content-type', 'idempotency-key']));
    expect(leaked(JSON.stringify(one.body))).toEqual([]);
    const rows = await g.gateway.store.all<{ request: string }>('SELECT request FROM writes_dead_letters');
    expect(leaked(rows.map((r) => r.request).join('\n'))).toEqual([]);
  });

  it('never returns a credential that an older version stored in a dead letter', async () => {
    const request = { operationId: 'createOrder', method: 'post', pathParams: {}, query: {}, headers: { 'content-type': 'application/json', ...secrets }, body: newOrder(5103), requestId: 'old-1' };
    await g.gateway.store.run(
      `INSERT INTO writes_dead_letters (id, source, operation, idem_key, request, reason, errors, attempts, accepted_at, dead_at, state, replays, updated_at) VALUES (?, 'outbox', 'createOrder', NULL, ?, 'exhausted', '[]', 1, 1, 1, 'dead', 0, 1)`,
      ['old-version-letter', JSON.stringify(request)],
    );
    const one = await adminCall('GET', '/dlq/old-version-letter');
    expect(one.status).toBe(200);
    expect(leaked(JSON.stringify(one.body)).filter((v) => v !== secrets['x-debug-note'])).toEqual([]);
  });

  it('keeps only allow-listed headers of a queued write', async () => {
    const res = await post(`${g.url}/orders`, newOrder(5102, 'C-2'), 'queued-credentials', secrets);
    expect(res.status).toBe(202);
    const entry = await g.gateway.writes.outbox.get(idOf(res.headers.get('location')));
    expect(entry?.request.headers).toMatchObject({ 'content-type': 'application/json', 'idempotency-key': 'queued-credentials' });
    const rows = await g.gateway.store.all<{ request: string }>('SELECT request FROM writes_outbox');
    expect(leaked(rows.map((r) => r.request).join('\n'))).toEqual([]);
  });
});
