/**
 * Shadow mode: the caller gets legacy's answer, always; modern is called off the caller's path and
 * compared; mismatches are counted and kept with their diffs; noise is found and ignored with one
 * command; unsafe calls are not shadowed unless the modern binding is side-effect free.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../fixtures/migration-gateway/backends.ts';
import { admin, startMigrationGateway, type MigrationGateway } from '../fixtures/migration-gateway/harness.ts';

describe('shadow mode', () => {
  let legacy: Backend;
  let modern: Backend;
  let g: MigrationGateway;
  const drain = () => g.gateway.control.shadow.drain();

  beforeAll(async () => {
    legacy = await startBackend();
    modern = await startBackend({ driftEvery: 5 });
    g = await startMigrationGateway({
      env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url },
      routes: {
        getCustomer: { mode: 'shadow' },
        listCustomers: { mode: 'shadow', compare: { ignore: ['$.items[*].vip'] } },
        getQuote: { mode: 'shadow' },
        createNote: { mode: 'shadow' },
      },
    });
  });
  afterAll(async () => {
    await g?.close();
    await legacy?.close();
    await modern?.close();
  });

  it('serves legacy, compares with modern, and counts and keeps the deliberate differences', async () => {
    for (let id = 1001; id <= 1020; id++) {
      const res = await fetch(`${g.url}/customers/${id}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('ficus-backend')).toBe('legacy');
      const body = (await res.json()) as { id: number; vip: boolean };
      const legacyAnswer = (await (await fetch(`${legacy.url}/customers/${id}`)).json()) as { vip: boolean };
      expect(body.vip).toBe(legacyAnswer.vip);
    }
    await drain();
    const view = (await admin(g.adminUrl, 'GET', '/routes/getCustomer')).body;
    // Every 5th id drifts: 1005, 1010, 1015, 1020.
    expect(view.shadow).toMatchObject({ compared: 20, matched: 16, mismatched: 4, matchRate: 80, modernFailed: 0 });
    expect(view.modern.figures.calls).toBe(20);
    expect(view.modern.figures.served).toBe(0);
    expect(view.modernShare).toBe(0);
    const mm = (await admin(g.adminUrl, 'GET', '/routes/getCustomer/mismatches?limit=10')).body.mismatches;
    expect(mm.map((m: { request: string }) => m.request)).toEqual(['GET /customers/1020', 'GET /customers/1015', 'GET /customers/1010', 'GET /customers/1005']);
    expect(mm[0].differences).toEqual([{ path: '$.vip', legacy: mm[0].legacyBody.vip, modern: !mm[0].legacyBody.vip, kind: 'changed' }]);
    expect(mm[0].modernBody.vip).toBe(!mm[0].legacyBody.vip);
  });

  it('keeps mismatches redacted as recordings are: no personal data in the state store', async () => {
    const rows = await g.gateway.store.all<{ request: string; legacy_body: string; modern_body: string; differences: string }>(
      'SELECT request, legacy_body, modern_body, differences FROM ficus_shadow_mismatch',
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const body = JSON.parse(row.legacy_body) as { email: string | null; id: number };
      const plain = (await (await fetch(`${legacy.url}/customers/${body.id}`)).json()) as { email: string | null };
      if (plain.email !== null) expect(body.email).toMatch(/^redacted:/);
      expect(`${row.request} ${row.legacy_body} ${row.modern_body} ${row.differences}`).not.toMatch(/@[a-z0-9-]+\./i);
    }
  });

  it("applies the route's ignore rules from the config", async () => {
    const res = await fetch(`${g.url}/customers?limit=10`);
    expect(res.status).toBe(200);
    await drain();
    const view = (await admin(g.adminUrl, 'GET', '/routes/listCustomers')).body;
    expect(view.shadow).toMatchObject({ compared: 1, matched: 1 });
    expect(view.compare.ignore.config).toEqual(['$.items[*].vip']);
  });

  it('compares problem answers by status: a 404 on both sides is a match', async () => {
    const res = await fetch(`${g.url}/customers/99999`);
    expect(res.status).toBe(404);
    await drain();
    const view = (await admin(g.adminUrl, 'GET', '/routes/getCustomer')).body;
    expect(view.shadow).toMatchObject({ compared: 21, matched: 17 });
  });

  it("never lets modern's slowness or failure reach the caller", async () => {
    let release!: () => void;
    modern.knobs.hold = new Promise<void>((r) => (release = r));
    try {
      // Modern does not answer until the caller has legacy's answer: a caller that waited for modern would never get one.
      const res = await fetch(`${g.url}/customers/1001`, { signal: AbortSignal.timeout(20_000) });
      expect(res.status).toBe(200);
      expect(res.headers.get('ficus-backend')).toBe('legacy');
      await res.arrayBuffer();
    } finally {
      modern.knobs.hold = null;
      release();
    }
    await drain();
    modern.knobs.failing = true;
    try {
      const res = await fetch(`${g.url}/customers/1002`);
      expect(res.status).toBe(200);
      expect(res.headers.get('ficus-backend')).toBe('legacy');
      await drain();
    } finally {
      modern.knobs.failing = false;
    }
    const view = (await admin(g.adminUrl, 'GET', '/routes/getCustomer')).body;
    expect(view.shadow.modernFailed).toBe(1);
    expect(view.shadow.compared).toBe(22); // the slow answer was compared, the failed one was not
    expect(view.modern.figures.errors).toBe(1);
  });

  it("does not hold legacy's own failure against modern: a call legacy failed is not a comparison", async () => {
    const before = (await admin(g.adminUrl, 'GET', '/routes/getCustomer')).body.shadow;
    const modernCalls = modern.hitCount('GET /customers/');
    legacy.knobs.failing = true;
    try {
      const res = await fetch(`${g.url}/customers/1003`);
      expect(res.status).toBe(502);
      await drain();
    } finally {
      legacy.knobs.failing = false;
    }
    const view = (await admin(g.adminUrl, 'GET', '/routes/getCustomer')).body;
    expect(view.shadow).toMatchObject({ compared: before.compared, mismatched: before.mismatched, matchRate: before.matchRate, legacyFailed: 1 });
    expect(modern.hitCount('GET /customers/')).toBe(modernCalls);
  });

  it('finds noise (fields that differ between two answers of legacy) and ignores it with one command', async () => {
    await fetch(`${g.url}/quotes/7`);
    await drain();
    const mm = (await admin(g.adminUrl, 'GET', '/routes/getQuote/mismatches')).body.mismatches;
    expect(mm[0].differences).toEqual([expect.objectContaining({ path: '$.quotedAt', noisy: true })]);
    const noise = (await admin(g.adminUrl, 'GET', '/routes/getQuote/noise')).body;
    expect(noise.noisy).toEqual([{ path: '$.quotedAt', seen: 1 }]);

    const ignored = await admin(g.adminUrl, 'POST', '/routes/getQuote/ignore', { noisy: true, reason: 'quotedAt is the moment of the call' });
    expect(ignored.status).toBe(200);
    expect(ignored.body.compare.ignore.runtime).toEqual(['$.quotedAt']);
    // Comparisons start afresh under the new rules, and now match.
    expect(ignored.body.shadow.compared).toBe(0);
    await fetch(`${g.url}/quotes/8`);
    await drain();
    expect((await admin(g.adminUrl, 'GET', '/routes/getQuote')).body.shadow).toMatchObject({ compared: 1, matched: 1 });
    const audit = (await admin(g.adminUrl, 'GET', '/audit?operationId=getQuote&limit=1')).body.entries[0];
    expect(audit).toMatchObject({ actor: 'alice', action: 'ignore', from: '[]', to: '["$.quotedAt"]', reason: 'quotedAt is the moment of the call' });
  });

  it('does not shadow an unsafe call unless the modern binding is side-effect free', async () => {
    const res = await fetch(`${g.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'hello' }) });
    expect(res.status).toBe(201);
    await drain();
    expect(legacy.notes).toHaveLength(1);
    expect(modern.notes).toHaveLength(0);
    expect((await admin(g.adminUrl, 'GET', '/routes/createNote')).body.shadow.skippedUnsafe).toBe(1);
  });
});

describe('shadow mode with a side-effect-free (dry-run) modern binding', () => {
  it('shadows unsafe calls too', async () => {
    const legacy = await startBackend();
    const modern = await startBackend();
    const g = await startMigrationGateway({
      env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url },
      routes: { createNote: { mode: 'shadow', shadow: { sideEffectFree: true } } },
    });
    try {
      const res = await fetch(`${g.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'dry run' }) });
      expect(res.status).toBe(201);
      await g.gateway.control.shadow.drain();
      expect(modern.notes).toEqual([JSON.stringify({ text: 'dry run' })]);
      expect((await admin(g.adminUrl, 'GET', '/routes/createNote')).body.shadow).toMatchObject({ compared: 1, matched: 1, skippedUnsafe: 0 });
    } finally {
      await g.close();
      await legacy.close();
      await modern.close();
    }
  });
});

describe('shadow sampling', () => {
  it('shadows only the share of calls the route asks for', async () => {
    const legacy = await startBackend();
    const modern = await startBackend();
    const g = await startMigrationGateway({
      env: { LEGACY_URL: legacy.url, MODERN_URL: modern.url },
      routes: { getCustomer: { mode: 'shadow', shadow: { sample: 50 } }, getQuote: { mode: 'shadow', shadow: { sample: 0 } } },
    });
    try {
      for (let i = 0; i < 100; i++) {
        expect((await fetch(`${g.url}/customers/${1001 + i}`)).status).toBe(200);
        if (i < 10) expect((await fetch(`${g.url}/quotes/${i + 1}`)).status).toBe(200);
      }
      await g.gateway.control.shadow.drain();
      const gc = (await admin(g.adminUrl, 'GET', '/routes/getCustomer')).body.shadow;
      expect(gc.compared + gc.sampledOut).toBe(100);
      expect(gc.compared).toBeGreaterThan(25);
      expect(gc.compared).toBeLessThan(75);
      expect(modern.hitCount('GET /customers/')).toBe(gc.compared);
      expect((await admin(g.adminUrl, 'GET', '/routes/getQuote')).body.shadow).toMatchObject({ compared: 0, sampledOut: 10, sample: 0 });
      expect(modern.hitCount('GET /quotes/')).toBe(0);
    } finally {
      await g.close();
      await legacy.close();
      await modern.close();
    }
  });
});
