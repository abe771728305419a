/**
 * Issue 20's figures: a HAR of 10,000 entries (a browser's, with cookies, tokens and personal data)
 * imports with redaction, and exports back to HAR that validates against HAR 1.2; `ficus mock` serves
 * the sample recordings over loopback (p50 latency, one request at a time), and the sample's own replay
 * against it passes.
 *
 *   npm run bench -- test/bench/har-and-mock.bench.ts        (BENCH_ENTRIES=10000 BENCH_REQUESTS=2000)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { har as validateHar } from 'har-validator';
import { Agent, request } from 'undici';
import { hasCommand, wrkAsync } from './support/load.ts';
import { sampleCustomers } from '../../sample/data/customers.ts';
import { startMock } from '../../src/mock/start-mock.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { exportRecordings, importRecordings } from '../../src/recording/interchange.ts';
import { runReplay } from '../../src/replay/run-replay.ts';

const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 10_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2_000);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'ficus-bench-har-'));
const env = { CUSTOMERS_SERVICE_URL: 'http://127.0.0.1:9' };

try {
  const customers = sampleCustomers();
  const entries = Array.from({ length: ENTRIES }, (_, i) => {
    const c = customers[i % customers.length];
    const list = i % 10 === 9;
    return {
      startedDateTime: new Date(Date.UTC(2026, 10, 1) + i * 100).toISOString(),
      time: 5,
      request: {
        method: 'GET',
        url: list ? `https://api.example.com/customers?limit=${(i % 50) + 1}` : `https://api.example.com/customers/${c.id}`,
        httpVersion: 'HTTP/1.1',
        headers: [
          { name: 'accept', value: 'application/json' },
          { name: 'authorization', value: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc' },
          { name: 'cookie', value: `session=${i}` },
        ],
        queryString: [],
        cookies: [],
        headersSize: -1,
        bodySize: 0,
      },
      response: {
        status: 200,
        statusText: 'OK',
        httpVersion: 'HTTP/1.1',
        headers: [{ name: 'content-type', value: 'application/json' }],
        cookies: [],
        content: { size: 0, mimeType: 'application/json', text: JSON.stringify(list ? { items: customers.slice(0, (i % 50) + 1), nextCursor: null } : c) },
        redirectURL: '',
        headersSize: -1,
        bodySize: -1,
      },
      cache: {},
      timings: { send: 0, wait: 5, receive: 0 },
    };
  });
  const file = join(work, 'browser.har');
  writeFileSync(file, JSON.stringify({ log: { version: '1.2', creator: { name: 'bench', version: '1' }, entries } }));

  const report = await importRecordings({ paths: [file], root: ROOT, env, out: join(work, 'recordings') });
  console.log(`import: ${report.imported} entries (${report.lines} lines, ${report.collapsed} collapsed, ${report.unmatched.length} unmatched) in ${(report.durationMs / 1000).toFixed(2)} s`);
  let t = performance.now();
  const exported = await exportRecordings({ format: 'har', root: ROOT, env, paths: [join(work, 'recordings')] });
  const exportMs = performance.now() - t;
  t = performance.now();
  await validateHar(JSON.parse(exported.text));
  console.log(`export: ${exported.count} entries in ${(exportMs / 1000).toFixed(2)} s; valid HAR 1.2 (har-validator, ${((performance.now() - t) / 1000).toFixed(2)} s)`);

  const mock = await startMock({ root: ROOT, env, logger: createLogger({ level: 'silent' }) });
  try {
    const paths = ['/customers/1154', '/customers?limit=5', '/products/HW-1042', '/accounts/A000001', '/accounts/A999999', '/customers/4242'];
    // Two clients, one request at a time: fetch (what an application would use, and its own cost of
    // about half a millisecond a call on Node 20) and undici's request on one kept-alive connection
    // (the lightest client: what is left is the mock's own time and the loopback).
    const agent = new Agent({ connections: 1, keepAliveTimeout: 30_000 });
    const clients: [string, (url: string) => Promise<void>][] = [
      ['fetch', async (url) => void (await (await fetch(url)).arrayBuffer())],
      ['undici request, one kept-alive connection', async (url) => void (await (await request(url, { dispatcher: agent })).body.arrayBuffer())],
    ];
    for (const [name, call] of clients) {
      const times: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const s = performance.now();
        await call(mock.url + paths[i % paths.length]);
        if (i >= 200) times.push(performance.now() - s);
      }
      times.sort((a, b) => a - b);
      const q = (p: number) => times[Math.floor((times.length - 1) * p)].toFixed(3);
      console.log(`mock: ${times.length} requests after 200 warm-up, one at a time over loopback (${name}): p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, p99 ${q(0.99)} ms`);
    }
    await agent.close();
    // wrk from its own process, one connection: no JavaScript client shares the mock's event loop.
    if (hasCommand('wrk'))
      for (const path of paths) {
        const r = await wrkAsync(mock.url + path, 1, 2);
        console.log(`mock over wrk -c1 -d2s ${path}: p50 ${r.p50ms.toFixed(3)} ms, p99 ${r.p99ms.toFixed(3)} ms, ${Math.round(r.rps)} requests/s`);
      }
    const r = await runReplay({ against: mock.url, root: ROOT, env: {} });
    const counts = Object.values(r.run.byOperation).reduce((a, c) => ({ pass: a.pass + c.pass, total: a.total + c.pass + c.fail + c.error + c.skipped }), { pass: 0, total: 0 });
    console.log(`replay of the sample recording against the mock: ${counts.pass}/${counts.total} pass (exit ${r.exitCode})`);
  } finally {
    await mock.close();
  }
} finally {
  if (!process.env.BENCH_KEEP) rmSync(work, { recursive: true, force: true });
  else console.log(work);
}
