/**
 * The response cache and request coalescing on a real gateway in front of a real local HTTP service
 * (test/fixtures/upstream-server.ts), memory only: identical reads in flight share one call, a caller
 * hanging up does not cancel it for the others, answers come back from the cache with Age, ETag and
 * 304, a client's no-cache goes through, problems and off-contract answers are not cached (404 only
 * for negativeTtl), an answer larger than maxBytes is served but not cached, a write drops what it
 * makes stale, the backend failing is answered from stale entries, and the consumer is in the key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Feature } from '../../src/features/feature.ts';
import type { ResponseCache } from '../../src/cache/response-cache.ts';
import { request } from 'undici';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';
import { startUpstream } from '../fixtures/upstream-server.ts';

const ROOT = join(FIXTURES, 'http-gateway');

/** Stands in for the front door (issue 16): the consumer's name from a test header. */
const testConsumer: Feature = {
  name: 'test-consumer',
  checkConfig: () => [],
  install: async () => ({
    api: undefined,
    hooks: [
      {
        before: async (_route, req) => {
          req.consumer = req.headers['x-test-consumer'];
          return undefined;
        },
      },
    ],
  }),
};

const TOKEN = 'cache-admin-token-1';
let upstream: Awaited<ReturnType<typeof startUpstream>>;
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startGateway(ROOT, { UPSTREAM_URL: upstream.url, LIST_MAX_BYTES: '50B', FICUS_ADMIN_TOKENS: `ops:${TOKEN}` }, { file: 'ficus-cache.yaml', features: [testConsumer], adminServer: true });
});
afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

const cache = () => gw.gateway.feature<ResponseCache>('cache');
/** A GET as a plain client sends it (fetch adds Cache-Control: no-cache to conditional requests). */
const plainGet = async (path: string, headers: Record<string, string> = {}) => {
  const r = await request(gw.url + path, { headers });
  return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
};
const get = (path: string, headers: Record<string, string> = {}, signal?: AbortSignal) => fetch(gw.url + path, { headers, signal });

describe('coalescing', () => {
  it('identical reads in flight share one backend call, and every caller gets the same answer', async () => {
    const before = upstream.callsTo('/slow/1');
    const calls = Array.from({ length: 20 }, () => get('/slow/1'));
    await eventually(() => cache().inFlight().waiting === 20, undefined, 'every caller is waiting');
    upstream.release();
    const answers = await Promise.all(calls);
    expect(upstream.callsTo('/slow/1') - before).toBe(1);
    const bodies = await Promise.all(answers.map((r) => r.json()));
    for (const [i, r] of answers.entries()) {
      expect(r.status).toBe(200);
      expect(bodies[i]).toEqual({ waited: 1 });
    }
    // Listed without a ttl: coalesced, nothing kept.
    expect(
      cache()
        .status()
        .routes.find((r) => r.operationId === 'getSlow'),
    ).toMatchObject({ entries: 0 });
  });

  it('a caller that hangs up does not cancel the call for the others; when all have gone it is cancelled', async () => {
    const before = upstream.callsTo('/slow/1');
    const first = new AbortController();
    const leaving = get('/slow/1', {}, first.signal).catch((e: unknown) => e);
    await eventually(() => upstream.control.held.length === 1, undefined, 'the first call reached the upstream');
    const staying = get('/slow/1');
    // The second caller is waiting on the same call (coalesced) before the first leaves.
    await eventually(() => cache().inFlight().waiting === 2, undefined, 'the second caller joined');
    first.abort();
    await eventually(() => cache().inFlight().waiting === 1, undefined, 'the first caller left');
    expect(await leaving).toBeInstanceOf(Error);
    upstream.release();
    const r = await staying;
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ waited: 1 });
    expect(upstream.callsTo('/slow/1') - before).toBe(1);

    // Everyone gone: the shared call is cancelled, and the next caller starts a new one.
    const only = new AbortController();
    const gone = get('/slow/1', {}, only.signal).catch((e: unknown) => e);
    await eventually(() => upstream.control.held.length === 1, undefined, 'the lone call reached the upstream');
    only.abort();
    await gone;
    const again = get('/slow/1');
    await eventually(() => upstream.callsTo('/slow/1') - before === 3, undefined, 'a new call was started');
    upstream.release();
    expect((await again).status).toBe(200);
  });

  it('waiters get the same problem when the shared call fails', async () => {
    const before = upstream.callsTo('/slow/1');
    const calls = Array.from({ length: 5 }, () => get('/slow/1'));
    await eventually(() => upstream.control.held.length === 1 && cache().inFlight().waiting === 5, undefined, 'the call is held, every caller waiting');
    // The upstream drops the connection: the shared call fails (getSlow is not retried).
    upstream.control.held.splice(0);
    upstream.server.closeAllConnections();
    const answers = await Promise.all(calls);
    const seen = await Promise.all(answers.map(async (r) => JSON.stringify([r.status, ((await r.json()) as { type: string }).type])));
    expect(new Set(seen)).toEqual(new Set([JSON.stringify([502, 'https://ficus.dev/problems/upstream-error'])]));
    expect(upstream.callsTo('/slow/1') - before).toBe(1);
  });
});

