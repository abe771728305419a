/**
 * How long a mode switch takes to be in force on a second gateway instance: instance A switches a
 * route through its admin API (HTTP, bearer token, audited, committed), instance B (its own
 * connection pool) applies it; the time from A's request to B's change. Both on one PostgreSQL
 * database (LISTEN/NOTIFY), then both on one SQLite file (polling every 500 ms), for comparison.
 * Target: p99 under 1 s over 100 switches (PostgreSQL).
 *
 *   npm run bench -- test/bench/control-switch-propagation.bench.ts [switches, default 100]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend } from '../fixtures/migration-gateway/backends.ts';
import { admin, startMigrationGateway, type MigrationGateway } from '../fixtures/migration-gateway/harness.ts';
import { createDatabase } from '../fixtures/migration-gateway/processes.ts';

const N = Number(process.argv[2] ?? 100);
const legacy = await startBackend();
const modern = await startBackend();
const env = { LEGACY_URL: legacy.url, MODERN_URL: modern.url };
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)];

async function measure(label: string, a: MigrationGateway, b: MigrationGateway): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < N; i++) {
    // Switches come at random moments, not in step with the poll.
    await new Promise((r) => setTimeout(r, Math.random() * 300));
    const target = i % 2 === 0 ? { mode: 'canary', percent: 1 + (i % 99) } : { mode: 'shadow' };
    const applied = new Promise<number>((resolve) => {
      const on = (e: { operationId: string; mode: string; percent: number }) => {
        if (e.operationId === 'getCustomer' && e.mode === target.mode && (target.mode !== 'canary' || e.percent === target.percent)) {
          b.gateway.control.off('applied', on);
          resolve(performance.now());
        }
      };
      b.gateway.control.on('applied', on);
    });
    const start = performance.now();
    const r = await admin(a.adminUrl, 'PUT', '/routes/getCustomer/mode', { ...target, reason: `bench ${i}` });
    if (r.status !== 200) throw new Error(`switch ${i}: ${r.status} ${JSON.stringify(r.body)}`);
    times.push((await applied) - start);
  }
  console.log(
    `${label.padEnd(34)} p50 ${pct(times, 0.5).toFixed(1).padStart(6)} ms  p99 ${pct(times, 0.99).toFixed(1).padStart(6)} ms  max ${Math.max(...times)
      .toFixed(1)
      .padStart(6)} ms`,
  );
  return times;
}

console.log(`switch propagation to a second instance, ${N} switches each (time from A's admin request to B applying it)`);
const db = await createDatabase('ficus_bench_propagation');
let pgTimes: number[] = [];
try {
  const state = { driver: 'postgres' as const, url: db.url };
  const a = await startMigrationGateway({ env, state, routes: { getCustomer: { mode: 'shadow' } } });
  const b = await startMigrationGateway({ env, state, routes: { getCustomer: { mode: 'shadow' } }, adminServer: false });
  try {
    pgTimes = await measure('PostgreSQL, LISTEN/NOTIFY', a, b);
  } finally {
    await a.close();
    await b.close();
  }
} finally {
  await db.drop();
}
const dir = mkdtempSync(join(tmpdir(), 'ficus-bench-sqlite-'));
try {
  const state = { driver: 'sqlite' as const, file: join(dir, 'state.sqlite') };
  const a = await startMigrationGateway({ env, state, routes: { getCustomer: { mode: 'shadow' } } });
  const b = await startMigrationGateway({ env, state, routes: { getCustomer: { mode: 'shadow' } }, adminServer: false });
  try {
    await measure('SQLite file, polling every 500 ms', a, b);
  } finally {
    await a.close();
    await b.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
await legacy.close();
await modern.close();
const p99 = pct(pgTimes, 0.99);
console.log(`PostgreSQL p99 ${p99.toFixed(1)} ms (target < 1000 ms): ${p99 < 1000 ? 'MET' : 'NOT MET'}`);
