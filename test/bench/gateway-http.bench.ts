/**
 * Issue 2's figures: a GET served by the http kind from the sample modern service, through Ficus
 * (validation both ways, metrics, logging and policies on) against the same service called
 * directly, a bare Express 5 + undici proxy, a bare node:http + undici proxy, and nginx.
 *
 *   npm run bench -- test/bench/gateway-http.bench.ts          (BENCH_SECONDS=10 BENCH_CONNECTIONS=10 BENCH_ROUNDS=3)
 *   BENCH_FICUS_BASE=../other-checkout adds that checkout's Ficus as a target in the same turns (before/after in one run)
 *
 * Each target runs in its own process; wrk (one thread) drives it over loopback after a warm-up.
 * The targets take turns for BENCH_ROUNDS rounds; each one's median round is reported, with all rounds.
 * Then Ficus runs once more under --cpu-prof and its self time is grouped by package.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs, hasCommand, profileByArea, startChild, wrk, type Child, type LoadResult } from './support/load.ts';
import { startNginx } from './support/nginx.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const loadBefore = loadavg()
  .map((l) => l.toFixed(1))
  .join(' ');
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const PATH = '/customers/1042';

/** Load figures plus the CPU the proxy process itself spent per request (robust to a busy machine). */
type Measured = LoadResult & { cpuUsPerRequest?: number };

async function measure(name: string, target: Child, proxyPid: number | undefined): Promise<Measured> {
  // Once more on a fresh connection if the kept-alive one was closed while wrk ran (an idle timeout).
  const check = await fetch(target.url + PATH).catch(() => fetch(target.url + PATH));
  if (check.status !== 200) throw new Error(`${name} answered ${check.status}`);
  wrk(target.url + PATH, CONNECTIONS, Math.min(3, SECONDS)); // warm-up (JIT, connection pools)
  const cpu0 = proxyPid ? cpuMs(proxyPid) : 0;
  const r: Measured = wrk(target.url + PATH, CONNECTIONS, SECONDS);
  if (proxyPid) r.cpuUsPerRequest = ((cpuMs(proxyPid) - cpu0) * 1000) / (r.rps * SECONDS);
  if (r.errors > 0) {
    const probe = await fetch(target.url + PATH);
    throw new Error(`${name}: ${r.errors} errors under load (a request after it: ${probe.status} ${(await probe.text()).slice(0, 200)})`);
  }
  return r;
}

const service = await startChild(here('./support/modern-service.ts'));
const results: { name: string; r: Measured }[] = [];
const running: { name: string; child: Child; pid: number | undefined; rounds: Measured[] }[] = [];
try {
  const targets: [string, () => Promise<Child>][] = [
    ['service, direct', async () => ({ url: service.url, proc: service.proc, stop: async () => undefined })],
    ['node:http + undici proxy', () => startChild(here('./support/bare-node-proxy.ts'), [service.url])],
    ['Express 5 + undici proxy', () => startChild(here('./support/bare-express-proxy.ts'), [service.url])],
    ['Ficus (all on)', () => startChild(here('./support/ficus-gateway.ts'), [service.url])],
    // BENCH_FICUS_BASE=<checkout>[,<checkout>...] (each with node_modules): those builds of Ficus too, in the same turns (a before/after in one run).
    ...(process.env.BENCH_FICUS_BASE ?? '')
      .split(',')
      .filter((dir) => dir !== '')
      .map((dir): [string, () => Promise<Child>] => [`Ficus (all on), ${dir}`, () => startChild(join(dir, 'test/bench/support/ficus-gateway.ts'), [service.url])]),
  ];
  if (hasCommand('nginx')) targets.splice(1, 0, ['nginx reverse proxy', () => startNginx(service.url, PATH)]);
  else console.log('nginx not installed (apt-get install nginx): skipping it');
  for (const [name, start] of targets) {
    const child = await start();
    const pid = child === service || child.proc === service.proc || name.startsWith('nginx') ? undefined : child.proc.pid;
    running.push({ name, child, pid, rounds: [] });
  }
  // The targets take turns, ROUNDS times, so that a slow spell of this shared VM hits them all
  // alike; each one's median round (by throughput) is reported.
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of running) t.rounds.push(await measure(t.name, t.child, t.pid));
  }
  for (const t of running) {
    const sorted = [...t.rounds].sort((a, b) => a.rps - b.rps);
    results.push({ name: t.name, r: sorted[Math.floor(sorted.length / 2)] });
  }
  const express = results.find((x) => x.name.startsWith('Express'))!.r;
  const ficus = results.find((x) => x.name.startsWith('Ficus'))!.r;
  console.log(
    `\nGET ${PATH} over loopback, wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, each target in its own process, median of ${ROUNDS} rounds taken in turns (node ${process.version}, load average before: ${loadBefore})\n`,
  );
  for (const t of running) console.log(`  ${t.name}: rounds ${t.rounds.map((r) => `${r.rps.toFixed(0)}/s p50 ${r.p50ms.toFixed(2)} ms`).join(', ')}`);
  console.log('');
  console.log('| target | requests/s | p50 ms | p99 ms | throughput vs Express proxy | proxy CPU µs/request |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const { name, r } of results) {
    console.log(
      `| ${name} | ${r.rps.toFixed(0)} | ${r.p50ms.toFixed(3)} | ${r.p99ms.toFixed(3)} | ${((r.rps / express.rps) * 100).toFixed(0)}% | ${r.cpuUsPerRequest === undefined ? '–' : r.cpuUsPerRequest.toFixed(0)} |`,
    );
  }
  const share = ficus.rps / express.rps;
  const overhead = ficus.p50ms - express.p50ms;
  console.log(`\nFicus keeps ${(share * 100).toFixed(1)}% of the bare Express proxy's throughput (target ≥ 60%): ${share >= 0.6 ? 'MET' : 'NOT MET'}`);
  console.log(`Ficus p50 overhead over the bare Express proxy: ${overhead.toFixed(3)} ms (target < 1 ms): ${overhead < 1 ? 'MET' : 'NOT MET'}`);
  if (ficus.cpuUsPerRequest !== undefined && express.cpuUsPerRequest !== undefined) {
    console.log(
      `CPU per request in the proxy process: Ficus ${ficus.cpuUsPerRequest.toFixed(0)} µs, Express proxy ${express.cpuUsPerRequest.toFixed(0)} µs (ratio ${((express.cpuUsPerRequest / ficus.cpuUsPerRequest) * 100).toFixed(0)}%)`,
    );
  }

  // Where the time goes: Ficus again, under the V8 profiler.
  const profDir = mkdtempSync(join(tmpdir(), 'ficus-prof-'));
  const profiled = await startChild(here('./support/ficus-gateway.ts'), [service.url], ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
  wrk(profiled.url + PATH, CONNECTIONS, Math.min(8, SECONDS));
  await profiled.stop();
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (file) {
    console.log('\nFicus CPU profile, self time by area (top 15):');
    for (const { area, share: s } of profileByArea(join(profDir, file)).slice(0, 15)) console.log(`  ${(s * 100).toFixed(1).padStart(5)}%  ${area}`);
  }
  rmSync(profDir, { recursive: true, force: true });
} finally {
  for (const t of running) await t.child.stop();
  await service.stop();
}