describe('caching', () => {
  it('answers a repeated read from the cache with Age, ETag and Cache-Control, and 304 to If-None-Match', async () => {
    const before = upstream.callsTo('/customers/7');
    const first = await get('/customers/7');
    expect(first.status).toBe(200);
    expect(first.headers.get('ficus-cache')).toBe('miss');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    const second = await get('/customers/7');
    expect(second.headers.get('ficus-cache')).toBe('hit');
    expect(second.headers.get('age')).toMatch(/^\d+$/);
    expect(second.headers.get('cache-control')).toBe('private, max-age=3600, stale-if-error=3600');
    expect(second.headers.get('ficus-backend')).toBe('legacy');
    expect(await second.json()).toEqual(await first.json());
    const conditional = await plainGet('/customers/7', { 'if-none-match': etag! });
    expect(conditional.status).toBe(304);
    expect(conditional.text).toBe('');
    expect(conditional.headers.etag).toBe(etag);
    expect(upstream.callsTo('/customers/7') - before).toBe(1);
    // With no-cache (as fetch sends it on a conditional request) the backend is asked, and an unchanged answer is still 304.
    expect((await get('/customers/7', { 'if-none-match': etag! })).status).toBe(304);
    expect(upstream.callsTo('/customers/7') - before).toBe(2);
  });

  it('a client no-cache goes to the backend (and refreshes the entry)', async () => {
    await get('/customers/8');
    const before = upstream.callsTo('/customers/8');
    const r = await get('/customers/8', { 'cache-control': 'no-cache' });
    expect(r.status).toBe(200);
    expect(r.headers.get('ficus-cache')).toBe('bypass');
    expect(upstream.callsTo('/customers/8') - before).toBe(1);
  });

  it('one consumer never gets an answer cached for another', async () => {
    const before = upstream.callsTo('/customers/9');
    expect((await get('/customers/9', { 'x-test-consumer': 'alice' })).headers.get('ficus-cache')).toBe('miss');
    expect((await get('/customers/9', { 'x-test-consumer': 'bob' })).headers.get('ficus-cache')).toBe('miss');
    expect((await get('/customers/9', { 'x-test-consumer': 'alice' })).headers.get('ficus-cache')).toBe('hit');
    expect(upstream.callsTo('/customers/9') - before).toBe(2);
  });

  it('a response that breaks the contract is never cached', async () => {
    const before = upstream.callsTo('/customers/502');
    expect((await get('/customers/502')).status).toBe(502);
    expect((await get('/customers/502')).status).toBe(502);
    expect(upstream.callsTo('/customers/502') - before).toBe(2);
  });

  it('a 404 is kept for negativeTtl and comes back as the same problem', async () => {
    const before = upstream.callsTo('/customers/404');
    const a = await get('/customers/404');
    const b = await get('/customers/404');
    expect([a.status, b.status]).toEqual([404, 404]);
    expect(b.headers.get('ficus-cache')).toBe('hit');
    expect(await b.json()).toMatchObject({ type: 'https://ficus.dev/problems/not-found', detail: ((await a.json()) as { detail: string }).detail });
    expect(upstream.callsTo('/customers/404') - before).toBe(1);
  });

  it('an answer larger than maxBytes is served, not cached', async () => {
    const before = upstream.callsTo('/customers?');
    const a = await get('/customers?limit=3');
    const b = await get('/customers?limit=3');
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.headers.get('ficus-cache')).toBe('miss');
    expect(upstream.callsTo('/customers?') - before).toBe(2);
    const cache = gw.gateway.feature<ResponseCache>('cache');
    expect(cache.status().routes.find((r) => r.operationId === 'listCustomers')!.figures.notStored).toBeGreaterThanOrEqual(2);
  });

  it('a write drops the reads its route invalidates', async () => {
    const cache = gw.gateway.feature<ResponseCache>('cache');
    cache.configure('listCustomers', { ...cache.routeConfig('listCustomers')!, maxBytes: 100_000 });
    await get('/customers?limit=4');
    expect((await get('/customers?limit=4')).headers.get('ficus-cache')).toBe('hit');
    const w = await fetch(`${gw.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'moved' }) });
    expect(w.status).toBe(201);
    expect((await get('/customers?limit=4')).headers.get('ficus-cache')).toBe('miss');
  });

  it('the admin API shows each route and changes its settings, refusing the mistakes the config check refuses', async () => {
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(gw.adminUrl + path, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const status = (await (await admin('GET', '/cache')).json()) as { redis: unknown; routes: { operationId: string; entries: number; figures: { hits: number } }[] };
    expect(status.redis).toBeNull();
    expect(status.routes.find((r) => r.operationId === 'getCustomer')!.figures.hits).toBeGreaterThan(0);

    const refused = await admin('PUT', '/cache/routes/getCustomer', { vary: ['header.accept-language'] });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { detail: string }).detail).toContain('one consumer would be served an answer cached for another');
    const badDuration = await admin('PUT', '/cache/routes/getCustomer', { ttl: 'soon' });
    expect(badDuration.status).toBe(400);

    // Caching turned on at run time for a route the config did not cache.
    const on = await admin('PUT', '/cache/routes/getSlow', { ttl: '1h', reason: 'test' });
    expect(on.status).toBe(200);
    await get('/slow/0');
    expect((await get('/slow/0')).headers.get('ficus-cache')).toBe('hit');
    const dropped = (await (await admin('DELETE', '/cache/routes/getSlow/entries')).json()) as { dropped: number };
    expect(dropped.dropped).toBe(1);
    expect((await get('/slow/0')).headers.get('ficus-cache')).toBe('miss');
    expect((await admin('PUT', '/cache/routes/getSlow', { ttl: null })).status).toBe(200);
    expect((await get('/slow/0')).headers.get('ficus-cache')).toBeNull();
  });

  it('metrics per route: hits, misses, stale, coalesced, evictions, bytes', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/ficus_cache_requests_total\{operation="getCustomer",outcome="hit"\} [1-9]/);
    expect(text).toMatch(/ficus_cache_requests_total\{operation="getCustomer",outcome="miss"\} [1-9]/);
    expect(text).toMatch(/ficus_cache_coalesced_total\{operation="getSlow"\} [1-9]/);
    expect(text).toMatch(/ficus_cache_bytes\{operation="getCustomer"\} [1-9]/);
    expect(text).toMatch(/ficus_cache_entries\{operation="getCustomer"\} [1-9]/);
  });
  it('with the backend down, a staleIfError route answers from its stale entry with Warning and Age; others fail fast', async () => {
    const cache = gw.gateway.feature<ResponseCache>('cache');
    expect((await get('/customers/11')).status).toBe(200);
    // Make the entry stale at once (ttl 1 ms): it is past its ttl but inside staleIfError.
    cache.configure('getCustomer', { ...cache.routeConfig('getCustomer')!, ttl: 1 });
    // The upstream goes away (the last test: nothing after it needs it).
    await upstream.close();
    {
      const r = await eventually(async () => {
        const x = await get('/customers/11');
        return x.headers.get('warning')
          ? { status: x.status, headers: { warning: x.headers.get('warning'), 'ficus-cache': x.headers.get('ficus-cache'), age: x.headers.get('age') }, body: (await x.json()) as unknown }
          : undefined;
      });
      expect(r.status).toBe(200);
      expect(r.headers.warning).toBe('111 - "Revalidation Failed"');
      expect(r.headers['ficus-cache']).toBe('stale');
      expect(Number(r.headers.age)).toBeGreaterThanOrEqual(0);
      expect(r.body).toEqual({ id: 11, name: 'Customer 11', status: 'active' });
      const ready = await fetch(`${gw.url}/readyz`);
      const report = (await ready.json()) as { features?: { cache?: { servingStale: string[] } } };
      expect(report.features?.cache?.servingStale).toEqual(['getCustomer']);
      // A key never cached gets the backend's failure, not a hang.
      const other = await get('/customers/12');
      expect(other.status).toBeGreaterThanOrEqual(500);
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      expect(text).toMatch(/ficus_cache_requests_total\{operation="getCustomer",outcome="stale"\} [1-9]/);
    }
  });
});
