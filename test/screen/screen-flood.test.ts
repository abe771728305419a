/**
 * The screen routes under a flood: far more concurrent reads of one operation than the legacy app
 * has pages. Every caller gets an answer within the queue time (200, or 503 `overloaded` with
 * Retry-After), queueing is not taken for a failing backend (the circuit stays closed), and the
 * flooded operation does not take every page from the others. Timings: test/bench/screen-flood.bench.ts.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { screenEstate, type ScreenEstate } from '../fixtures/screen-project.ts';
import { startGateway } from '../helpers/gateway.ts';
import type { ScreenAdapter } from '../../src/kinds/screen/screen-adapter.ts';

const FLOOD = 400;

let estate: ScreenEstate;
let gw: Awaited<ReturnType<typeof startGateway>>;
let adapter: ScreenAdapter;

interface Answer {
  status: number;
  type?: string;
  retryAfter: string | null;
  accountId?: string;
  at: number;
}

const get = async (path: string): Promise<Answer> => {
  const r = await fetch(gw.url + path);
  const body = (await r.json()) as { type?: string; accountId?: string; items?: unknown[] };
  return { status: r.status, type: body.type, retryAfter: r.headers.get('retry-after'), accountId: body.accountId, at: performance.now() };
};

beforeAll(async () => {
  estate = await screenEstate(
    { delayMs: 5 },
    {
      BILLING_UI_PAGES: '3',
      BILLING_UI_QUEUE: '200',
      // The default retry (one for a safe operation) is on, as in production.
      BILLING_UI_TIMEOUT_MS: '20000',
      // Longer than the default 2 s, so that the flood outlasts any probe by far even on a loaded machine.
      BILLING_UI_QUEUE_TIMEOUT_MS: '8000',
    },
  );
  gw = await startGateway(estate.dir, estate.env);
  adapter = gw.gateway.adapters.find((a) => a.name === 'billing-ui')!.adapter as ScreenAdapter;
});

afterAll(async () => {
  await gw?.close();
  await estate?.stop();
});

describe('a flood of one screen operation', () => {
  it('every caller is answered 200 or 503 overloaded with Retry-After, the circuit stays closed, and other operations are served meanwhile', async () => {
    // Each legacy page takes 100 ms: the pool serves a few reads a second, the flood asks for 400 at once.
    estate.legacy.setDelay(100);
    try {
      const flood = Array.from({ length: FLOOD }, (_, i) => get(`/accounts/A${String(1 + (i % 200)).padStart(6, '0')}`));
      await vi.waitFor(() => expect(adapter.pool!.stats().waiting).toBeGreaterThan(0), { timeout: 30_000, interval: 20 });
      // Another operation of the same legacy app, and the flooded one, asked during the flood.
      const other = get('/accounts?name=zzzz');
      const same = get('/accounts/A000007');
      const answers = await Promise.all(flood);
      const lastFloodAnswer = Math.max(...answers.map((a) => a.at));

      for (const a of answers) {
        if (a.status === 200) continue;
        expect({ status: a.status, type: a.type }).toEqual({ status: 503, type: 'https://ficus.dev/problems/overloaded' });
        expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
      }
      const served = answers.filter((a) => a.status === 200);
      expect(served.length).toBeGreaterThan(0);
      expect(answers.filter((a) => a.status === 503).length).toBeGreaterThan(0);

      const o = await other;
      expect(o.status).toBe(200);
      // A page was left to the other operation: it did not queue behind the flood.
      expect(o.at).toBeLessThan(lastFloodAnswer);
      const s = await same;
      expect([200, 503]).toContain(s.status);
      if (s.status === 503) expect(s.retryAfter).not.toBeNull();

      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/ficus_circuit_state\{adapter="billing-ui",operation="getAccount"\} 0/);
    } finally {
      estate.legacy.setDelay(5);
    }
    // And once the flood is over, the operation serves as before.
    const after = await get('/accounts/A000009');
    expect([after.status, after.accountId]).toEqual([200, 'A000009']);
  }, 90_000);
});
