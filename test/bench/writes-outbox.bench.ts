/**
 * Writes benchmark (issue 8). Prints:
 *   1. outbox throughput: writes accepted per second (POST → committed to the outbox → 202), on a
 *      SQLite file (WAL) and on PostgreSQL, the gateway in its own process, load from autocannon;
 *      afterwards every accepted write is counted in the outbox (nothing accepted was lost);
 *   2. the p50 cost of the idempotency check on a POST: the same POST with and without an
 *      Idempotency-Key, one at a time, interleaved, on SQLite and on PostgreSQL.
 * Run: npm run bench -- test/bench/writes-outbox.bench.ts   (about two minutes)
 * The child mode (`--serve`) is the gateway process: it reads the writes fixture's settings from its environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Agent, request } from 'undici';
import { createTempDatabase } from '../helpers/databases.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/writes-gateway/', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

function startGatewayProcess(env: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve'], {
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`the gateway did not start within 60 s: ${err}`));
    }, 60_000);
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (c: string) => {
      err += c;
      const m = /LISTENING (\S+)/.exec(err);
      if (m) clearTimeout(timer);
      if (m) resolve({ url: m[1], stop: () => new Promise((r) => (proc.exitCode !== null ? r() : (proc.once('exit', () => r()), proc.kill('SIGTERM')))) });
    });
    proc.once('exit', (code) => reject(new Error(`gateway exited with ${code}: ${err}`)));
  });
}

const ORDER = JSON.stringify({ customerId: 1001, reference: 'BENCH', lines: [{ sku: 'HW-1042', quantity: 3 }] });

async function acceptRate(url: string): Promise<{ perSecond: number; accepted: number; other: number; p50: number; p99: number }> {
  let n = 0;
  const run = await autocannon({
    url,
    connections: 32,
    duration: SECONDS,
    requests: [
      {
        method: 'POST',
        path: '/orders',
        headers: { 'content-type': 'application/json' },
        body: ORDER,
        setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'idempotency-key': `bench-${process.pid}-${++n}` } }),
      },
    ],
  });
  const accepted = run.statusCodeStats?.['202']?.count ?? 0;
  return { perSecond: accepted / SECONDS, accepted, other: run.requests.total - accepted, p50: run.latency.p50, p99: run.latency.p99 };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function idempotencyCost(url: string, n = 1_500): Promise<{ withKey: number; without: number; cost: number }> {
  const agent = new Agent({ connections: 1 });
  const post = async (key?: string) => {
    const t = performance.now();
    const res = await request(`${url}/notes`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
      body: '{"text":"bench"}',
      signal: AbortSignal.timeout(15_000),
    });
    if (res.statusCode === 201) {
      await res.body.dump();
      return performance.now() - t;
    }
    throw new Error(`POST /notes answered ${res.statusCode}: ${await res.body.text()}`);
  };
  for (let i = 0; i < 300; i++) await post(i % 2 ? `warm-${randomUUID()}` : undefined);
  const withKey: number[] = [];
  const without: number[] = [];
  for (let i = 0; i < n; i++) {
    withKey.push(await post(`cost-${randomUUID()}`));
    without.push(await post());
  }
  await agent.close();
  const [a, b] = [pct(withKey, 50), pct(without, 50)];
  return { withKey: a, without: b, cost: a - b };
}

async function main(): Promise<void> {
  const { startOrdersService } = await import('../fixtures/writes-gateway/orders-service.ts');
  const svc = await startOrdersService();
  const tmp = mkdtempSync(join(tmpdir(), 'ficus-writes-bench-'));
  const stateDb = await createTempDatabase('postgres', 'ficus_writes_bench');
  const pgUrl = stateDb.url;
  const out: string[] = [];
  try {
    for (const store of ['sqlite', 'postgres'] as const) {
      const stateEnv: Record<string, string> = store === 'sqlite' ? { STATE_FILE: join(tmp, 'state.sqlite') } : { STATE_URL: pgUrl, BENCH_CONFIG: 'ficus-pg.yaml', STATE_POOL_SIZE: '16' };
      // 1. Accepted writes per second: every write queued (async route), the worker off so acceptance alone is measured.
      const g1 = await startGatewayProcess({ ORDERS_URL: svc.url, ORDERS_ASYNC: 'true', OUTBOX_WORKER: 'false', ...stateEnv });
      let r: Awaited<ReturnType<typeof acceptRate>>;
      try {
        r = await acceptRate(g1.url);
      } finally {
        await g1.stop();
      }
      let stored: number;
      if (store === 'sqlite') {
        const db = new Database(join(tmp, 'state.sqlite'), { readonly: true });
        stored = (db.prepare('SELECT COUNT(*) AS n FROM writes_outbox').get() as { n: number }).n;
        db.close();
      } else {
        const c = new pg.Client({ connectionString: pgUrl });
        await c.connect();
        stored = Number((await c.query('SELECT COUNT(*) AS n FROM writes_outbox')).rows[0].n);
        await c.end();
      }
      out.push(
        `outbox throughput (${store}): ${r.perSecond.toFixed(0)} writes accepted/s (${r.accepted} in ${SECONDS} s, 32 connections, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.other} other answers); ${stored} in the outbox afterwards${stored >= r.accepted && stored <= r.accepted + 32 ? ' (every accepted write, plus those answered after the window closed)' : ` — FEWER THAN THE ${r.accepted} ACCEPTED`}`,
      );
      console.log(out[out.length - 1]);
      // 2. The idempotency check's cost on a POST served synchronously.
      // A fresh state store, so that no queued write from phase 1 is delivered while this is measured.
      if (store === 'sqlite') stateEnv.STATE_FILE = join(tmp, 'state-cost.sqlite');
      else {
        const c = new pg.Client({ connectionString: pgUrl });
        await c.connect();
        await c.query('TRUNCATE writes_outbox, writes_idempotency');
        await c.end();
      }
      const g2 = await startGatewayProcess({ ORDERS_URL: svc.url, ORDERS_TIMEOUT_MS: '10000', ...stateEnv });
      let c: Awaited<ReturnType<typeof idempotencyCost>>;
      try {
        c = await idempotencyCost(g2.url);
      } finally {
        await g2.stop();
      }
      out.push(`idempotency check (${store}): p50 ${c.withKey.toFixed(3)} ms with a key vs ${c.without.toFixed(3)} ms without → p50 cost ${c.cost.toFixed(3)} ms per POST`);
      console.log(out[out.length - 1]);
    }
  } finally {
    await svc.close();
    await stateDb.drop();
    rmSync(tmp, { recursive: true, force: true });
  }
  out.push(
    `load average at the end: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (on ${(await import('node:os')).cpus().length} cores)`,
  );
  console.log('\n' + out.join('\n'));
}

if (process.argv[2] === '--serve') {
  const { Gateway } = await import('../../src/gateway.ts');
  const gateway = await Gateway.create({ root: FIXTURE, file: process.env.BENCH_CONFIG, env: process.env, processMetrics: false });
  process.stderr.write(`LISTENING ${await gateway.listen(0, '127.0.0.1')}\n`);
  process.on('SIGTERM', () => void gateway.close(1_000).then(() => process.exit(0)));
} else {
  await main();
}
