/**
 * Limits: rates and quotas per consumer and per operation (429 with Retry-After and the IETF
 * RateLimit/RateLimit-Policy headers), changed at run time through the admin API, shared by two
 * instances through Redis; and the ceiling on calls to a legacy adapter (never more than its rate in
 * a clock second; excess waits briefly or is 503 with Retry-After, and is counted).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/security/basic-credentials.ts';
import type { SecurityApi } from '../../src/security/security-feature.ts';
import { FIXTURES, startGateway, startHttpServer, type StartedGateway } from '../helpers/gateway.ts';
import { startIssuer, type TestIssuer } from '../helpers/jwt-issuer.ts';

const ROOT = `${FIXTURES}secure-gateway`;
const BASE = readFileSync(join(ROOT, 'ficus.yaml'), 'utf8').replace('level: info', 'level: silent');
const ADMIN = 'alice:alice-secret-token';

let issuer: TestIssuer;
let basicCredentials: string;
let upstream: Awaited<ReturnType<typeof startHttpServer>>;
/** Calls the upstream received, by clock second. */
const perSecond = new Map<number, number>();
/** When each call reached the upstream (performance.now()). */
const arrivals: number[] = [];

/**
 * At most `rate` calls in any second at the upstream, each call allowed up to `jitterMs` between
 * leaving the gateway (where the ceiling's sliding second is kept) and arriving (a loaded machine's delay).
 */
function expectAtMostPerSecond(rate: number, jitterMs = 300): void {
  const t = [...arrivals].sort((x, y) => x - y);
  for (let i = rate; i < t.length; i++) expect(t[i] - t[i - rate], `calls ${i - rate + 1} to ${i + 1} within one second`).toBeGreaterThanOrEqual(1000 - jitterMs);
}
const tmp = mkdtempSync(join(tmpdir(), 'ficus-limits-'));
const started: StartedGateway[] = [];

