/**
 * Shadow and replay calls are marked for the backend: modern gets `Ficus-Shadow: true` on the calls
 * shadow mode and replay make, never on a caller's own call; the header's name is the http
 * adapter's `shadowHeader`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessGatewayTarget } from '../../src/replay/replay-target.ts';
import { startBackend, type Backend } from '../fixtures/migration-gateway/backends.ts';
import { startMigrationGateway, type MigrationGateway } from '../fixtures/migration-gateway/harness.ts';

describe('shadow traffic is marked', () => {
  let legacy: Backend;
  let modern: Backend;
  let g: MigrationGateway;

  beforeAll(async () => {
    legacy = await startBackend();
    modern = await startBackend();
    g = await startMigrationGateway({
      env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url },
      routes: { getCustomer: { mode: 'shadow' }, listCustomers: { mode: 'modern' } },
    });
  });
  afterAll(async () => {
    await g?.close();
    await legacy?.close();
    await modern?.close();
  });

  it("modern's shadow call carries Ficus-Shadow: true; the caller's legacy call and a modern route's real call do not", async () => {
    expect((await fetch(`${g.url}/customers/1001`)).status).toBe(200);
    await g.gateway.control.shadow.drain();
    expect(modern.shadowMarks).toEqual(['GET /customers/1001 true']);
    expect(legacy.shadowMarks).toEqual(['GET /customers/1001 -']);
    expect((await fetch(`${g.url}/customers?limit=2`)).status).toBe(200);
    expect(modern.shadowMarks.at(-1)).toBe('GET /customers -');
  });

  it('replayed calls are marked too', async () => {
    const target = await InProcessGatewayTarget.start({ root: g.dir, file: 'ficus.yaml', env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url }, connections: 1, backend: 'modern' });
    try {
      const answer = await target.send({ method: 'GET', path: '/customers/1002', query: {}, headers: {}, body: null });
      expect(answer.status).toBe(200);
      expect(modern.shadowMarks.at(-1)).toBe('GET /customers/1002 true');
    } finally {
      await target.close();
    }
  });
});

describe("the marking header is the adapter's to name", () => {
  let legacy: Backend;
  let modern: Backend;
  let g: MigrationGateway;

  beforeAll(async () => {
    legacy = await startBackend({}, 'X-Shadow-Call');
    modern = await startBackend({}, 'X-Shadow-Call');
    g = await startMigrationGateway({
      env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url, MODERN_SHADOW_HEADER: 'X-Shadow-Call' },
      routes: { getCustomer: { mode: 'shadow' } },
    });
  });
  afterAll(async () => {
    await g?.close();
    await legacy?.close();
    await modern?.close();
  });

  it('shadowHeader: X-Shadow-Call marks the shadow call with that header, and only the shadow call', async () => {
    expect((await fetch(`${g.url}/customers/1003`)).status).toBe(200);
    await g.gateway.control.shadow.drain();
    expect(modern.shadowMarks).toEqual(['GET /customers/1003 true']);
    expect(legacy.shadowMarks).toEqual(['GET /customers/1003 -']);
  });
});
