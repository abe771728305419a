/**
 * A huge product export through the sftp kind: a generated EBCDIC export of BENCH_EXPORT_MB (default
 * 300 MB, at most 2000) is made in a temporary folder, served by the sample's in-process SFTP server,
 * and read through the gateway's getProduct/listProducts. Each scenario runs in a child process, which
 * reports its peak heap and resident memory (sampled every 20 ms, and maxRSS):
 *
 * - one: one operation loads the export (GET /products/{sku});
 * - two: both operations load it at once (GET /products/{sku} and GET /products);
 * - refresh: after refreshMs, a request on the unchanged file (how long it takes, how many downloads);
 * - stall: a small export is served, a large newer one comes in: the slowest request while it loads.
 *
 * The folder is deleted at the end. BENCH_SCENARIOS=one,stall runs some of them.
 *   npm run bench -- test/bench/sftp-export-memory.bench.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../helpers/gateway.ts';
import { makeProject } from '../sftp/support.ts';
import { startSftpServer } from '../../sample/mainframe/sftp-server.ts';
import { encodeProductExport, productExportSpec } from '../../sample/mainframe/product-export.ts';
import { sampleCatalogue } from '../../sample/mainframe/catalogue.ts';
import { RecordFileWriter } from '../../src/records/record-file.ts';
import { registerCodePages } from '../../src/records/code-pages.ts';
import { SftpSession } from '../../src/kinds/sftp/sftp-pool.ts';

registerCodePages();
const BIG = 'PRODUCTS.D20261126.T220000.N00002.DAT';
const SMALL = 'PRODUCTS.D20261125.T220000.N00001.DAT';

function sku(i: number): string {
  const a = String.fromCharCode(65 + (Math.floor(i / 260_000) % 26));
  const b = String.fromCharCode(65 + (Math.floor(i / 10_000) % 26));
  return `${a}${b}-${String(i % 10_000).padStart(4, '0')}`;
}

/** Writes an export of about `mb` MB (80-byte records) with unique SKUs; returns the number of products. */
function generate(file: string, mb: number): number {
  const spec = productExportSpec();
  const w = new RecordFileWriter(spec);
  const n = Math.min(26 * 26 * 10_000, Math.floor((mb * 1024 * 1024) / 80) - 2);
  const fd = openSync(file, 'w');
  const parts: Buffer[] = [w.record('header', { phExtractDate: '2026-11-26', phExtractTime: 220000, phExtractSeq: 2, phSystemId: 'PRDEXP01' })];
  const flush = () => {
    writeSync(fd, Buffer.concat(parts));
    parts.length = 0;
  };
  for (let i = 0; i < n; i++) {
    parts.push(
      w.record('detail', {
        prSku: sku(i),
        prDescription: `Bench product ${i}`,
        prUnitPrice: (i % 10_000) / 100 + 1,
        prCurrency: 'EUR',
        prStockQty: i % 500,
        prStatus: 'active',
        prLastChanged: '2026-11-01',
      }),
    );
    if (parts.length >= 8192) flush();
  }
  parts.push(w.record('trailer', {}));
  flush();
  closeSync(fd);
  return n;
}