beforeAll(async () => {
  issuer = await startIssuer();
  basicCredentials = `clerk:${await hashPassword('pw')}`;
  upstream = await startHttpServer((req, res) => {
    const s = Math.floor(Date.now() / 1000);
    if (req.url?.startsWith('/echo')) {
      perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
      arrivals.push(performance.now());
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
afterEach(async () => {
  for (const g of started.splice(0)) await g.close();
});
afterAll(async () => {
  await upstream?.close();
  await issuer?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function gateway(limits: string): Promise<StartedGateway> {
  const file = join(tmp, `${randomUUID()}.yaml`);
  writeFileSync(file, `${BASE}\nlimits:\n${limits}\n`);
  const g = await startGateway(
    ROOT,
    { UPSTREAM_QUEUE_TIMEOUT_MS: '15000', UPSTREAM_URL: upstream.url, JWKS_URL: issuer.url, BASIC_CREDENTIALS: basicCredentials, FICUS_ADMIN_TOKENS: ADMIN },
    { file, adminServer: true },
  );
  started.push(g);
  return g;
}

async function keyFor(g: StartedGateway, name: string): Promise<string> {
  const s = g.gateway.feature<SecurityApi>('security') as SecurityApi;
  await s.consumers.addConsumer(name);
  return (await s.consumers.issueKey(name)).key;
}

const get = (g: StartedGateway, path: string, headers: Record<string, string> = {}) => fetch(g.url + path, { headers });

describe('rates and quotas at the door', () => {
  it("a consumer's rate: 429 rate-limited past it, with Retry-After and the RateLimit headers; others are not counted with it", async () => {
    const g = await gateway('  consumers:\n    acme: { rate: { limit: 3, window: 60s } }');
    const acme = await keyFor(g, 'acme');
    const other = await keyFor(g, 'globex');
    for (let i = 0; i < 3; i++) {
      const ok = await get(g, '/inherited', { 'x-api-key': acme });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('ratelimit-policy')).toBe('"consumer-rate";q=3;w=60');
      expect(ok.headers.get('ratelimit')).toMatch(new RegExp(`^"consumer-rate";r=${2 - i};t=\\d+$`));
    }
    const refused = await get(g, '/inherited', { 'x-api-key': acme });
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as { type: string; detail: string };
    expect(body.type).toBe('https://ficus.dev/problems/rate-limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit')).toMatch(/^"consumer-rate";r=0;t=\d+$/);
    // globex has no rule of its own and there is no default: unlimited.
    expect((await get(g, '/inherited', { 'x-api-key': other })).status).toBe(200);
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metrics).toMatch(/ficus_rate_limited_total\{consumer="acme",operation="inheritedOp",kind="rate"\} 1/);
  });

  it('an operation quota per day: each consumer its own count; 429 quota-exceeded until midnight UTC', async () => {
    const g = await gateway('  operations:\n    publicOp: { quota: { limit: 2, per: day } }');
    expect((await get(g, '/public')).status).toBe(200);
    expect((await get(g, '/public')).status).toBe(200);
    const refused = await get(g, '/public');
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { type: string }).type).toBe('https://ficus.dev/problems/quota-exceeded');
    const now = new Date();
    const untilMidnight = (Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000;
    expect(Math.abs(Number(refused.headers.get('retry-after')) - untilMidnight)).toBeLessThan(5);
    expect(refused.headers.get('ratelimit-policy')).toBe('"operation-quota";q=2;w=86400');
  });

  it('a limit changed through the admin API applies at once, is audited, and can be reset to ficus.yaml', async () => {
    const g = await gateway('  default: { rate: { limit: 1, window: 60s } }');
    expect((await get(g, '/public')).status).toBe(200);
    expect((await get(g, '/public')).status).toBe(429);
    const auth = { authorization: 'Bearer alice-secret-token', 'content-type': 'application/json' };
    const put = await fetch(`${g.adminUrl}/limits/consumer/anonymous`, { method: 'PUT', headers: auth, body: JSON.stringify({ rate: { limit: 50, window: '60s' } }) });
    expect(put.status).toBe(200);
    expect((await get(g, '/public')).status).toBe(200);
    const bad = await fetch(`${g.adminUrl}/limits/consumer/anonymous`, { method: 'PUT', headers: auth, body: JSON.stringify({ rate: { limit: -1 } }) });
    expect(bad.status).toBe(400);
    const audit = (await (await fetch(`${g.adminUrl}/audit`, { headers: auth })).json()) as { entries: { operationId: string; actor: string; action: string }[] };
    expect(audit.entries[0]).toMatchObject({ operationId: 'limits:consumer:anonymous', actor: 'alice', action: 'limits-set' });
    expect((await fetch(`${g.adminUrl}/limits/consumer/anonymous`, { method: 'DELETE', headers: auth })).status).toBe(200);
    expect((await get(g, '/public')).status).toBe(429);
  });

  it('two instances on one Redis count one limit together', async () => {
    const prefix = `ficus-test-${randomUUID()}`;
    const limits = `  store: { driver: redis, url: redis://127.0.0.1:6379, keyPrefix: ${prefix} }\n  default: { rate: { limit: 5, window: 60s } }`;
    const a = await gateway(limits);
    const b = await gateway(limits);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(a, '/public')).status, (await get(b, '/public')).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
  });
});

describe('the ceiling on a legacy adapter', () => {
  it('never more than ratePerSecond calls reach it in a clock second; excess is 503 overloaded with Retry-After, counted', async () => {
    const g = await gateway('  protect:\n    upstream: { ratePerSecond: 2, burst: 0, maxWait: 0s }');
    perSecond.clear();
    arrivals.length = 0;
    const answers = await Promise.all(Array.from({ length: 8 }, () => get(g, '/public')));
    const ok = answers.filter((r) => r.status === 200).length;
    const refused = answers.filter((r) => r.status === 503);
    expect(ok + refused.length).toBe(8);
    // (On a loaded machine the 8 calls may spread over several seconds: each second still lets 2 through, no more.)
    expect(ok).toBeLessThanOrEqual(2 * perSecond.size);
    expect(ok).toBe([...perSecond.values()].reduce((a, b) => a + b, 0));
    for (const r of refused) {
      expect(r.headers.get('retry-after')).toBe('1');
      expect(((await r.json()) as { type: string }).type).toBe('https://ficus.dev/problems/overloaded');
    }
    expectAtMostPerSecond(2);
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    if (refused.length > 0) expect(metrics).toMatch(new RegExp(`ficus_legacy_ceiling_total\\{adapter="upstream",outcome="refused"\\} ${refused.length}`));
  });

  it('with a burst, excess calls wait for the next second instead (within maxWait), still never over the rate', async () => {
    // Six calls at 2 a second need about 2 s of waiting; maxWait (and the calls' queue time, UPSTREAM_QUEUE_TIMEOUT_MS) leave room for a loaded machine's delays.
    const g = await gateway('  protect:\n    upstream: { ratePerSecond: 2, burst: 4, maxWait: 15s }');
    perSecond.clear();
    arrivals.length = 0;
    const answers = await Promise.all(Array.from({ length: 6 }, () => get(g, '/public')));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expectAtMostPerSecond(2);
    // Six at 2 a second: the last about 2 s after the first.
    expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeGreaterThanOrEqual(2000 - 2 * 300);
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metrics).toMatch(/ficus_legacy_ceiling_total\{adapter="upstream",outcome="waited"\} [1-9]/);
  });
});
