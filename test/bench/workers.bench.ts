/**
 * Issue 18's "every core" figure: requests per second of `ficus start --workers 2` against
 * `--workers 1`, in one run, with the bare Express 5 + undici proxy (one process, and two with
 * node:cluster) and nginx (1 and 2 worker processes, when installed) beside it. A GET served by the
 * http kind from the sample modern service (test/fixtures/bench-gateway, everything on).
 *
 *   npm run bench -- test/bench/workers.bench.ts      (BENCH_SECONDS=10 BENCH_CONNECTIONS=20 BENCH_ROUNDS=3)
 *
 * Each target runs in its own processes; wrk (one thread) drives it over loopback after a warm-up.
 * The targets take turns for BENCH_ROUNDS rounds; each one's median round is reported. On a
 * 2-core machine wrk and the modern service share the cores with the workers: say so with the figures.
 */
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startFicusWorkers } from './support/ficus-start.ts';
import { hasCommand, startChild, wrk, type Child, type LoadResult } from './support/load.ts';
import { startNginx } from './support/nginx.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PATH = '/customers/1042';
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const loadBefore = loadavg()
  .map((l) => l.toFixed(1))
  .join(' ');

async function measure(name: string, target: Child): Promise<LoadResult> {
  const check = await fetch(target.url + PATH).catch(() => fetch(target.url + PATH));
  if (check.status !== 200) throw new Error(`${name} answered ${check.status}`);
  wrk(target.url + PATH, CONNECTIONS, Math.min(3, SECONDS)); // warm-up (JIT, connection pools) of every worker
  const r = wrk(target.url + PATH, CONNECTIONS, SECONDS);
  if (r.errors > 0) throw new Error(`${name}: ${r.errors} errors under load`);
  return r;
}

const service = await startChild(here('./support/modern-service.ts'));
const running: { name: string; child: Child; rounds: LoadResult[] }[] = [];
try {
  const targets: [string, () => Promise<Child>][] = [
    ['Express 5 + undici proxy, 1 process', () => startChild(here('./support/bare-express-proxy.ts'), [service.url])],
    ['Express 5 + undici proxy, 2 processes (node:cluster)', () => startChild(here('./support/bare-express-cluster.ts'), [service.url, '2'])],
    ['Ficus, --workers 1', () => startFicusWorkers(service.url, 1)],
    ['Ficus, --workers 2', () => startFicusWorkers(service.url, 2)],
  ];
  if (hasCommand('nginx')) targets.unshift(['nginx, 1 worker', () => startNginx(service.url, PATH, 1)], ['nginx, 2 workers', () => startNginx(service.url, PATH, 2)]);
  else console.log('nginx not installed (apt-get install nginx): skipping it');
  for (const [name, start] of targets) running.push({ name, child: await start(), rounds: [] });
  for (let round = 0; round < ROUNDS; round++) for (const t of running) t.rounds.push(await measure(t.name, t.child));
  const median = (t: { rounds: LoadResult[] }) => [...t.rounds].sort((a, b) => a.rps - b.rps)[Math.floor(t.rounds.length / 2)];
  console.log(
    `\nGET ${PATH} over loopback, wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, median of ${ROUNDS} rounds taken in turns (${availableParallelism()} cores, node ${process.version}, load average before: ${loadBefore})\n`,
  );
  for (const t of running) console.log(`  ${t.name}: rounds ${t.rounds.map((r) => `${r.rps.toFixed(0)}/s`).join(', ')}`);
  console.log('\n| target | requests/s | p50 ms | p99 ms |\n|---|---:|---:|---:|');
  for (const t of running) {
    const r = median(t);
    console.log(`| ${t.name} | ${r.rps.toFixed(0)} | ${r.p50ms.toFixed(3)} | ${r.p99ms.toFixed(3)} |`);
  }
  const rps = (prefix: string) => {
    const t = running.find((x) => x.name.startsWith(prefix));
    return t ? median(t).rps : undefined;
  };
  const pairs: [string, string, string][] = [
    ['Ficus', 'Ficus, --workers 2', 'Ficus, --workers 1'],
    ['Express proxy', 'Express 5 + undici proxy, 2', 'Express 5 + undici proxy, 1'],
    ['nginx', 'nginx, 2', 'nginx, 1'],
  ];
  console.log('');
  for (const [what, two, one] of pairs) {
    const a = rps(two);
    const b = rps(one);
    if (a !== undefined && b !== undefined)
      console.log(`${what}: 2 workers serve ${(a / b).toFixed(2)}x the requests/s of 1${what === 'Ficus' ? ` (target ≥ 1.7x): ${a / b >= 1.7 ? 'MET' : 'NOT MET'}` : ''}`);
  }
} finally {
  for (const t of running) await t.child.stop();
  await service.stop();
}
