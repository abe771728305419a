/**
 * Change feed benchmark (issue 19). Prints:
 *   1. throughput: 100,000 changed CUSTMAST rows from a legacy SQLite file and from PostgreSQL to a
 *      RabbitMQ consumer (feed start: beginning, publisher confirms), events a second end to end;
 *      and memory: by default the gateway runs as `ficus start` in its own process and its RSS is
 *      read from /proc every 250 ms: when it serves, the peak, the range from 1 s after start to the
 *      end, at the end and 3 s later; its NODE_OPTIONS are ops/ficus.env's (its heap bound), or
 *      BENCH_NODE_OPTIONS.
 *      BENCH_GATEWAY=inline runs the gateway in this process instead, for a look inside: RSS, V8 heap
 *      (total, used), external and array buffers with the backlog (events queued by the feed, not yet
 *      consumed), the event loop's delay, and the heap tools below. The consumer runs in a child
 *      process (test/bench/support/amqp-consumer.ts) either way;
 *   2. latency: single clerk edits, one at a time, from the UPDATE to the consumer, p50/p99, with the
 *      feed's poll interval (FEED_POLL, default 250 ms);
 *   3. reconciliation of the sample's 3,000 customers against modern with drift on every 100th:
 *      keys a second and the counts reported.
 * Run: npm run bench -- test/bench/changes-feed.bench.ts [sqlite] [postgres] [reconcile]
 *      (RabbitMQ on 127.0.0.1:5672, PostgreSQL on 5432)
 * BENCH_ROWS (default 100000), BENCH_EDITS (default 100), FEED_BATCH and EVENTS_BATCH (default 2000),
 * FEED_MAX_BACKLOG, EVENTS_MAX_IN_FLIGHT (default: the config's); with BENCH_GATEWAY=inline: BENCH_GC_SAMPLES=1 (a full GC before
 * each sample: heapUsed is then the live heap), BENCH_GC_TRACE=1 (a mark where the gateway starts, for
 * node --trace-gc-nvp logs), BENCH_HEAP_PROFILE=1 or all (a sampling heap profile of the run: the objects
 * a major GC collected, or every allocation), BENCH_HEAP_SNAPSHOT=1 (a heap snapshot in the temp
 * folder once every row is queued).
 */
import Database from 'better-sqlite3';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import pg from 'pg';
import { clerkEdit, type LegacyTarget } from '../../sample/legacy-crm/clerk.ts';
import { CUSTMAST_COLUMNS, legacyCustomerRows, type LegacyCustomerRow } from '../../sample/legacy-crm/legacy-rows.ts';
import { schemaStatements, seed } from '../../sample/legacy-crm/seed.ts';
import { startModernCustomers } from '../../sample/modern-customers/server.ts';
import type { ChangeFeed } from '../../src/changes/change-feed.ts';
import type { Changes } from '../../src/changes/install.ts';
import { runReconcile } from '../../src/reconcile/run-reconcile.ts';
import { createTempDatabase } from '../helpers/databases.ts';
import { memoryLogger, startGateway } from '../helpers/gateway.ts';
import { CHANGES_FIXTURE, HOOK_SECRET } from '../changes/changes-helpers.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const EDITS = Number(process.env.BENCH_EDITS ?? 100);
const POLL = process.env.FEED_POLL ?? '250ms';

function manyRows(n: number): LegacyCustomerRow[] {
  const base = legacyCustomerRows(3000);
  return Array.from({ length: n }, (_, i) => ({
    ...base[i % base.length],
    CUST_NO: 100_001 + i,
    LAST_UPD_DT: 20250101,
    LAST_UPD_TM: ((i % 86_400) % 60) + 100 * (Math.floor(i / 60) % 60) + 10_000 * (Math.floor(i / 3600) % 24),
  }));
}

