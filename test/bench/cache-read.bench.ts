/**
 * A cached read over loopback: one caller at a time, keep-alive, getCustomer of the http fixture
 * (test/fixtures/http-gateway/ficus-cache*.yaml), after the entries are filled.
 * - memory: the entry in this instance's memory;
 * - Redis: a second instance whose memory holds one entry, reading keys another instance stored, so
 *   that every read is answered from Redis (127.0.0.1:6379).
 * - invalidation: a write through one instance (createNote, which invalidates listCustomers) until the
 *   other instance has dropped its memory entries (Redis pub/sub): from the moment the writing instance
 *   dropped its own to the moment the other did, one write at a time.
 * Targets: p50 < 0.5 ms from memory, < 1 ms from Redis, invalidations everywhere within 1 s. `/healthz`
 * (no cache, no backend) is the same round trip's baseline on the machine as loaded at the time.
 *
 *   npm run bench -- test/bench/cache-read.bench.ts      (BENCH_READS=3000, BENCH_INVALIDATIONS=200)
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { startUpstream } from '../fixtures/upstream-server.ts';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import type { ResponseCache } from '../../src/cache/response-cache.ts';

const READS = Number(process.env.BENCH_READS ?? 3000);
const INVALIDATIONS = Number(process.env.BENCH_INVALIDATIONS ?? 200);
const ROOT = join(FIXTURES, 'http-gateway');
const PREFIX = `ficus-bench-${randomUUID()}:`;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function read(url: string): Promise<{ ms: number; cache: string }> {
  const t = performance.now();
  const r = await request(url);
  await r.body.text();
  return { ms: performance.now() - t, cache: String(r.headers['ficus-cache']) };
}

async function series(name: string, urls: string[]): Promise<void> {
  for (let i = 0; i < 200; i++) await read(urls[i % urls.length]); // warm
  const ms: number[] = [];
  const outcomes = new Map<string, number>();
  for (let i = 0; i < READS; i++) {
    const r = await read(urls[i % urls.length]);
    ms.push(r.ms);
    outcomes.set(r.cache, (outcomes.get(r.cache) ?? 0) + 1);
  }
  console.log(
    `${name.padEnd(8)} p50 ${pct(ms, 50).toFixed(3)} ms  p90 ${pct(ms, 90).toFixed(3)} ms  p99 ${pct(ms, 99).toFixed(3)} ms  (n=${ms.length}; ${[...outcomes].map(([k, n]) => `${n} ${k}`).join(', ')})`,
  );
}

const upstream = await startUpstream();
console.log(
  `load before: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
const mem = await startGateway(ROOT, { UPSTREAM_URL: upstream.url }, { file: 'ficus-cache.yaml', level: 'silent' });
const env = { UPSTREAM_URL: upstream.url, CACHE_PREFIX: PREFIX };
const filler = await startGateway(ROOT, env, { file: 'ficus-cache-redis.yaml', level: 'silent' });
const shared = await startGateway(ROOT, { ...env, CUSTOMER_MAX_ENTRIES: '1' }, { file: 'ficus-cache-redis.yaml', level: 'silent' });
try {
  // The same round trip without the cache or a backend, as the machine's baseline under its current load.
  await series('/healthz', [`${mem.url}/healthz`]);
  await series('memory', [`${mem.url}/customers/7`]);
  // Wait until both instances reach Redis, then fill 100 keys through one of them.
  for (const g of [filler, shared]) {
    for (let i = 0; i < 200; i++) {
      const r = (await (await fetch(`${g.url}/readyz`)).json()) as { features?: { cache?: { redis?: { ok: boolean } } } };
      if (r.features?.cache?.redis?.ok) break;
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  const ids = Array.from({ length: 100 }, (_, i) => 1000 + i);
  for (const id of ids) await read(`${filler.url}/customers/${id}`);
  await new Promise((res) => setTimeout(res, 200));
  await series(
    'Redis',
    ids.map((id) => `${shared.url}/customers/${id}`),
  );
  // Invalidation propagation: each write's drop on the writing instance, then on the other.
  const cacheOf = (g: typeof filler) => g.gateway.feature<ResponseCache>('cache');
  const spans: number[] = [];
  for (let i = 0; i < INVALIDATIONS; i++) {
    await read(`${shared.url}/customers?limit=5`);
    let droppedAt = 0;
    const stopA = cacheOf(filler).onInvalidated((e) => {
      if (e.cause === 'write') droppedAt = performance.now();
    });
    const heard = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no invalidation heard within 30 s')), 30_000);
      const stop = cacheOf(shared).onInvalidated((e) => {
        if (e.cause !== 'other-instance') return;
        clearTimeout(timer);
        stop();
        resolve(performance.now());
      });
    });
    const w = await request(`${filler.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: `bench ${i}` }) });
    await w.body.text();
    const at = await heard;
    stopA();
    spans.push(at - droppedAt);
  }
  console.log(
    `invalidation p50 ${pct(spans, 50).toFixed(3)} ms  p99 ${pct(spans, 99).toFixed(3)} ms  max ${Math.max(...spans).toFixed(3)} ms  (n=${spans.length}; writing instance → other instance's memory)`,
  );
} finally {
  await mem.close();
  await filler.close();
  await shared.close();
  await upstream.close();
  const redis = new Redis('redis://127.0.0.1:6379');
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}
console.log(
  `load after: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