async function child(root: string, scenario: string): Promise<void> {
  let downloads = 0;
  const original = SftpSession.prototype.readStream;
  SftpSession.prototype.readStream = function (this: SftpSession, path: string, hwm?: number) {
    if (path.includes('PRODUCTS')) downloads++;
    return original.call(this, path, hwm);
  };
  const peak = { heapMb: 0, rssMb: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    peak.heapMb = Math.max(peak.heapMb, m.heapUsed / 2 ** 20);
    peak.rssMb = Math.max(peak.rssMb, m.rss / 2 ** 20);
  };
  const sampler = setInterval(sample, 20);
  const server = await startSftpServer({ root, username: 'ficus', password: 'bench-password' });
  writeFileSync(join(root, '..', 'known_hosts'), server.hostKeyLine + '\n');
  const refreshMs = scenario === 'one' || scenario === 'two' ? 600_000 : 1_000;
  const project = makeProject({
    auth: 'password',
    adapterEdits: (t) => t.replace('refreshMs: 30000', `refreshMs: ${refreshMs}`).replace('maxConnections: 4', 'maxConnections: 4\n  idleTimeoutMs: 600000'),
  });
  const env = {
    MAINFRAME_SFTP_HOST: server.host,
    MAINFRAME_SFTP_PORT: String(server.port),
    MAINFRAME_SFTP_USER: 'ficus',
    MAINFRAME_SFTP_PASSWORD: 'bench-password',
    MAINFRAME_SFTP_KNOWN_HOSTS: join(root, '..', 'known_hosts'),
  };
  const gw = await startGateway(project.root, env, { level: 'error' });
  const timed = async (path: string) => {
    const t0 = performance.now();
    const res = await fetch(gw.url + path, { signal: AbortSignal.timeout(600_000) });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - t0, source: res.headers.get('x-data-source') };
  };
  // The first load may take longer than a request's timeout (504): ask again until it is served.
  const untilServed = async (path: string) => {
    const t0 = performance.now();
    for (let i = 0; i < 600 && performance.now() - t0 < 600_000; i++) {
      const r = await timed(path);
      if (r.status === 200) return { status: r.status, ms: performance.now() - t0, tries: i + 1 };
      await new Promise((res) => setTimeout(res, 1_000)); // 504 (timeout) or 503 (open circuit): later
    }
    throw new Error(`${path}: not served within 600 s`);
  };
  const out: Record<string, unknown> = { scenario };
  try {
    if (scenario === 'one') {
      const r = await untilServed('/products/AA-0001');
      Object.assign(out, { tries: r.tries, loadS: r.ms / 1000 });
    } else if (scenario === 'two') {
      const [a, b] = await Promise.all([untilServed('/products/AA-0001'), untilServed('/products?limit=5')]);
      Object.assign(out, { tries: [a.tries, b.tries], loadS: Math.max(a.ms, b.ms) / 1000 });
    } else if (scenario === 'refresh') {
      await Promise.all([untilServed('/products/AA-0001'), untilServed('/products?limit=5')]);
      const before = downloads;
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, refreshMs + 100));
        times.push((await timed('/products/AA-0002')).ms);
        times.push((await timed('/products?limit=5')).ms);
      }
      // Let any refresh started in the background finish before counting downloads.
      await new Promise((r) => setTimeout(r, 2_000));
      Object.assign(out, { unchangedRefreshMs: times.map((t) => Math.round(t)), downloadsOnUnchangedRefresh: downloads - before });
    } else {
      // stall: the small export is served; the big one (renamed in) is newer.
      const small = await untilServed('/products?limit=1');
      if (small.status !== 200) throw new Error(`small export: ${small.status}`);
      const { renameSync } = await import('node:fs');
      renameSync(join(root, 'exports', `${BIG}.hold`), join(root, 'exports', BIG));
      await new Promise((r) => setTimeout(r, refreshMs + 100));
      let slowest = 0;
      let served = 0;
      const t0 = performance.now();
      for (let i = 0; i < 100_000 && performance.now() - t0 < 600_000; i++) {
        const r = await timed('/products?limit=1');
        slowest = Math.max(slowest, r.ms);
        served++;
        if (r.source === BIG) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      Object.assign(out, { requestsWhileLoading: served, slowestRequestMs: Math.round(slowest), untilNewFileS: (performance.now() - t0) / 1000 });
    }
    sample();
    (globalThis as { gc?: () => void }).gc?.();
    out.retainedHeapMb = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
  } finally {
    clearInterval(sampler);
    await gw.close();
    await server.close();
    project.dispose();
  }
  out.downloads = downloads;
  out.peakHeapMb = Math.round(peak.heapMb);
  out.peakRssMb = Math.round(peak.rssMb);
  out.maxRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

async function main(): Promise<void> {
  const mb = Math.min(2000, Math.max(1, Number(process.env.BENCH_EXPORT_MB ?? 300)));
  const dir = mkdtempSync(join(tmpdir(), 'ficus-export-bench-'));
  const root = join(dir, 'files');
  mkdirSync(join(root, 'exports'), { recursive: true });
  try {
    const t0 = performance.now();
    const n = generate(join(root, 'exports', BIG), mb);
    const size = statSync(join(root, 'exports', BIG)).size;
    console.log(`export: ${n.toLocaleString('en')} products, ${(size / 2 ** 20).toFixed(0)} MB, made in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const self = fileURLToPath(import.meta.url);
    for (const scenario of (process.env.BENCH_SCENARIOS ?? 'one,two,refresh,stall').split(',')) {
      if (scenario === 'stall') {
        const { renameSync } = await import('node:fs');
        renameSync(join(root, 'exports', BIG), join(root, 'exports', `${BIG}.hold`));
        writeFileSync(join(root, 'exports', SMALL), encodeProductExport(sampleCatalogue(), new Date(Date.UTC(2026, 10, 25, 22)), 1));
      }
      const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, 'child', root, scenario], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, timeout: 900_000 });
      const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) {
        console.log(`${scenario}: failed (exit ${r.status}, signal ${r.signal})\n${r.stderr.slice(-2000)}`);
        continue;
      }
      console.log(`${scenario}: ${line.slice(7)}`);
    }
    console.log(
      `load average: ${(await import('node:os'))
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'child') await child(process.argv[3], process.argv[4]);
else await main();