async function legacy(engine: 'sqlite' | 'postgres', rows: LegacyCustomerRow[]): Promise<{ env: Record<string, string>; target: LegacyTarget; drop(): Promise<void> }> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'ficus-bench-crm-'));
    const file = join(dir, 'crm.sqlite');
    await seed('sqlite', file, legacyCustomerRows(0));
    const db = new Database(file);
    const ins = db.prepare(`INSERT INTO CUSTMAST (${CUSTMAST_COLUMNS.join(', ')}) VALUES (${CUSTMAST_COLUMNS.map(() => '?').join(', ')})`);
    db.transaction(() => rows.forEach((r) => ins.run(...CUSTMAST_COLUMNS.map((c) => r[c]))))();
    db.close();
    return { env: { CRM_DB_DRIVER: 'sqlite', CRM_DB_FILE: file }, target: { driver: 'sqlite', file }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const tmp = await createTempDatabase('postgres', 'ficus_bench_crm');
  await seed('postgres', tmp.url, legacyCustomerRows(0));
  const c = new pg.Client({ connectionString: tmp.url });
  await c.connect();
  for (let i = 0; i < rows.length; i += 1000) {
    const part = rows.slice(i, i + 1000);
    const values: (string | number)[] = [];
    const tuples = part.map((r, j) => `(${CUSTMAST_COLUMNS.map((col, k) => (values.push(r[col]), `$${j * CUSTMAST_COLUMNS.length + k + 1}`)).join(', ')})`);
    await c.query(`INSERT INTO CUSTMAST (${CUSTMAST_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, values);
  }
  await c.end();
  void schemaStatements;
  return { env: { CRM_DB_DRIVER: 'postgres', CRM_DB_URL: tmp.url }, target: { driver: 'postgres', url: tmp.url }, drop: tmp.drop };
}

/** The consumer, in a child process (test/bench/support/amqp-consumer.ts): the RSS sampled here is the gateway's. */
async function consumer(exchange: string) {
  const child = fork(fileURLToPath(new URL('./support/amqp-consumer.ts', import.meta.url)), [exchange], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const state = { distinct: 0 };
  const seen = new Map<string, number>();
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the consumer exited with ${code}`)));
    child.on('message', (m: { ready?: boolean; distinct?: number; subject?: string; at?: number }) => {
      if (m.ready) resolve();
      if (m.distinct !== undefined) state.distinct = m.distinct;
      if (m.subject !== undefined) seen.set(m.subject, m.at! - performance.timeOrigin);
    });
  });
  return {
    get distinct() {
      return state.distinct;
    },
    seen,
    watch: () => child.send('watch'),
    close: () => new Promise<void>((resolve) => (child.once('exit', () => resolve()), child.send('close'))),
  };
}

// gc() without --expose-gc: the start figure is taken after the seeding's garbage is collected.
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Sample {
  t: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  queued: number;
  consumed: number;
}

const mb = (x: number) => (x / 1e6).toFixed(0);

/** The changes fixture's environment for a run: the legacy database, a state file in `state`, RabbitMQ's `exchange`, the feed read from the beginning. */
function gatewayEnv(legacyEnv: Record<string, string>, state: string, exchange: string): Record<string, string> {
  return {
    ...legacyEnv,
    HOOK_SECRET,
    FICUS_STATE_FILE: join(state, 's.sqlite'),
    AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
    AMQP_EXCHANGE: exchange,
    FEED_START: 'beginning',
    EVENTS_BATCH: process.env.EVENTS_BATCH ?? '2000',
    FEED_BATCH: process.env.FEED_BATCH ?? '2000',
    FEED_OVERLAP: '0',
    FEED_POLL: POLL,
    // The bounds (default: the config's): FEED_MAX_BACKLOG=0 and a large EVENTS_MAX_IN_FLIGHT take them away.
    ...Object.fromEntries(['FEED_MAX_BACKLOG', 'EVENTS_MAX_IN_FLIGHT'].flatMap((k) => (process.env[k] ? [[k, process.env[k]]] : []))),
  };
}

