/**
 * Change feed benchmark (issue 19). Prints:
 *   1. throughput: 100,000 changed CUSTMAST rows from a legacy SQLite file and from PostgreSQL to a
 *      RabbitMQ consumer (feed start: beginning, publisher confirms), events a second end to end,
 *      and the process's RSS sampled every 500 ms (flat = bounded by the page size, not the rows);
 *   2. latency: single clerk edits, one at a time, from the UPDATE to the consumer, p50/p99, with the
 *      feed's poll interval (FEED_POLL, default 250 ms);
 *   3. reconciliation of the sample's 3,000 customers against modern with drift on every 100th:
 *      keys a second and the counts reported.
 * Run: npm run bench -- test/bench/changes-feed.bench.ts  (RabbitMQ on 127.0.0.1:5672, PostgreSQL on 5432)
 * BENCH_ROWS (default 100000), BENCH_EDITS (default 100).
 */
import amqp from 'amqplib';
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { clerkEdit, type LegacyTarget } from '../../sample/legacy-crm/clerk.ts';
import { CUSTMAST_COLUMNS, legacyCustomerRows, type LegacyCustomerRow } from '../../sample/legacy-crm/legacy-rows.ts';
import { schemaStatements, seed } from '../../sample/legacy-crm/seed.ts';
import { startModernCustomers } from '../../sample/modern-customers/server.ts';
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

async function consumer(exchange: string) {
  const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
  const ch = await conn.createChannel();
  await ch.assertExchange(exchange, 'topic', { durable: true });
  const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
  await ch.bindQueue(q.queue, exchange, '#');
  await ch.prefetch(1000);
  const seen = new Map<string, number>();
  const ids = new Set<string>();
  await ch.consume(q.queue, (m) => {
    if (!m) return;
    const subject = String((m.properties.headers as Record<string, unknown> | undefined)?.subject ?? '');
    ids.add(String(m.properties.messageId));
    seen.set(subject, performance.now());
    ch.ack(m);
  });
  return {
    ids,
    seen,
    close: async () => {
      await ch.deleteExchange(exchange).catch(() => undefined);
      await conn.close();
    },
  };
}

async function throughput(engine: 'sqlite' | 'postgres') {
  const db = await legacy(engine, manyRows(ROWS));
  const state = mkdtempSync(join(tmpdir(), 'ficus-bench-state-'));
  const exchange = `ficus.bench.${randomUUID().slice(0, 8)}`;
  const c = await consumer(exchange);
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss / 1e6), 500);
  const t0 = performance.now();
  const gw = await startGateway(
    CHANGES_FIXTURE,
    {
      ...db.env,
      HOOK_SECRET,
      FICUS_STATE_FILE: join(state, 's.sqlite'),
      AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
      AMQP_EXCHANGE: exchange,
      FEED_START: 'beginning',
      EVENTS_BATCH: process.env.EVENTS_BATCH ?? '2000',
      FEED_BATCH: '2000',
      FEED_OVERLAP: '0',
      FEED_POLL: POLL,
    },
    { file: 'ficus-amqp.yaml', level: 'warn' },
  );
  const started = (performance.now() - t0) / 1000;
  const feed = gw.gateway.feature<Changes>('changes')!.feeds.get('customers')!;
  let fed = 0;
  while (c.ids.size < ROWS) {
    if (!fed && feed.stats.events >= ROWS) fed = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 100));
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(`  gateway started at ${started.toFixed(1)} s, every row queued by ${fed.toFixed(1)} s, every event consumed at ${secs.toFixed(1)} s`);
  clearInterval(sampler);
  console.log(
    `${engine.padEnd(8)} ${ROWS} rows → RabbitMQ consumer in ${secs.toFixed(1)} s: ${Math.round(ROWS / secs)} events/s; RSS MB min ${Math.min(...rss).toFixed(0)} max ${Math.max(...rss).toFixed(0)} (samples: ${rss.map((x) => x.toFixed(0)).join(' ')})`,
  );
  let latencies: number[] = [];
  if (engine === 'sqlite') {
    const changes = gw.gateway.feature<Changes>('changes')!;
    void changes;
    for (let i = 0; i < EDITS; i++) {
      const key = 100_001 + ((i * 997) % ROWS);
      const before = c.seen.get(String(key));
      const t = performance.now();
      await clerkEdit(db.target, key, { name: `Bench Edit ${i}` }, new Date(Date.UTC(2026, 0, 1, 0, 0, i)));
      while (c.seen.get(String(key)) === before) await new Promise((r) => setTimeout(r, 2));
      latencies.push(c.seen.get(String(key))! - t);
    }
    latencies = latencies.sort((a, b) => a - b);
    const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(0);
    console.log(`latency  edit → consumer, ${EDITS} edits one at a time, poll ${POLL}: p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${latencies.at(-1)!.toFixed(0)} ms`);
  }
  await gw.close();
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
if (which.length === 0 || which.includes('sqlite')) await throughput('sqlite');
if (which.length === 0 || which.includes('postgres')) await throughput('postgres');
if (which.length === 0 || which.includes('reconcile')) await reconciliation();
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
process.exit(0);
