/**
 * What shadow mode costs the caller: p50 (and p90/p99) latency of the same call through a route in
 * legacy mode and through a route in shadow mode, measured side by side (requests interleaved,
 * in alternating order) through two gateways, each in its own process, in front of the same legacy
 * and modern backends (each in its own process too).
 * Target: shadow adds under 1 ms to the caller's p50.
 *
 *   npm run bench -- test/bench/modes-shadow-overhead.bench.ts [requests per mode, default 4000]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { startChild, type Child } from './support/load.ts';

const N = Number(process.argv[2] ?? 4000);
const CONCURRENCIES = [1, 8];
const backendScript = fileURLToPath(new URL('../fixtures/migration-gateway/serve-backend.ts', import.meta.url));
const gatewayScript = fileURLToPath(new URL('../fixtures/migration-gateway/serve-gateway.ts', import.meta.url));

const legacy = await startChild(backendScript, ['0']);
const modern = await startChild(backendScript, ['7']); // every 7th customer differs: mismatches are recorded too
process.env.LEGACY_URL = legacy.url;
process.env.MODERN_URL = modern.url;
const gateways: Child[] = [];
try {
  const asLegacy = await startChild(gatewayScript, ['legacy']);
  gateways.push(asLegacy);
  const asShadow = await startChild(gatewayScript, ['shadow']);
  gateways.push(asShadow);
  const asSampled = await startChild(gatewayScript, ['shadow:25']);
  gateways.push(asSampled);
  const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });

  async function once(base: string, i: number): Promise<number> {
    const start = performance.now();
    const res = await request(`${base}/customers/${1001 + (i % 3000)}`, { dispatcher: agent });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    return performance.now() - start;
  }
  /** CPU time (user + system, ms) a process has used, from /proc. */
  const cpuMs = (pid: number | undefined) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  };
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

  // Warm up both (JIT, connections).
  for (let i = 0; i < 500; i++) {
    await once(asLegacy.url, i);
    await once(asShadow.url, i);
    await once(asSampled.url, i);
  }

  console.log(`shadow overhead: ${N} calls per mode, interleaved, GET /customers/{id}, backends in their own processes`);
  console.log('concurrency  mode        p50 ms   p90 ms   p99 ms');
  const results: { c: number; legacy: number; shadow: number }[] = [];
  for (const c of CONCURRENCIES) {
    const times = { legacy: [] as number[], shadow: [] as number[], 'shadow 25%': [] as number[] };
    const procs = { legacy: asLegacy, shadow: asShadow, 'shadow 25%': asSampled };
    const cpu0 = { legacy: cpuMs(asLegacy.proc.pid), shadow: cpuMs(asShadow.proc.pid), 'shadow 25%': cpuMs(asSampled.proc.pid) };
    let next = 0;
    await Promise.all(
      Array.from({ length: c }, async () => {
        while (next < N) {
          const i = next++;
          // A different order each time, so that no mode always goes first.
          const order = (['legacy', 'shadow', 'shadow 25%'] as const).map((m, k) => ({ m, k: (k + i) % 3 })).sort((a, b) => a.k - b.k);
          for (const { m } of order) times[m].push(await once(procs[m].url, i));
        }
      }),
    );
    for (const mode of ['legacy', 'shadow', 'shadow 25%'] as const) {
      const t = times[mode];
      console.log(`${String(c).padStart(11)}  ${mode.padEnd(10)} ${pct(t, 0.5).toFixed(3).padStart(7)}  ${pct(t, 0.9).toFixed(3).padStart(7)}  ${pct(t, 0.99).toFixed(3).padStart(7)}`);
    }
    const perCall = (mode: keyof typeof procs) => ((cpuMs(procs[mode].proc.pid) - cpu0[mode]) / N) * 1000;
    console.log(`${''.padStart(11)}  gateway CPU per call: legacy ${perCall('legacy').toFixed(0)} µs, shadow ${perCall('shadow').toFixed(0)} µs, shadow 25% ${perCall('shadow 25%').toFixed(0)} µs`);
    results.push({ c, legacy: pct(times.legacy, 0.5), shadow: pct(times.shadow, 0.5) });
  }
  const metrics = await (await request(`${asShadow.url}/metrics`, { dispatcher: agent })).body.text();
  const shadowLines = metrics.split('\n').filter((l) => l.startsWith('ficus_shadow_comparisons_total{'));
  console.log(`shadow comparisons: ${shadowLines.map((l) => l.replace(/^.*outcome="([^"]+)".*\} /, '$1 ')).join(', ')}`);
  for (const r of results) {
    const added = r.shadow - r.legacy;
    console.log(`concurrency ${r.c}: shadow adds ${added.toFixed(3)} ms to p50 (target < 1 ms): ${added < 1 ? 'MET' : 'NOT MET'}`);
  }
  await agent.close();
} finally {
  for (const g of gateways) await g.stop();
  await legacy.stop();
  await modern.stop();
}