/** Single clerk edits, one at a time, from the UPDATE to the consumer (the consumer already caught up). */
async function editLatency(c: Awaited<ReturnType<typeof consumer>>, target: LegacyTarget) {
  c.watch();
  const latencies: number[] = [];
  for (let i = 0; i < EDITS; i++) {
    const key = 100_001 + ((i * 997) % ROWS);
    const before = c.seen.get(String(key));
    const t = performance.now();
    await clerkEdit(target, key, { name: `Bench Edit ${i}` }, new Date(Date.UTC(2026, 0, 1, 0, 0, i)));
    while (c.seen.get(String(key)) === before) await new Promise((r) => setTimeout(r, 2));
    latencies.push(c.seen.get(String(key))! - t);
  }
  latencies.sort((a, b) => a - b);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(0);
  console.log(`latency  edit → consumer, ${EDITS} edits one at a time, poll ${POLL}: p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${latencies.at(-1)!.toFixed(0)} ms`);
}

async function throughput(engine: 'sqlite' | 'postgres') {
  const db = await legacy(engine, manyRows(ROWS));
  const state = mkdtempSync(join(tmpdir(), 'ficus-bench-state-'));
  const exchange = `ficus.bench.${randomUUID().slice(0, 8)}`;
  const c = await consumer(exchange);
  gc();
  const rssStart = process.memoryUsage().rss;
  const samples: Sample[] = [];
  const live: { feed?: ChangeFeed } = {};
  const t0 = performance.now();
  // BENCH_GC_SAMPLES=1: a full GC before each sample, so heapUsed is the live heap (slows the run).
  const sample = () => {
    if (process.env.BENCH_GC_SAMPLES === '1') gc();
    const m = process.memoryUsage();
    samples.push({
      t: (performance.now() - t0) / 1000,
      rss: m.rss,
      heapTotal: m.heapTotal,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      queued: live.feed?.stats.events ?? 0,
      consumed: c.distinct,
    });
  };
  const sampler = setInterval(sample, 250);
  // BENCH_GC_TRACE=1: a mark for --trace-gc-nvp logs (the run's collections come after it).
  if (process.env.BENCH_GC_TRACE === '1') console.log('bench: the gateway starts');
  // BENCH_HEAP_PROFILE=1: V8's sampling heap profiler over the run, keeping the samples of objects that
  // a major GC collected (and of those still live) but not of those that died young: where the
  // garbage that outlives a scavenge, and so waits for a major GC, is allocated.
  // BENCH_HEAP_PROFILE=all: every allocation's sample, those that died young too.
  const profiler = process.env.BENCH_HEAP_PROFILE ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.BENCH_HEAP_PROFILE === 'all' });
  }
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const gw = await startGateway(CHANGES_FIXTURE, gatewayEnv(db.env, state, exchange), { file: 'ficus-amqp.yaml', level: 'warn' });
  const started = (performance.now() - t0) / 1000;
  const feed = (live.feed = gw.gateway.feature<Changes>('changes')!.feeds.get('customers')!);
  let fed = 0;
  let snapshot = '';
  while (c.distinct < ROWS) {
    if (!fed && feed.stats.events >= ROWS) {
      fed = (performance.now() - t0) / 1000;
      // BENCH_HEAP_SNAPSHOT=1: the heap when the feed has read every row (the largest backlog), for a look at what it holds.
      if (process.env.BENCH_HEAP_SNAPSHOT === '1') snapshot = v8.writeHeapSnapshot(join(tmpdir(), `changes-feed-${engine}-${Date.now()}.heapsnapshot`));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const secs = (performance.now() - t0) / 1000;
  let profile = '';
  if (profiler) {
    const { profile: p } = await profiler.post('HeapProfiler.stopSampling');
    profiler.disconnect();
    writeFileSync((profile = join(tmpdir(), `changes-feed-${engine}-${Date.now()}.heapprofile`)), JSON.stringify(p));
  }
  sample();
  const drained = samples.length - 1;
  await new Promise((r) => setTimeout(r, 3000));
  clearInterval(sampler);
  loopDelay.disable();
  sample();
  const peak = samples.reduce((a, b) => (b.rss > a.rss ? b : a));
  const max = (k: keyof Sample) => mb(Math.max(...samples.map((s) => s[k])));
  const backlog = Math.max(...samples.map((s) => s.queued - s.consumed));
  console.log(
    `  gateway started at ${started.toFixed(1)} s, every row queued by ${fed.toFixed(1)} s, every event consumed at ${secs.toFixed(1)} s${snapshot ? `; heap snapshot ${snapshot}` : ''}${profile ? `; heap profile ${profile}` : ''}`,
  );
  console.log(`${engine.padEnd(8)} ${ROWS} rows → RabbitMQ consumer in ${secs.toFixed(1)} s: ${Math.round(ROWS / secs)} events/s; largest backlog (queued, not yet consumed) ${backlog} events`);
  console.log(
    `  RSS MB: start ${mb(rssStart)} (before the gateway, after a GC), peak ${mb(peak.rss)} at ${peak.t.toFixed(1)} s (backlog ${peak.queued - peak.consumed}), end ${mb(samples[drained].rss)} (all consumed), ${mb(samples.at(-1)!.rss)} 3 s later`,
  );
  console.log(`  event loop delay: p50 ${(loopDelay.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms`);
  console.log(
    `  peaks MB: heapTotal ${max('heapTotal')}, heapUsed ${max('heapUsed')}, external ${max('external')}, arrayBuffers ${max('arrayBuffers')}${process.env.BENCH_GC_SAMPLES === '1' ? ' (GC before each sample: heapUsed is live)' : ''}`,
  );
  console.log('       s   rss  heapTot heapUsed  extern  arrBuf  queued consumed');
  for (const s of samples.filter((_, i) => i % 4 === 0 || i >= drained))
    console.log(
      `  ${s.t.toFixed(1).padStart(6)} ${mb(s.rss).padStart(5)} ${mb(s.heapTotal).padStart(8)} ${mb(s.heapUsed).padStart(8)} ${mb(s.external).padStart(7)} ${mb(s.arrayBuffers).padStart(7)} ${String(s.queued).padStart(7)} ${String(s.consumed).padStart(8)}`,
    );
  if (engine === 'sqlite') await editLatency(c, db.target);
  await gw.close();
  await c.close();
  await db.drop();
  rmSync(state, { recursive: true, force: true });
}

/** RSS of a process from /proc (bytes), undefined once it has ended. */
function rssOf(pid: number): number | undefined {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** NODE_OPTIONS as the shipped service's environment file sets it (ops/ficus.env), the gateway's heap bound. */
function shippedNodeOptions(): string {
  const env = readFileSync(fileURLToPath(new URL('../../ops/ficus.env', import.meta.url)), 'utf8');
  return /^NODE_OPTIONS=(.*)$/m.exec(env)?.[1]?.trim() ?? '';
}

/**
 * The gateway as an operator runs it (the default): `ficus start` in its own process, its RSS read
 * from /proc every 250 ms (nothing of the bench's own seeding or samples in it), with the NODE_OPTIONS
 * of the shipped service's environment file (ops/ficus.env: its heap bound), or BENCH_NODE_OPTIONS
 * (BENCH_NODE_OPTIONS= for none: V8's own sizing).
 */
async function throughputProcess(engine: 'sqlite' | 'postgres') {
  const db = await legacy(engine, manyRows(ROWS));
  const state = mkdtempSync(join(tmpdir(), 'ficus-bench-state-'));
  const exchange = `ficus.bench.${randomUUID().slice(0, 8)}`;
  const c = await consumer(exchange);
  const env = { ...process.env, ...gatewayEnv(db.env, state, exchange), NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? shippedNodeOptions() };
  const bin = fileURLToPath(new URL('../../bin/ficus.js', import.meta.url));
  const t0 = performance.now();
  const gw: ChildProcess = spawn(process.execPath, [bin, 'start', '--root', CHANGES_FIXTURE, '--config', 'ficus-amqp.yaml', '--workers', '1'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    gw.once('exit', (code) => reject(new Error(`ficus start exited with ${code}: ${out}`)));
    gw.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (/listening on/.test(out)) resolve();
    });
  });
  const started = (performance.now() - t0) / 1000;
  const samples: { t: number; rss: number; consumed: number }[] = [];
  const sample = () => samples.push({ t: (performance.now() - t0) / 1000, rss: rssOf(gw.pid!) ?? 0, consumed: c.distinct });
  const sampler = setInterval(sample, 250);
  while (c.distinct < ROWS) await new Promise((r) => setTimeout(r, 50));
  const secs = (performance.now() - t0) / 1000;
  sample();
  const drained = samples.length - 1;
  await new Promise((r) => setTimeout(r, 3000));
  clearInterval(sampler);
  sample();
  const peak = samples.reduce((a, b) => (b.rss > a.rss ? b : a));
  const afterStart = samples.filter((s) => s.t >= started + 1);
  console.log(
    `${engine.padEnd(8)} ${ROWS} rows → RabbitMQ consumer through \`ficus start\` (NODE_OPTIONS ${JSON.stringify(env.NODE_OPTIONS)}) in ${secs.toFixed(1)} s: ${Math.round(ROWS / secs)} events/s (its ${started.toFixed(1)} s of start-up included; ${Math.round(ROWS / (secs - started))} events/s from when it served)`,
  );
  console.log(
    `  gateway RSS MB: ${mb(samples[0].rss)} when serving (${started.toFixed(1)} s), peak ${mb(peak.rss)} at ${peak.t.toFixed(1)} s, range from 1 s after start to the end ${mb(Math.min(...afterStart.map((s) => s.rss)))}–${mb(Math.max(...afterStart.map((s) => s.rss)))}, end ${mb(samples[drained].rss)} (all consumed), ${mb(samples.at(-1)!.rss)} 3 s later`,
  );
  console.log('       s   rss consumed');
  for (const s of samples.filter((_, i) => i % 4 === 0 || i === drained)) console.log(`  ${s.t.toFixed(1).padStart(6)} ${mb(s.rss).padStart(5)} ${String(s.consumed).padStart(8)}`);
  if (engine === 'sqlite') await editLatency(c, db.target);
  await new Promise<void>((resolve) => (gw.once('exit', () => resolve()), gw.kill('SIGTERM')));
  await c.close();
  await db.drop();
  rmSync(state, { recursive: true, force: true });
}

