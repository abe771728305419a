/**
 * Issue 7's figure: replay of 10,000 exchanges against a local backend at a rate of at least 500
 * exchanges per second.
 *
 *   npm run bench -- test/bench/replay-throughput.bench.ts     (BENCH_EXCHANGES=10000 BENCH_CONCURRENCY=16)
 *
 * Writes a recording of BENCH_EXCHANGES getCustomer exchanges (redacted as the recorder does) of the
 * sample modern customers service, then replays it with the full pipeline (read and check every
 * line, send, redact the answer, compare through the contract, count): once against the service
 * itself (the local backend), once through the gateway started in-process (`--against modern`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleCustomers } from '../../sample/data/customers.ts';
import { startModernCustomers } from '../../sample/modern-customers/server.ts';
import { Contract } from '../../src/contract/contract.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { formatExchange, FORMAT_VERSION } from '../../src/recording/exchange-format.ts';
import { DEV_RECORDING_KEY, Redactor } from '../../src/recording/redactor.ts';
import { runReplay } from '../../src/replay/run-replay.ts';

const EXCHANGES = Number(process.env.BENCH_EXCHANGES ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROOT = fileURLToPath(new URL('../fixtures/replay-sample/', import.meta.url));

const contract = Contract.load(join(ROOT, 'openapi.yaml'));
const redactor = new Redactor({ contract, key: DEV_RECORDING_KEY });
const op = contract.operation('getCustomer');
const customers = sampleCustomers();
const dir = mkdtempSync(join(tmpdir(), 'ficus-bench-replay-'));
const lines: string[] = [];
for (let i = 0; i < EXCHANGES; i++) {
  const c = customers[(i * 7919) % customers.length];
  const request = { method: 'GET', path: `/customers/${c.id}`, query: {}, headers: {}, body: null };
  const r = redactor.redact(op, 'getCustomer', request, { status: 200, headers: {}, body: c });
  lines.push(
    formatExchange({
      v: FORMAT_VERSION,
      operationId: 'getCustomer',
      time: new Date().toISOString(),
      count: 1,
      backend: 'modern',
      adapter: 'customers-service',
      latencyMs: 1,
      gateway: 'bench',
      key: redactor.keyId,
      request: r.request,
      response: r.response,
      redacted: r.redacted,
      findings: [],
    }),
  );
}
writeFileSync(join(dir, 'getCustomer.jsonl'), lines.join('\n') + '\n');

const svc = await startModernCustomers();
const logger = createLogger({ level: 'silent' });
try {
  console.log(`replay throughput: ${EXCHANGES} getCustomer exchanges, concurrency ${CONCURRENCY}; node ${process.version}`);
  console.log('');
  console.log('against                                  exchanges/s   seconds   pass   fail  error');
  for (const [label, against] of [
    ['the local backend (service URL)', svc.url],
    ['modern, through the in-process gateway', 'modern'],
  ] as const) {
    const t = performance.now();
    const r = await runReplay({ against, root: ROOT, env: { CUSTOMERS_SERVICE_URL: svc.url }, paths: [dir], concurrency: CONCURRENCY, logger });
    const seconds = (performance.now() - t) / 1000;
    const c = r.run.byOperation.getCustomer;
    const rate = EXCHANGES / seconds;
    console.log(
      `${label.padEnd(40)} ${rate.toFixed(0).padStart(11)}   ${seconds.toFixed(2).padStart(7)}   ${String(c.pass).padStart(4)}   ${String(c.fail).padStart(4)}   ${String(c.error).padStart(4)}${label.startsWith('the local') ? `   (target >= 500/s: ${rate >= 500 ? 'met' : 'NOT met'})` : ''}`,
    );
    if (c.pass !== EXCHANGES) throw new Error(`expected every exchange to pass:\n${r.summary}`);
  }
} finally {
  await svc.close();
  rmSync(dir, { recursive: true, force: true });
}
