/**
 * Issue 18's "every core" figure: requests per second of `ficus start --workers 2` against
 * `--workers 1`, in one run, with the bare Express 5 + undici proxy (one process, and two with
 * node:cluster) and nginx (1 and 2 worker processes, when installed) beside it. A GET served by the
 * http kind from the sample modern service (test/fixtures/bench-gateway, everything on).
 *
 *   npm run bench -- test/bench/workers.bench.ts      (BENCH_SECONDS=10 BENCH_CONNECTIONS=20 BENCH_ROUNDS=3)
 *   BENCH_FICUS_BASE=/path/to/other/checkout ...      that checkout's Ficus too (1 and 2 workers), in the same turns
 *
 * Each target runs in its own processes; wrk (one thread) drives it over loopback after a warm-up.
 * The targets take turns for BENCH_ROUNDS rounds; each one's median round is reported. For every
 * round it also prints, from /proc, each of the target's processes' CPU per request (its main
 * thread's apart: the rest is garbage collection and libuv's threads), each process's share of the
 * bytes written (a worker's share of the answers), its connections, and the CPU of the modern
 * service and of wrk, and how busy the machine's cores were. On a 2-core machine wrk and the modern
 * service share the cores with the workers: say so with the figures.
 */
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startFicusWorkers } from './support/ficus-start.ts';
import { hasCommand, startChild, wrk, wrkAsync, type Child, type LoadResult } from './support/load.ts';
import { startNginx, startNginxStatic } from './support/nginx.ts';
import { commOf, connectionsByPid, descendants, machineTicks, sampleProc, waitedChildrenCpuMs, type ProcSample } from './support/proc-sample.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PATH = '/customers/1042';
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
const loadBefore = load();

interface ProcFigures {
  pid: number;
  role: string;
  /** CPU µs a request, all threads, and the main thread's. */
  cpuUs: number;
  mainUs: number;
  /** Share of the target's bytes written (%). */
  writeShare: number;
  connections: number;
}

type Round = LoadResult & { procs: ProcFigures[]; serviceUs: number; wrkUs: number; coresBusy: number; load: string };

/** CPU ms of a process and its descendants (nginx: its master and workers). */
function treeCpuMs(pid: number): number {
  return [pid, ...descendants(pid)].reduce((a, p) => a + (sampleProc(p)?.cpuMs ?? 0), 0);
}

async function measure(name: string, target: Child, servicePid: number): Promise<Round> {
  const check = await fetch(target.url + PATH).catch(() => fetch(target.url + PATH));
  if (check.status !== 200) throw new Error(`${name} answered ${check.status}`);
  wrk(target.url + PATH, CONNECTIONS, Math.min(3, SECONDS)); // warm-up (JIT, connection pools) of every worker
  const top = target.proc.pid!;
  // The target's processes (tsx's esbuild children left out: they compile at start, not per request).
  const pids = [top, ...descendants(top).filter((p) => commOf(p) !== 'esbuild')];
  const port = Number(new URL(target.url).port);
  const before = new Map<number, ProcSample | undefined>(pids.map((p) => [p, sampleProc(p)]));
  const service0 = treeCpuMs(servicePid);
  const machine0 = machineTicks();
  const children0 = waitedChildrenCpuMs();
  const running = wrkAsync(target.url + PATH, CONNECTIONS, SECONDS);
  let conns = new Map<number, number>();
  const look = setTimeout(() => (conns = connectionsByPid(port)), (SECONDS * 1000) / 2);
  const r = await running;
  clearTimeout(look);
  const machine1 = machineTicks();
  const service1 = treeCpuMs(servicePid);
  if (r.errors > 0) throw new Error(`${name}: ${r.errors} errors under load`);
  const requests = r.rps * SECONDS;
  const after = new Map(pids.map((p) => [p, sampleProc(p)]));
  const wrote = (p: number) => (after.get(p)?.wchar ?? 0) - (before.get(p)?.wchar ?? 0);
  const totalWritten = pids.reduce((a, p) => a + wrote(p), 0);
  const procs = pids.map((pid, i): ProcFigures => {
    const a = after.get(pid);
    const b = before.get(pid);
    return {
      pid,
      role: pids.length === 1 ? 'process' : i === 0 ? 'primary' : `worker ${i}`,
      cpuUs: a && b ? ((a.cpuMs - b.cpuMs) * 1000) / requests : NaN,
      mainUs: a && b ? ((a.mainMs - b.mainMs) * 1000) / requests : NaN,
      writeShare: totalWritten > 0 ? (wrote(pid) / totalWritten) * 100 : NaN,
      connections: conns.get(pid) ?? 0,
    };
  });
  return {
    ...r,
    procs,
    serviceUs: ((service1 - service0) * 1000) / requests,
    wrkUs: ((waitedChildrenCpuMs() - children0) * 1000) / requests,
    coresBusy: ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * availableParallelism(),
    load: load(),
  };
}

const describe = (r: Round) =>
  `${r.rps.toFixed(0)}/s (load ${r.load}, cores busy ${r.coresBusy.toFixed(2)}); CPU µs a request: ` +
  r.procs.map((p) => `${p.role} ${p.cpuUs.toFixed(0)} (main thread ${p.mainUs.toFixed(0)}, ${p.writeShare.toFixed(0)}% of bytes, ${p.connections} conns)`).join(', ') +
  `; service ${r.serviceUs.toFixed(0)}, wrk ${r.wrkUs.toFixed(0)}`;

