/**
 * The cache and coalescing in front of the legacy billing web app (screen kind, real Chromium), with
 * the screen gateway's cache settings (test/fixtures/screen-gateway/ficus-cache.yaml):
 * 1. cold: one flow alone (its time), then CALLERS concurrent reads of one other account, cold: how many
 *    legacy flows ran, and when the last caller was answered (target: one flow, within one flow + 50 ms);
 * 2. flood: FLOOD concurrent reads of distinct accounts while a probe asks every 50 ms for an account
 *    already cached (target: every probe within 50 ms);
 * 3. legacy stopped: every cached account answered stale (staleIfError 1h), the others answered
 *    (failing) without hanging.
 *
 *   npm run bench -- test/bench/cache-screen.bench.ts     (BENCH_CALLERS=200 BENCH_FLOOD=400 BENCH_PAGES=4)
 */
import { copyFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { ResponseCache } from '../../src/cache/response-cache.ts';
import { screenEstate } from '../fixtures/screen-project.ts';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';

const CALLERS = Number(process.env.BENCH_CALLERS ?? 200);
const FLOOD = Number(process.env.BENCH_FLOOD ?? 400);
const PAGES = Number(process.env.BENCH_PAGES ?? 4);

const estate = await screenEstate({}, { BILLING_UI_PAGES: String(PAGES), BILLING_UI_QUEUE: '1000', BILLING_UI_QUEUE_TIMEOUT_MS: '60000' });
copyFileSync(join(FIXTURES, 'screen-gateway/ficus-cache.yaml'), join(estate.dir, 'ficus-cache.yaml'));
const gw = await startGateway(estate.dir, estate.env, { file: 'ficus-cache.yaml', level: 'silent' });
const cache = gw.gateway.feature<ResponseCache>('cache');
const hits = () => estate.legacy.stats.hits.get('GET /account') ?? 0;
const id = (n: number) => `A${String(n).padStart(6, '0')}`;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
async function timed(path: string): Promise<{ status: number; cache: string | null; ms: number; end: number }> {
  const t = performance.now();
  const r = await fetch(gw.url + path);
  await r.arrayBuffer();
  const end = performance.now();
  return { status: r.status, cache: r.headers.get('ficus-cache'), ms: end - t, end };
}
const counts = (xs: { status: number; cache: string | null }[]) => {
  const m = new Map<string, number>();
  for (const x of xs) m.set(`${x.status} ${x.cache}`, (m.get(`${x.status} ${x.cache}`) ?? 0) + 1);
  return [...m].map(([k, n]) => `${n} × ${k}`).join(', ');
};

console.log(
  `load before: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
try {
  // 1. Cold: one flow alone, then CALLERS at once for another account.
  await timed(`/accounts?name=zzzz`); // the browser and login warm
  // One flow alone: the median of three cold reads of distinct accounts, one at a time.
  const perFlowBefore = hits();
  const alone: number[] = [];
  for (const n of [185, 186, 187]) alone.push((await timed(`/accounts/${id(n)}`)).ms);
  const perFlow = (hits() - perFlowBefore) / alone.length;
  const one = { ms: pct(alone, 50) };
  const h = hits();
  const start = performance.now();
  const all = await Promise.all(Array.from({ length: CALLERS }, () => timed(`/accounts/${id(191)}`)));
  const ends = all.map((a) => a.end - start);
  const first = Math.min(...ends);
  const last = Math.max(...ends);
  console.log(`1. one flow alone: ${one.ms.toFixed(0)} ms, median of ${alone.map((x) => x.toFixed(0)).join(', ')} (${perFlow} legacy page(s) a flow)`);
  console.log(
    `   ${CALLERS} callers, one account, cold: legacy flows run ${(hits() - h) / perFlow}; last answered after ${last.toFixed(0)} ms (one flow + ${(last - one.ms).toFixed(0)} ms: ` +
      `the first answer after ${first.toFixed(0)} ms, the flow slowed by the ${CALLERS} arrivals; then the other ${CALLERS - 1} within ${(last - first).toFixed(0)} ms); ${counts(all)}`,
  );

  // 2. Flood of distinct accounts with a probe of a cached account every 50 ms.
  await timed(`/accounts/${id(1)}`);
  let flooding = true;
  const probes: number[] = [];
  const probing = (async () => {
    while (flooding) {
      const t = performance.now();
      const p = await timed(`/accounts/${id(1)}`);
      if (p.status === 200) probes.push(p.ms);
      const wait = 50 - (performance.now() - t);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  const fs = performance.now();
  const flood = await Promise.all(Array.from({ length: FLOOD }, (_, i) => timed(`/accounts/${id(2 + (i % 180))}`)));
  flooding = false;
  await probing;
  console.log(
    `2. flood of ${FLOOD} reads (${new Set(Array.from({ length: FLOOD }, (_, i) => i % 180)).size} distinct accounts) answered in ${((performance.now() - fs) / 1000).toFixed(1)} s: ${counts(flood)}`,
  );
  console.log(
    `   probe of a cached account every 50 ms: p50 ${pct(probes, 50).toFixed(1)} ms, p99 ${pct(probes, 99).toFixed(1)} ms, max ${Math.max(...probes).toFixed(1)} ms (n=${probes.length}, ${probes.filter((x) => x > 50).length} over 50 ms)`,
  );

  // 3. Legacy stopped: the cached accounts answer stale, the others fail without hanging.
  // The accounts that were answered (and so cached) before; the flood's overloaded ones were not.
  const cachedIds = [...new Set([1, 185, 186, 187, 191, ...flood.flatMap((f, i) => (f.status === 200 ? [2 + (i % 180)] : []))])].map(id);
  cache.configure('getAccount', { ...cache.routeConfig('getAccount')!, ttl: 1, staleWhileRevalidate: 0 });
  await estate.legacy.close();
  const s0 = performance.now();
  const stale = await Promise.all(cachedIds.map((a) => timed(`/accounts/${a}`)));
  const staleMs = performance.now() - s0;
  const o0 = performance.now();
  const others = await Promise.all(Array.from({ length: 20 }, (_, i) => timed(`/accounts/${id(300 + i)}`)));
  console.log(
    `3. legacy stopped: ${stale.filter((s) => s.status === 200).length}/${cachedIds.length} cached accounts answered (${counts(stale)}) in ${staleMs.toFixed(0)} ms, max ${Math.max(...stale.map((s) => s.ms)).toFixed(0)} ms`,
  );
  console.log(`   20 never-cached accounts: ${counts(others)}, all answered within ${(performance.now() - o0).toFixed(0)} ms (max ${Math.max(...others.map((s) => s.ms)).toFixed(0)} ms)`);
} finally {
  await gw.close();
  await estate.stop().catch(() => undefined);
}
console.log(
  `load after: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
