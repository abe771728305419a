/**
 * Issues 13 and 14: the CPU the gateway process spends per request on the path of
 * gateway-http.bench.ts (GET /customers/1042 through the http kind, everything on: request and
 * response validation, metrics, the JSON log line, the policy), this checkout against other
 * checkouts in the same run, with the bare Express 5 + undici proxy beside them. CPU per request
 * (from /proc) is far steadier than throughput on a machine others load too, so a change of a few
 * percent shows here first.
 *
 *   npm run bench -- test/bench/gateway-cpu.bench.ts      (BENCH_SECONDS=5 BENCH_CONNECTIONS=10 BENCH_ROUNDS=5)
 *   BENCH_FICUS_BASE=../other-checkout[,...] adds those checkouts' gateways (each with node_modules)
 *
 * Each target runs in its own process; wrk (one thread) drives it over loopback. The targets take
 * turns, BENCH_ROUNDS times, and each one's median round is reported with all rounds.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs, startChild, wrk, type Child } from './support/load.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PATH = '/customers/1042';
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const loadBefore = loadavg()
  .map((l) => l.toFixed(1))
  .join(' ');

interface Round {
  cpuUs: number;
  rps: number;
}

async function measure(name: string, target: Child): Promise<Round> {
  const check = await fetch(target.url + PATH).catch(() => fetch(target.url + PATH));
  if (check.status !== 200) throw new Error(`${name} answered ${check.status}`);
  const pid = target.proc.pid!;
  const cpu0 = cpuMs(pid);
  const r = wrk(target.url + PATH, CONNECTIONS, SECONDS);
  if (r.errors > 0) throw new Error(`${name}: ${r.errors} errors under load`);
  return { cpuUs: ((cpuMs(pid) - cpu0) * 1000) / (r.rps * SECONDS), rps: r.rps };
}

const service = await startChild(here('./support/modern-service.ts'));
const running: { name: string; child: Child; rounds: Round[] }[] = [];
try {
  const targets: [string, string][] = [
    ['Express 5 + undici proxy', here('./support/bare-express-proxy.ts')],
    ['Ficus (all on), this checkout', here('./support/ficus-gateway.ts')],
    ...(process.env.BENCH_FICUS_BASE ?? '')
      .split(',')
      .filter((dir) => dir !== '')
      .map((dir): [string, string] => [`Ficus (all on), ${dir}`, join(dir, 'test/bench/support/ficus-gateway.ts')]),
  ];
  for (const [name, script] of targets) running.push({ name, child: await startChild(script, [service.url]), rounds: [] });
  // Warm-up (JIT, connection pools), then the rounds in turns.
  for (const t of running) wrk(t.child.url + PATH, CONNECTIONS, 3);
  for (let round = 0; round < ROUNDS; round++) for (const t of running) t.rounds.push(await measure(t.name, t.child));

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`\nGET ${PATH}, wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, ${ROUNDS} rounds in turns (node ${process.version}, load average before: ${loadBefore}, after: ${loadavg()[0].toFixed(1)})\n`);
  console.log('| target | CPU µs/request (median) | requests/s (median) | CPU µs/request, each round |');
  console.log('|---|---:|---:|---|');
  for (const t of running) {
    console.log(`| ${t.name} | ${median(t.rounds.map((r) => r.cpuUs)).toFixed(0)} | ${median(t.rounds.map((r) => r.rps)).toFixed(0)} | ${t.rounds.map((r) => r.cpuUs.toFixed(0)).join(', ')} |`);
  }
} finally {
  for (const t of running) await t.child.stop();
  await service.stop();
}