// The upstream (BENCH_UPSTREAM): nginx answering the modern service's own answer for PATH (the
// default when nginx is installed: about 15 µs a request, so the 2 cores go to the proxies measured),
// or `node`, the sample's modern customers service itself (40-60 µs a request).
const UPSTREAM = process.env.BENCH_UPSTREAM ?? (hasCommand('nginx') ? 'nginx' : 'node');
let service = await startChild(here('./support/modern-service.ts'));
if (UPSTREAM === 'nginx') {
  const modern = service;
  const answer = await fetch(modern.url + PATH);
  if (answer.status !== 200) throw new Error(`the modern service answered ${answer.status} for ${PATH}`);
  service = await startNginxStatic(PATH, await answer.text());
  await modern.stop();
}
const running: { name: string; child: Child; rounds: Round[] }[] = [];
try {
  const targets: [string, () => Promise<Child>][] = [
    ['Express 5 + undici proxy, 1 process', () => startChild(here('./support/bare-express-proxy.ts'), [service.url])],
    ['Express 5 + undici proxy, 2 processes (node:cluster)', () => startChild(here('./support/bare-express-cluster.ts'), [service.url, '2'])],
    ['Ficus, --workers 1', () => startFicusWorkers(service.url, 1)],
    ['Ficus, --workers 2', () => startFicusWorkers(service.url, 2)],
    // BENCH_FICUS_BASE=<checkout>[,<checkout>...] (each with node_modules): those builds of Ficus too, in the same turns (a before/after in one run).
    ...(process.env.BENCH_FICUS_BASE ?? '')
      .split(',')
      .filter((dir) => dir !== '')
      .flatMap((dir): [string, () => Promise<Child>][] => [
        [`Ficus ${dir}, --workers 1`, () => startFicusWorkers(service.url, 1, {}, dir)],
        [`Ficus ${dir}, --workers 2`, () => startFicusWorkers(service.url, 2, {}, dir)],
      ]),
  ];
  if (hasCommand('nginx')) targets.unshift(['nginx, 1 worker', () => startNginx(service.url, PATH, 1)], ['nginx, 2 workers', () => startNginx(service.url, PATH, 2)]);
  else console.log('nginx not installed (apt-get install nginx): skipping it');
  if (process.env.BENCH_ONLY) targets.splice(0, targets.length, ...targets.filter(([name]) => name.includes(process.env.BENCH_ONLY!)));
  for (const [name, start] of targets) running.push({ name, child: await start(), rounds: [] });
  for (let round = 0; round < ROUNDS; round++)
    for (const t of running) {
      const r = await measure(t.name, t.child, service.proc.pid!);
      t.rounds.push(r);
      console.log(`round ${round + 1}, ${t.name}: ${describe(r)}`);
    }
  const median = (t: { rounds: Round[] }) => [...t.rounds].sort((a, b) => a.rps - b.rps)[Math.floor(t.rounds.length / 2)];
  console.log(
    `\nGET ${PATH} over loopback, upstream ${UPSTREAM === 'nginx' ? "nginx answering the modern service's answer" : 'the modern customers service (node)'}, wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, median of ${ROUNDS} rounds taken in turns (${availableParallelism()} cores, node ${process.version}, load average before: ${loadBefore}, after: ${load()})\n`,
  );
  for (const t of running) console.log(`  ${t.name}: rounds ${t.rounds.map((r) => `${r.rps.toFixed(0)}/s`).join(', ')}`);
  console.log(
    '\n| target | requests/s | p50 ms | p99 ms | CPU µs a request, by process (main thread) | requests by process (share of bytes written) | service µs | wrk µs | cores busy |\n|---|---:|---:|---:|---|---|---:|---:|---:|',
  );
  for (const t of running) {
    const r = median(t);
    const workers = r.procs.filter((p) => p.role !== 'primary');
    const primary = r.procs.find((p) => p.role === 'primary');
    const cpu = [...(primary ? [`primary ${primary.cpuUs.toFixed(0)}`] : []), ...workers.map((p) => `${p.role} ${p.cpuUs.toFixed(0)} (${p.mainUs.toFixed(0)})`)].join(', ');
    const split = workers.length > 1 ? workers.map((p) => `${p.writeShare.toFixed(0)}%`).join(' / ') : '–';
    console.log(
      `| ${t.name} | ${r.rps.toFixed(0)} | ${r.p50ms.toFixed(3)} | ${r.p99ms.toFixed(3)} | ${cpu} | ${split} | ${r.serviceUs.toFixed(0)} | ${r.wrkUs.toFixed(0)} | ${r.coresBusy.toFixed(2)} |`,
    );
  }
  const rps = (name: string) => {
    const t = running.find((x) => x.name === name);
    return t ? median(t).rps : undefined;
  };
  const pairs: [string, string, string][] = [
    ['Ficus', 'Ficus, --workers 2', 'Ficus, --workers 1'],
    ['Express proxy', 'Express 5 + undici proxy, 2 processes (node:cluster)', 'Express 5 + undici proxy, 1 process'],
    ['nginx', 'nginx, 2 workers', 'nginx, 1 worker'],
    ...running
      .filter((t) => t.name.endsWith(', --workers 2') && t.name !== 'Ficus, --workers 2')
      .map((t): [string, string, string] => [t.name.replace(', --workers 2', ''), t.name, t.name.replace('--workers 2', '--workers 1')]),
  ];
  console.log('');
  for (const [what, two, one] of pairs) {
    const a = rps(two);
    const b = rps(one);
    if (a !== undefined && b !== undefined)
      console.log(`${what}: 2 workers serve ${(a / b).toFixed(2)}x the requests/s of 1${what.startsWith('Ficus') ? ` (target ≥ 1.7x): ${a / b >= 1.7 ? 'MET' : 'NOT MET'}` : ''}`);
  }
} finally {
  for (const t of running) await t.child.stop();
  await service.stop();
}
