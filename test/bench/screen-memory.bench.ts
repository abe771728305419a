/**
 * Resident memory of the gateway and of its browser over many screen flows (getAccount through the
 * warm pool, 4 pages, 4 callers), sampled every BENCH_EVERY flows: the curve, and whether it stops
 * growing: the peak of the second half is within 10% of the peak of the first half (pages are
 * recycled, so the browser's curve is a saw, not a line). Then shutdown: no browser process left.
 *
 *   npm run bench -- test/bench/screen-memory.bench.ts
 *   BENCH_FLOWS=2000 BENCH_EVERY=200 BENCH_CALLERS=4 BENCH_MAX_USES=(the adapter's default)
 *   BENCH_TRACE=off (no Playwright tracing, hence no evidence)
 *   BILLING_UI_BROWSER_SERVER=process (the adapter's default: the browser's figure includes the Node process Playwright's server runs in) | inline
 *
 * Gateway: this process's RSS (it runs the gateway in-process, plus the small load loop), and its
 * JavaScript heap after a full GC (the steadier measure of what the gateway keeps).
 * Browser: the sum of the proportional set size (PSS, /proc/<pid>/smaps_rollup) of every process of
 * the pool's browser, so that memory shared between Chromium's processes is not counted twice.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { residentBytes } from '../../src/kinds/screen/process-tree.ts';
import type { ScreenAdapter } from '../../src/kinds/screen/screen-adapter.ts';
import { screenEstate } from '../fixtures/screen-project.ts';
import { startGateway } from '../helpers/gateway.ts';

const FLOWS = Number(process.env.BENCH_FLOWS ?? 2000);
const EVERY = Number(process.env.BENCH_EVERY ?? 200);
const CALLERS = Number(process.env.BENCH_CALLERS ?? 4);
const MAX_USES = process.env.BENCH_MAX_USES;

const mb = (b: number) => b / 1024 / 1024;
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const estate = await screenEstate(
  { delayMs: 0 },
  {
    BILLING_UI_PAGES: String(CALLERS),
    BILLING_UI_RETRIES: '0',
    ...(MAX_USES ? { BILLING_UI_MAX_USES: MAX_USES } : {}),
    ...(process.env.BENCH_TRACE === 'off' ? { BILLING_UI_EVIDENCE_KEEP: '0' } : {}),
    ...(process.env.BILLING_UI_BROWSER_SERVER ? { BILLING_UI_BROWSER_SERVER: process.env.BILLING_UI_BROWSER_SERVER } : {}),
  },
);
const gw = await startGateway(estate.dir, estate.env, { level: 'silent' });
const adapter = gw.gateway.adapters.find((a) => a.name === 'billing-ui')!.adapter as ScreenAdapter;
const pool = adapter.pool!;

const samples: { flows: number; gateway: number; heap: number; browser: number; processes: number; seconds: number }[] = [];
const started = performance.now();
const sample = (flows: number) => {
  const procs = pool.browserProcesses();
  gc();
  samples.push({
    flows,
    gateway: mb(process.memoryUsage().rss),
    heap: mb(process.memoryUsage().heapUsed),
    browser: mb(procs.reduce((s, pid) => s + residentBytes(pid), 0)),
    processes: procs.length,
    seconds: (performance.now() - started) / 1000,
  });
};
sample(0);
let next = 0;
let done = 0;
let failed = 0;
await Promise.all(
  Array.from({ length: CALLERS }, async () => {
    while (next < FLOWS) {
      const i = next++;
      const r = await fetch(`${gw.url}/accounts/A${String(1 + (i % 240)).padStart(6, '0')}`);
      await r.arrayBuffer();
      if (r.status !== 200) failed++;
      done++;
      if (done % EVERY === 0) sample(done);
    }
  }),
);
const stats = pool.stats();
const marks = pool.leftoverProcesses().length;
await gw.close();
const left = pool.leftoverProcesses();
await estate.stop();

console.log(`screen kind, memory over ${FLOWS} getAccount flows (${CALLERS} pages, ${CALLERS} callers)`);
console.log('  flows   seconds  gateway RSS MB  gateway heap MB (after GC)  browser PSS MB  browser processes');
for (const s of samples)
  console.log(
    `  ${String(s.flows).padStart(5)}  ${s.seconds.toFixed(1).padStart(7)}  ${s.gateway.toFixed(1).padStart(14)}  ${s.heap.toFixed(1).padStart(26)}  ${s.browser.toFixed(1).padStart(14)}  ${String(s.processes).padStart(17)}`,
  );
const mid = Math.ceil(samples.length / 2);
const peak = (xs: typeof samples, k: 'gateway' | 'heap' | 'browser') => Math.max(...xs.map((s) => s[k]));
const verdict = (k: 'gateway' | 'heap' | 'browser') => {
  const first = peak(samples.slice(1, mid), k);
  const second = peak(samples.slice(mid), k);
  return `${k} peak ${first.toFixed(0)} MB in the first half, ${second.toFixed(0)} MB in the second (${second <= first * 1.1 ? 'stops growing' : 'STILL GROWING'})`;
};
console.log(`  failed flows: ${failed}; pages created ${stats.pagesCreated}, recycled ${stats.pagesRecycled}; browser launches ${stats.launches}, replaced after their flows ${stats.browsersRotated}`);
console.log(`  ${verdict('gateway')}`);
console.log(`  ${verdict('heap')}`);
console.log(`  ${verdict('browser')}`);
console.log(`  browser processes before shutdown: ${marks}; after shutdown: ${left.length} ${left.length === 0 ? '(none left)' : `(LEFT: ${left.join(', ')})`}`);
