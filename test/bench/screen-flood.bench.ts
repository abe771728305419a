/**
 * The screen routes under a flood: FLOOD concurrent getAccount reads (far more than the pool has
 * pages) while probes ask, every PROBE_EVERY_MS, a route that is no screen (/healthz), another
 * screen operation (searchAccounts, one page) and the flooded one. Prints the flood's answers, the
 * probes' latencies and the circuit state. Targets: other routes answer within 100 ms, the flooded
 * route answers (200, or 503 with Retry-After) within 2.5 s, the circuit stays closed.
 *
 *   npm run bench -- test/bench/screen-flood.bench.ts
 *   BENCH_FLOOD=400 BENCH_PAGES=4 BENCH_DELAY_MS=50 (legacy page delay) BENCH_PROBE_EVERY_MS=250
 *   BENCH_GATEWAY=process (default: the gateway in its own process, as deployed) | inline (in this one)
 *   BENCH_FLOOD_NICE=10 (the flood's callers stand for other machines: kept below the gateway's CPU priority on this shared one) | 0
 *   BILLING_UI_BROWSER_NICE=10 (the adapter's default: the browser below the gateway's CPU priority) | 0 (at the gateway's)
 *   BILLING_UI_BROWSER_SERVER=process (the adapter's default: Playwright's server in a child process of the gateway) | inline (in the gateway's)
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { screenEstate } from '../fixtures/screen-project.ts';
import { startGateway } from '../helpers/gateway.ts';
import { startCallers, type Answer } from './support/callers.ts';
import { startChild } from './support/load.ts';

const FLOOD = Number(process.env.BENCH_FLOOD ?? 400);
const PAGES = Number(process.env.BENCH_PAGES ?? 4);
const DELAY = Number(process.env.BENCH_DELAY_MS ?? 50);
const PROBE_EVERY_MS = Number(process.env.BENCH_PROBE_EVERY_MS ?? 250);
const INLINE = process.env.BENCH_GATEWAY === 'inline';
const FLOOD_NICE = Number(process.env.BENCH_FLOOD_NICE ?? 10);

const loadBefore = loadavg();
const estate = await screenEstate({ delayMs: DELAY }, { BILLING_UI_PAGES: String(PAGES) });
const gw: { url: string; close(): Promise<void>; pid?: number } = INLINE
  ? await startGateway(estate.dir, estate.env, { level: 'silent' })
  : await startChild(new URL('./support/project-gateway.ts', import.meta.url).pathname, [estate.dir, JSON.stringify(estate.env)], process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ') ?? []).then((c) => ({
      url: c.url,
      close: c.stop,
      pid: c.proc.pid,
    }));
/** CPU time (user + system, all threads) a process has used so far, in ms: /proc/<pid>/stat, 10 ms ticks. */
const cpuMsOf = (pid: number | undefined) => {
  if (pid === undefined) return NaN;
  const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(rest[11]) + Number(rest[12])) * 10;
};

