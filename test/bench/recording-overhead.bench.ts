/**
 * Issue 7's figure: recording on at 100% sampling adds under 1 ms to the caller's p50 versus
 * recording off, measured side by side.
 *
 *   npm run bench -- test/bench/recording-overhead.bench.ts      (BENCH_ROUNDS=12 BENCH_PER_ROUND=250)
 *
 * One gateway (the replay-sample fixture: getCustomer served by the http kind from the sample modern
 * customers service), recording to a temporary folder. Rounds alternate off and on, so that both
 * see the same machine; within a round the caller sends sequential requests (and then 8 at a time)
 * for ids spread over the 3,000 sample customers, so that few exchanges collapse as duplicates.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { startModernCustomers } from '../../sample/modern-customers/server.ts';
import { Gateway } from '../../src/gateway.ts';
import { createLogger } from '../../src/observability/logger.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
const PER_ROUND = Number(process.env.BENCH_PER_ROUND ?? 250);
const ROOT = fileURLToPath(new URL('../fixtures/replay-sample/', import.meta.url));

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const dir = mkdtempSync(join(tmpdir(), 'ficus-bench-rec-'));
const svc = await startModernCustomers();
const gateway = await Gateway.create({ root: ROOT, env: { CUSTOMERS_SERVICE_URL: svc.url, RECORDING_DIR: dir }, logger: createLogger({ level: 'silent' }), processMetrics: false });
const url = await gateway.listen(0, '127.0.0.1');
const agent = new Agent({ connections: 16 });
let n = 0;
const nextPath = () => `/customers/${1001 + ((n++ * 7919) % 3000)}`;

async function one(): Promise<number> {
  const t = performance.now();
  const res = await request(url + nextPath(), { dispatcher: agent });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  return performance.now() - t;
}

async function round(concurrency: number): Promise<number[]> {
  const out: number[] = [];
  const worker = async () => {
    while (out.length < PER_ROUND) out.push(await one());
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

const results: Record<string, { off: number[]; on: number[] }> = { sequential: { off: [], on: [] }, '8 at a time': { off: [], on: [] } };
try {
  for (let i = 0; i < 300; i++) await one(); // warm-up
  for (const [label, c] of [
    ['sequential', 1],
    ['8 at a time', 8],
  ] as const) {
    for (let r = 0; r < ROUNDS; r++) {
      const on = r % 2 === 1;
      if (on) gateway.recorder.start('getCustomer', 1);
      else gateway.recorder.stop('getCustomer');
      results[label][on ? 'on' : 'off'].push(...(await round(c)));
    }
  }
  gateway.recorder.stop('getCustomer');
  await gateway.recorder.flush();
  const s = gateway.recorder.status();
  const files = readdirSync(join(dir, 'getCustomer'));
  const bytes = files.reduce((sum, f) => sum + statSync(join(dir, 'getCustomer', f)).size, 0);
  console.log(`recording overhead: ${ROUNDS} alternating rounds of ${PER_ROUND} GET /customers/{id} per mode; node ${process.version}`);
  console.log('');
  console.log('caller             recording  p50 ms   p90 ms   p99 ms');
  for (const [label, r] of Object.entries(results)) {
    for (const mode of ['off', 'on'] as const)
      console.log(`${label.padEnd(18)} ${mode.padEnd(10)} ${pct(r[mode], 50).toFixed(3).padStart(6)}   ${pct(r[mode], 90).toFixed(3).padStart(6)}   ${pct(r[mode], 99).toFixed(3).padStart(6)}`);
    const delta = pct(r.on, 50) - pct(r.off, 50);
    console.log(`${label.padEnd(18)} p50 added by recording: ${delta.toFixed(3)} ms  (target < 1 ms: ${delta < 1 ? 'met' : 'NOT met'})`);
  }
  console.log('');
  console.log(`recorded ${s.recorded} exchanges (${s.collapsed} collapsed as duplicates, ${s.dropped} dropped) into ${files.length} file(s), ${(bytes / 1024).toFixed(0)} KiB`);
} finally {
  await agent.close();
  await gateway.close(1_000);
  await svc.close();
  rmSync(dir, { recursive: true, force: true });
}
