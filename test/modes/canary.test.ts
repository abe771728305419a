/** Canary mode: a sticky, stable split by a key the route names, and fallback to legacy when asked. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryBackend } from '../../src/routing/modes/canary.ts';
import { bucketGoesModern, bucketOf } from '../../src/routing/modes/stable-hash.ts';
import { stickyKeyOf } from '../../src/routing/modes/sticky-key.ts';
import type { OperationRequest } from '../../src/kinds/kind.ts';
import { startBackend, type Backend } from '../fixtures/migration-gateway/backends.ts';
import { admin, startMigrationGateway, type MigrationGateway } from '../fixtures/migration-gateway/harness.ts';

describe('canary split (stable hashing)', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `client-${i}`);

  const share = (ks: string[], percent: number) => (ks.filter((k) => canaryBackend('getCustomer', k, percent) === 'modern').length / ks.length) * 100;

  it.each([1, 5, 10, 90, 95, 99])('sends %i percent of 10,000 keys to modern, within 1 point', (percent) => {
    expect(Math.abs(share(keys, percent) - percent)).toBeLessThanOrEqual(1);
  });

  // Near 50% a stateless hash of 10,000 keys has a binomial spread of 0.5 points (one standard
  // deviation): within 1 point for about 95% of key sets. Checked over 20 different key sets.
  const sets = Array.from({ length: 20 }, (_, s) => Array.from({ length: 10_000 }, (_, i) => bucketOf('getCustomer', `set${s}-key-${i}`)));
  it.each([25, 50, 75])('splits %i percent as evenly as chance allows: 20 key sets, 18 of them within 1 point, none beyond 4 standard deviations', (percent) => {
    const sd = Math.sqrt(((percent / 100) * (1 - percent / 100)) / 10_000) * 100;
    const deviations = sets.map((buckets) => buckets.filter((b) => bucketGoesModern(b, percent)).length / 100 - percent);
    expect(deviations.filter((d) => Math.abs(d) <= 1).length).toBeGreaterThanOrEqual(18);
    expect(Math.max(...deviations.map(Math.abs))).toBeLessThanOrEqual(4 * sd);
    expect(Math.abs(deviations.reduce((a, d) => a + d, 0) / deviations.length)).toBeLessThan(0.3);
  });

  it('gives a key the same backend every time, and raising the percentage only moves keys to modern', () => {
    const at10 = keys.map((k) => canaryBackend('getCustomer', k, 10));
    expect(keys.map((k) => canaryBackend('getCustomer', k, 10))).toEqual(at10);
    const at50 = keys.map((k) => canaryBackend('getCustomer', k, 50));
    at10.forEach((b, i) => {
      if (b === 'modern') expect(at50[i]).toBe('modern');
    });
    expect(keys.every((k) => canaryBackend('getCustomer', k, 0) === 'legacy')).toBe(true);
    expect(keys.every((k) => canaryBackend('getCustomer', k, 100) === 'modern')).toBe(true);
  });

  it('splits each route on its own (a key is not modern on every route at once)', () => {
    const a = keys.map((k) => bucketOf('getCustomer', k) < 5000);
    const b = keys.map((k) => bucketOf('listCustomers', k) < 5000);
    const same = a.filter((x, i) => x === b[i]).length;
    expect(same / keys.length).toBeGreaterThan(0.45);
    expect(same / keys.length).toBeLessThan(0.55);
  });
});

describe('the sticky key', () => {
  const req: OperationRequest = {
    operationId: 'getCustomer',
    method: 'GET',
    pathParams: { customerId: 1042 },
    query: { region: 'north' },
    headers: { 'x-client-id': 'acme' },
    body: undefined,
    requestId: 'req-1',
    signal: new AbortController().signal,
  };

  it('comes from a path parameter, a header (any case) or a query parameter', () => {
    expect(stickyKeyOf('path.customerId', req)).toBe('1042');
    expect(stickyKeyOf('header.X-Client-Id', req)).toBe('acme');
    expect(stickyKeyOf('query.region', req)).toBe('north');
  });

  it('falls back to the request id (a random split) when the call does not carry it', () => {
    expect(stickyKeyOf('header.x-tenant', req)).toBe('req-1');
    expect(stickyKeyOf(undefined, req)).toBe('req-1');
  });
});

describe('canary mode in a running gateway', () => {
  let legacy: Backend;
  let modern: Backend;
  let g: MigrationGateway;

  beforeAll(async () => {
    legacy = await startBackend();
    modern = await startBackend();
    g = await startMigrationGateway({
      env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url },
      routes: {
        getCustomer: { mode: 'canary', percent: 30, canary: { key: 'header.x-client-id' } },
        listCustomers: { mode: 'canary', percent: 100, canary: { fallbackToLegacy: true } },
      },
    });
  });
  afterAll(async () => {
    await g?.close();
    await legacy?.close();
    await modern?.close();
  });

  it('keeps each client on one backend, says which in Ficus-Backend, and splits near the percentage', async () => {
    const seen = new Map<string, Set<string>>();
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          const res = await fetch(`${g.url}/customers/${1001 + ((i * 7 + round) % 50)}`, { headers: { 'x-client-id': `client-${i}` } });
          expect(res.status).toBe(200);
          const backend = res.headers.get('ficus-backend') as string;
          expect(backend).toBe(canaryBackend('getCustomer', `client-${i}`, 30));
          seen.set(`client-${i}`, (seen.get(`client-${i}`) ?? new Set()).add(backend));
        }),
      );
    }
    expect([...seen.values()].every((s) => s.size === 1)).toBe(true);
    const modernClients = [...seen.values()].filter((s) => s.has('modern')).length;
    expect(modernClients).toBeGreaterThan(5);
    expect(modernClients).toBeLessThan(40);
    expect(modern.hitCount('GET /customers/')).toBe(modernClients * 3);
  });

  it('moves a client only when the percentage changes', async () => {
    const client = Array.from({ length: 200 }, (_, i) => `c${i}`).find((k) => canaryBackend('getCustomer', k, 30) === 'legacy' && canaryBackend('getCustomer', k, 100) === 'modern') as string;
    const backendFor = async () => (await fetch(`${g.url}/customers/1001`, { headers: { 'x-client-id': client } })).headers.get('ficus-backend');
    expect(await backendFor()).toBe('legacy');
    expect((await admin(g.adminUrl, 'PUT', '/routes/getCustomer/mode', { mode: 'canary', percent: 100, reason: 'all clients to modern' })).status).toBe(200);
    expect(await backendFor()).toBe('modern');
  });

  it('answers from legacy when modern fails and the route says fallbackToLegacy, and counts it', async () => {
    modern.knobs.failing = true;
    try {
      const res = await fetch(`${g.url}/customers?limit=2`);
      expect(res.status).toBe(200);
      expect(res.headers.get('ficus-backend')).toBe('legacy');
      expect(res.headers.get('ficus-fallback')).toMatch(/modern failed: 502/);
      expect(((await res.json()) as { items: unknown[] }).items).toHaveLength(2);
      const view = (await admin(g.adminUrl, 'GET', '/routes/listCustomers')).body;
      expect(view.fallbacks).toBe(1);
      expect(view.modern.figures.errors).toBe(1);
      // Without fallbackToLegacy, the caller sees modern's failure.
      const plain = await fetch(`${g.url}/customers/1001`, { headers: { 'x-client-id': 'anyone' } });
      expect(plain.status).toBe(502);
      expect(plain.headers.get('ficus-backend')).toBe('modern');
    } finally {
      modern.knobs.failing = false;
    }
  });
});