async function reconciliation() {
  const dir = mkdtempSync(join(tmpdir(), 'ficus-bench-rec-'));
  const file = join(dir, 'crm.sqlite');
  await seed('sqlite', file);
  const modern = await startModernCustomers({ port: 0, driftEvery: 100 });
  const r = await runReconcile({
    operation: 'getCustomer',
    keysFrom: 'listCustomers',
    against: 'modern',
    root: CHANGES_FIXTURE,
    env: { CRM_DB_DRIVER: 'sqlite', CRM_DB_FILE: file, FICUS_STATE_FILE: join(dir, 's.sqlite'), HOOK_SECRET, CUSTOMERS_SERVICE_URL: modern.url },
    concurrency: 16,
    ratePerSecond: 100_000,
    logger: memoryLogger('warn').logger,
  });
  console.log(
    `reconcile ${r.report.counts.keys} keys in ${(r.report.durationMs / 1000).toFixed(1)} s (${Math.round(r.report.counts.keys / (r.report.durationMs / 1000))} keys/s, key listing included): ${JSON.stringify(r.report.counts)}`,
  );
  await modern.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
const which = process.argv.slice(2);
const run = process.env.BENCH_GATEWAY === 'inline' ? throughput : throughputProcess;
if (which.length === 0 || which.includes('sqlite')) await run('sqlite');
if (which.length === 0 || which.includes('postgres')) await run('postgres');
if (which.length === 0 || which.includes('reconcile')) await reconciliation();
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
process.exit(0);
