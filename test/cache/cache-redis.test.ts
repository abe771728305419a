/**
 * The cache shared by two gateway instances through a real Redis (127.0.0.1:6379, a key prefix of
 * this run's own): an answer one instance stored is a hit on the other, a write through one reaches
 * the other's memory within a second (pub/sub), and with Redis unreachable the gateway serves from
 * the backend and memory, says so in /readyz and logs it once.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';
import { startUpstream } from '../fixtures/upstream-server.ts';

const ROOT = join(FIXTURES, 'http-gateway');
const PREFIX = `ficus-test-${randomUUID()}:`;

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let a: Awaited<ReturnType<typeof startGateway>>;
let b: Awaited<ReturnType<typeof startGateway>>;

async function redisReady(gw: typeof a): Promise<void> {
  await eventually(async () => {
    const r = (await (await fetch(`${gw.url}/readyz`)).json()) as { features?: { cache?: { redis?: { ok: boolean } } } };
    return r.features?.cache?.redis?.ok === true;
  });
}

beforeAll(async () => {
  upstream = await startUpstream();
  const env = { UPSTREAM_URL: upstream.url, CACHE_PREFIX: PREFIX };
  a = await startGateway(ROOT, env, { file: 'ficus-cache-redis.yaml' });
  b = await startGateway(ROOT, env, { file: 'ficus-cache-redis.yaml' });
  await redisReady(a);
  await redisReady(b);
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await upstream?.close();
  const redis = new Redis('redis://127.0.0.1:6379');
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('two instances sharing Redis', () => {
  it('an answer stored by one instance is a hit on the other', async () => {
    const before = upstream.callsTo('/customers/21');
    const first = await fetch(`${a.url}/customers/21`);
    expect(first.headers.get('ficus-cache')).toBe('miss');
    const other = await eventually(async () => {
      const r = await fetch(`${b.url}/customers/21`);
      return r.headers.get('ficus-cache') === 'hit' ? r : undefined;
    });
    expect(other.status).toBe(200);
    expect(other.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(upstream.callsTo('/customers/21') - before).toBe(1);
  });

  it("a write through one instance drops the other's memory copy within a second", async () => {
    await fetch(`${a.url}/customers?limit=9`);
    expect((await fetch(`${a.url}/customers?limit=9`)).headers.get('ficus-cache')).toBe('hit');
    const w = await fetch(`${b.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'invalidate' }) });
    expect(w.status).toBe(201);
    const written = performance.now();
    await eventually(async () => (await fetch(`${a.url}/customers?limit=9`)).headers.get('ficus-cache') === 'miss', 5_000, 'instance A dropped its entry', 5);
    expect(performance.now() - written).toBeLessThan(1_000);
  });
});

describe('Redis unreachable', () => {
  it('serves from the backend and memory, says so in /readyz, and logs it once', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    const gw = await startGateway(ROOT, { UPSTREAM_URL: upstream.url, CACHE_PREFIX: PREFIX, CACHE_REDIS_URL: `redis://127.0.0.1:${port}` }, { file: 'ficus-cache-redis.yaml' });
    try {
      const first = await fetch(`${gw.url}/customers/31`);
      expect(first.status).toBe(200);
      const second = await fetch(`${gw.url}/customers/31`);
      expect(second.headers.get('ficus-cache')).toBe('hit');
      const ready = await fetch(`${gw.url}/readyz`);
      const report = (await ready.json()) as { features: { cache: { ok: boolean; detail: string; redis: { ok: boolean; detail: string } } } };
      expect(report.features.cache.redis.ok).toBe(false);
      expect(report.features.cache.detail).toMatch(/Redis redis:\/\/127\.0\.0\.1:\d+ unreachable .*serving from the backends and memory/);
      // Still ready: the instance serves.
      expect(ready.status).toBe(200);
      await eventually(() => gw.logLines.some((l) => String(l.msg).includes('Redis is unreachable')));
      for (let i = 0; i < 5; i++) await fetch(`${gw.url}/customers/${40 + i}`);
      expect(gw.logLines.filter((l) => String(l.msg).includes('Redis is unreachable'))).toHaveLength(1);
    } finally {
      await gw.close();
    }
  });
});