interface Timed {
  status: number;
  type?: string;
  retryAfter: string | null;
  ms: number;
}
async function timed(path: string): Promise<Timed> {
  const t = performance.now();
  const r = await fetch(gw.url + path);
  const body = (await r.json()) as { type?: string };
  return { status: r.status, type: body.type?.replace('https://ficus.dev/problems/', ''), retryAfter: r.headers.get('retry-after'), ms: performance.now() - t };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms  p95 ${pct(xs, 95).toFixed(1)} ms  max ${Math.max(...xs).toFixed(1)} ms  (n=${xs.length})`;
const count = (xs: Timed[]) => {
  const by = new Map<string, number>();
  for (const x of xs) {
    const k = x.status === 200 ? '200' : `${x.status} ${x.type ?? ''}${x.retryAfter ? ` (Retry-After ${x.retryAfter})` : ''}`;
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  return [...by].map(([k, n]) => `${n} × ${k}`).join(', ');
};

// Warm: one of each, so that the probes do not pay for first use.
for (const p of ['/healthz', '/accounts?name=zzzz', '/accounts/A000001']) await timed(p);

// The flood and the probes each come from a process of their own (as callers do), so that neither the
// legacy app (in this process) nor the flood's 400 answers hold up when a probe's clock stops.
const floodCallers = startCallers(gw.url, { nice: FLOOD_NICE });
const probeCallers = startCallers(gw.url, { from: '127.0.0.2' }); // another caller than the flood's
const probePaths = { healthz: '/healthz', otherScreen: '/accounts?name=zzzz', flooded: '/accounts/A000007' };
// Each probe alone first (the probes' connections open, and each route's time without a flood, median of 3).
const alone = new Map<string, number[]>();
for (let i = 0; i < 3; i++) for (const a of await probeCallers.burst(Object.values(probePaths))) alone.set(a.path, [...(alone.get(a.path) ?? []), a.ms]);
const aloneMs = (path: string) => pct(alone.get(path) ?? [], 50);
const started = performance.now();
const cpuBefore = process.cpuUsage();
const gatewayCpuBefore = cpuMsOf(gw.pid);
await probeCallers.probe(Object.values(probePaths), PROBE_EVERY_MS);
const answers: Timed[] = await floodCallers.burst(Array.from({ length: FLOOD }, (_, i) => `/accounts/A${String(1 + (i % 200)).padStart(6, '0')}`));
const floodMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
const gatewayCpuMs = cpuMsOf(gw.pid) - gatewayCpuBefore;
const cpuShare = (cpu.user + cpu.system) / 1000 / floodMs;
const probed = await probeCallers.stopProbe();
const probes = { healthz: [] as Answer[], otherScreen: [] as Answer[], flooded: [] as Answer[] };
for (const [k, path] of Object.entries(probePaths) as [keyof typeof probes, string][]) probes[k].push(...probed.filter((a) => a.path === path));
await Promise.all([floodCallers.stop(), probeCallers.stop()]);
const metrics = await (await fetch(`${gw.url}/metrics`)).text();
const circuit = /ficus_circuit_state\{adapter="billing-ui",operation="getAccount"\} (\d)/.exec(metrics)?.[1];
await gw.close();
await estate.stop();

const loads = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
console.log(
  `screen flood: ${FLOOD} concurrent getAccount, ${PAGES} pages, legacy page delay ${DELAY} ms, probes every ${PROBE_EVERY_MS} ms, browser niceness ${process.env.BILLING_UI_BROWSER_NICE ?? '(adapter default)'}, browserServer ${process.env.BILLING_UI_BROWSER_SERVER ?? '(adapter default)'}`,
);
console.log(
  `  machine: ${cpus().length} cores, load average ${loads(loadBefore)} before, ${loads(loadavg())} after (${INLINE ? 'gateway, legacy app and this client share one Node process' : 'the gateway in its own process, the legacy app in this one, the flood and the probes each in one more'}; the browser has its own)`,
);
console.log(`  this process (${INLINE ? 'gateway, ' : ''}legacy app) used ${(cpuShare * 100).toFixed(0)}% of one core during the flood`);
if (!INLINE) console.log(`  the gateway's process used ${((gatewayCpuMs / floodMs) * 100).toFixed(0)}% of one core during the flood (${gatewayCpuMs} ms of CPU)`);
console.log(`  flood answered in ${(floodMs / 1000).toFixed(1)} s: ${count(answers)}`);
console.log(`  flood answer latency                 ${fmt(answers.map((a) => a.ms))}`);
console.log(
  `  each probe alone before the flood (median of 3): ${Object.entries(probePaths)
    .map(([k, p]) => `${k} ${aloneMs(p).toFixed(1)} ms`)
    .join(', ')}`,
);
console.log(`  probe /healthz (not a screen)        ${fmt(probes.healthz.map((a) => a.ms))}  ${count(probes.healthz)}`);
console.log(`  probe searchAccounts (other screen)  ${fmt(probes.otherScreen.map((a) => a.ms))}  ${count(probes.otherScreen)}`);
console.log(`  probe getAccount (flooded)           ${fmt(probes.flooded.map((a) => a.ms))}  ${count(probes.flooded)}`);
const otherMax = Math.max(...probes.healthz.map((a) => a.ms), ...probes.otherScreen.map((a) => a.ms));
const floodedMax = Math.max(...probes.flooded.map((a) => a.ms));
console.log(`  other routes within 100 ms: ${otherMax <= 100 ? 'met' : 'NOT met'} (max ${otherMax.toFixed(0)} ms)`);
const healthMax = Math.max(...probes.healthz.map((a) => a.ms));
if (process.env.BENCH_VERBOSE) console.log('  /healthz probes (ms, sent at ms):', probes.healthz.map((a) => `${a.ms.toFixed(0)}@${(a.end - a.ms).toFixed(0)}`).join(' '));
const otherScreenOver = Math.max(...probes.otherScreen.map((a) => a.ms)) - aloneMs(probePaths.otherScreen);
console.log(
  `    /healthz within 100 ms: ${healthMax <= 100 ? 'met' : 'NOT met'} (max ${healthMax.toFixed(0)} ms); searchAccounts within 100 ms of its time alone: ${otherScreenOver <= 100 ? 'met' : 'NOT met'} (max + ${otherScreenOver.toFixed(0)} ms)`,
);
console.log(`  flooded route answered within 2.5 s: ${floodedMax <= 2500 ? 'met' : 'NOT met'} (max ${floodedMax.toFixed(0)} ms)`);
console.log(`  circuit of getAccount: ${circuit === '0' ? 'closed' : `NOT closed (state ${circuit})`}`);
