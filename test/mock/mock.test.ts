/**
 * `ficus mock`: the project's gateway with its legacy adapters served from recordings (the recorded
 * kind). It answers what was recorded (redacted values stay redacted), matches the request exactly,
 * then by path, then by operation as configured, still checks every answer against the contract,
 * and the sample's own recording replays against it with every exchange passing.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type RunningMock } from '../../src/mock/start-mock.ts';
import { parseExchangeLine, formatExchange } from '../../src/recording/exchange-format.ts';
import { exportRecordings } from '../../src/recording/interchange.ts';
import { runReplay } from '../../src/replay/run-replay.ts';
import { memoryLogger, PROJECT_ROOT } from '../helpers/gateway.ts';

/** Nothing of the sample estate runs: the modern service's URL points at a closed port. */
const env = { CUSTOMERS_SERVICE_URL: 'http://127.0.0.1:9' };
const quiet = () => memoryLogger('silent').logger;
const work = mkdtempSync(join(tmpdir(), 'ficus-mock-'));
let mock: RunningMock;

beforeAll(async () => {
  mock = await startMock({ root: PROJECT_ROOT, env, logger: quiet() });
});
afterAll(async () => {
  await mock?.close();
  rmSync(work, { recursive: true, force: true });
});

async function get(base: string, path: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers; ms: number }> {
  const t = performance.now();
  const res = await fetch(base + path, { headers: { accept: 'application/json' } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers, ms: performance.now() - t };
}

function recorded(op: string): ReturnType<typeof parseExchangeLine>[] {
  const dir = join(PROJECT_ROOT, 'recordings', op);
  const file = join(dir, readdirSync(dir)[0]);
  return readFileSync(file, 'utf8').trim().split('\n').map(parseExchangeLine);
}

describe('ficus mock', () => {
  it('serves every legacy adapter from the recordings, answers as recorded, redacted values still redacted', async () => {
    expect(mock.served.sort()).toEqual(['billing-ui', 'crm-db', 'mainframe-files']);
    const r = await get(mock.url, '/customers/1154');
    expect(r.status).toBe(200);
    expect(r.headers.get('ficus-backend')).toBe('legacy');
    const line = recorded('getCustomer').find((p) => p.ok && p.exchange.request.path === '/customers/1154');
    expect(line?.ok && line.exchange.response.body).toEqual(r.body);
    expect(r.body.email).toMatch(/^redacted:/);
    // Headers the adapter answered with were recorded, and come back.
    const p = await get(mock.url, '/products/HW-1042');
    expect(p.headers.get('x-data-source')).toMatch(/^PRODUCTS\./);
  });

  it('matches the request exactly, then by path; with nothing recorded for the path, a 404 problem', async () => {
    const exact = await get(mock.url, '/customers?limit=5');
    expect((exact.body.items as unknown[]).length).toBe(5);
    // No recording of limit=7: the most recent exchange of the same path answers.
    const byPath = await get(mock.url, '/customers?limit=7');
    expect(byPath.status).toBe(200);
    const lines = recorded('listCustomers').flatMap((l) => (l.ok ? [l.exchange] : []));
    const latest = lines.reduce((a, b) => (b.time >= a.time ? b : a));
    expect(byPath.body).toEqual(latest.response.body);
    const missing = await get(mock.url, '/customers/4242');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ type: 'https://ficus.dev/problems/not-found', detail: 'no recording of getCustomer answers GET /customers/4242' });
    // A recorded problem answer is given back as that problem.
    const recordedMissing = await get(mock.url, '/accounts/A999999');
    expect(recordedMissing.status).toBe(404);
    expect(recordedMissing.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(recordedMissing.body.type).toBe('https://ficus.dev/problems/not-found');
  });

  it("the sample's recording replays against it with every exchange passing, as JSON Lines and as HAR", async () => {
    const r = await runReplay({ against: mock.url, root: PROJECT_ROOT, env: {}, logger: quiet() });
    expect(r.run.results.length).toBe(80);
    expect(r.run.results.filter((x) => x.outcome !== 'pass').map((x) => `${x.item.file}:${x.item.line} ${x.outcome} ${x.reason ?? ''}`)).toEqual([]);
    expect(r.exitCode).toBe(0);
    const har = join(work, 'sample.har');
    writeFileSync(har, (await exportRecordings({ format: 'har', root: PROJECT_ROOT, env: {} })).text);
    const h = await runReplay({ against: mock.url, root: PROJECT_ROOT, env: {}, paths: [har], logger: quiet() });
    expect(h.run.bad).toEqual([]);
    expect(h.run.results.filter((x) => x.outcome === 'pass')).toHaveLength(80);
  });

  it('falls back to the most recent answer, waits a fixed latency, and fails the share of calls it is told to', async () => {
    const recent = await startMock({ root: PROJECT_ROOT, env, logger: quiet(), fallback: 'recent', latency: 'fixed', fixedLatencyMs: 150 });
    try {
      const r = await get(recent.url, '/customers/4242');
      const latest = recorded('getCustomer')
        .flatMap((l) => (l.ok ? [l.exchange] : []))
        .reduce((a, b) => (b.time >= a.time ? b : a));
      expect(r.status).toBe(latest.response.status);
      if (r.status === 200) expect(r.body).toEqual(latest.response.body);
      expect(r.ms).toBeGreaterThanOrEqual(145);
    } finally {
      await recent.close();
    }
    const faulty = await startMock({ root: PROJECT_ROOT, env, logger: quiet(), faultRate: 1 });
    try {
      const r = await get(faulty.url, '/products/HW-1042');
      expect(r.status).toBe(503);
      expect(r.body.type).toBe('https://ficus.dev/problems/upstream-unavailable');
    } finally {
      await faulty.close();
    }
  });

  it('still checks every answer against the contract: a recording that breaks it is a 502, not passed on', async () => {
    const dir = join(work, 'broken', 'getProduct');
    mkdirSync(dir, { recursive: true });
    const good = recorded('getProduct').find((l) => l.ok && l.exchange.response.status === 200);
    if (!good?.ok) throw new Error('no recorded product');
    const broken = { ...good.exchange, response: { ...good.exchange.response, body: { ...(good.exchange.response.body as object), price: 'not a number', unknownField: true } } };
    writeFileSync(join(dir, 'x.jsonl'), formatExchange(broken) + '\n');
    const m = await startMock({ root: PROJECT_ROOT, env, logger: quiet(), from: join(work, 'broken') });
    try {
      const r = await get(m.url, good.exchange.request.path);
      expect(r.status).toBe(502);
      expect(r.body.type).toBe('https://ficus.dev/problems/upstream-contract-violation');
    } finally {
      await m.close();
    }
  });
});
