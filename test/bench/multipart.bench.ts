/**
 * A 200 MB multipart upload (one file and a JSON field) through the gateway to an http upstream, over
 * loopback: throughput (MB/s, the body's bytes over the time from the first byte sent to the answer)
 * and the gateway process's peak resident memory during the upload (VmHWM, reset before each round),
 * beside the same upload sent straight to the upstream. The body is generated as it is sent and the
 * upstream takes it apart as it arrives (busboy, SHA-256 of the file), so neither holds it.
 *
 * With FICUS_BASELINE=<a checkout of an earlier Ficus> (its node_modules installed), that checkout's
 * gateway runs too, in alternate rounds, with a config it understands (`server.bodyLimit` raised to
 * take the upload): a before/after in one run.
 *
 *   npm run bench -- test/bench/multipart.bench.ts          (ROUNDS=3, SIZE_MB=200)
 *   FICUS_BASELINE=/path/to/old/checkout npm run bench -- test/bench/multipart.bench.ts
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/gateway.ts';
import { fileSha256, multipartUpload, postStream, spoolFiles, startGatewayProcess, startUploadSink, type GatewayProcess } from '../helpers/uploads.ts';

const SIZE = Number(process.env.SIZE_MB ?? 200) * 1e6;
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const BASELINE = process.env.FICUS_BASELINE;
const MB = 1e6;

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

interface Row {
  name: string;
  mbps: number[];
  peakMB: number[];
  baseMB: number[];
}

async function main(): Promise<void> {
  console.log(`multipart upload bench: ${(SIZE / MB).toFixed(0)} MB file, ${ROUNDS} rounds; load average at start: ${load()}`);
  const sink = await startUploadSink();
  const work = mkdtempSync(join(tmpdir(), 'ficus-bench-multipart-'));
  const spool = join(work, 'spool');
  cpSync(`${FIXTURES}multipart-gateway`, join(work, 'after'), { recursive: true });
  cpSync(`${FIXTURES}multipart-gateway`, join(work, 'before'), { recursive: true });
  // The earlier gateway knows no server.multipart: its limit on a multipart body was server.bodyLimit.
  writeFileSync(
    join(work, 'before', 'ficus.yaml'),
    `server:\n  port: 0\n  host: 127.0.0.1\n  bodyLimit: ${Math.ceil((SIZE * 1.1) / MB)}MB\n  docs: false\nlog:\n  level: silent\nstate:\n  driver: sqlite\n  file: ':memory:'\nadmin:\n  enabled: false\n`,
  );
  mkdirSync(spool);
  const env = { UPSTREAM_URL: sink.url, UPLOAD_DIR: spool, FILE_LIMIT: `${Math.ceil((SIZE * 1.1) / MB)}MB`, REQUEST_LIMIT: `${Math.ceil((SIZE * 1.2) / MB)}MB` };
  const gateways: { name: string; proc?: GatewayProcess }[] = [{ name: 'direct to the upstream' }, { name: 'gateway (this checkout)', proc: await startGatewayProcess(join(work, 'after'), env) }];
  if (BASELINE) gateways.push({ name: `gateway (baseline: ${BASELINE})`, proc: await startGatewayProcess(join(work, 'before'), env, BASELINE) });
  const rows: Row[] = gateways.map((g) => ({ name: g.name, mbps: [], peakMB: [], baseMB: [] }));
  const upload = multipartUpload([
    { name: 'metadata', type: 'application/json', value: '{"title":"bench"}' },
    { name: 'file', filename: 'bench.bin', type: 'application/octet-stream', size: SIZE, seed: 5 },
  ]);
  const sha = fileSha256(SIZE, 5);
  try {
    for (const g of gateways) {
      // A small upload first, so that what serves uploads is loaded before anything is measured.
      const warm = multipartUpload([
        { name: 'metadata', type: 'application/json', value: '{"title":"warm"}' },
        { name: 'file', filename: 'w.bin', size: 100_000 },
      ]);
      await postStream(`${g.proc?.url ?? sink.url}/${g.proc ? 'documents' : 'store'}`, warm.stream(), warm.contentType, warm.length);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, g] of gateways.entries()) {
        const before = sink.received.length;
        const base = g.proc?.resetPeak();
        const t0 = performance.now();
        const res = await postStream(`${g.proc?.url ?? sink.url}/${g.proc ? 'documents' : 'store'}`, upload.stream(), upload.contentType, upload.length);
        const s = (performance.now() - t0) / 1000;
        if (res.status !== 201) throw new Error(`${g.name}: ${res.status} ${res.text}`);
        const file = sink.received[before]?.parts.find((p) => p.name === 'file');
        if (file?.sha256 !== sha) throw new Error(`${g.name}: the upstream received another file (${file?.size ?? 0} bytes)`);
        rows[i].mbps.push(upload.length / MB / s);
        if (g.proc && base !== undefined) {
          rows[i].peakMB.push(g.proc.peak() / MB);
          rows[i].baseMB.push(base / MB);
        }
        // The spool file goes once the answer is sent and the upstream stream closed: give it a moment.
        for (let i = 0; i < 100 && spoolFiles(spool).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
        if (spoolFiles(spool).length > 0) console.log(`  (spool files still present 5 s after ${g.name} answered: ${spoolFiles(spool).join(', ')})`);
      }
    }
  } finally {
    for (const g of gateways) await g.proc?.stop();
    await sink.close();
    rmSync(work, { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log('');
  console.log(`${'path'.padEnd(60)} ${'MB/s (median)'.padStart(14)} ${'MB/s (rounds)'.padStart(26)} ${'RSS before'.padStart(11)} ${'peak RSS'.padStart(9)} ${'growth'.padStart(8)}`);
  for (const r of rows) {
    const rss = r.peakMB.length > 0;
    const growth = rss ? Math.max(...r.peakMB.map((p, i) => p - r.baseMB[i])) : 0;
    console.log(
      `${r.name.padEnd(60)} ${median(r.mbps).toFixed(0).padStart(14)} ${r.mbps
        .map((x) => x.toFixed(0))
        .join(' / ')
        .padStart(
          26,
        )} ${rss ? `${median(r.baseMB).toFixed(0)} MB`.padStart(11) : '-'.padStart(11)} ${rss ? `${Math.max(...r.peakMB).toFixed(0)} MB`.padStart(9) : '-'.padStart(9)} ${rss ? `${growth.toFixed(0)} MB`.padStart(8) : '-'.padStart(8)}`,
    );
  }
  console.log(`\nload average at end: ${load()}`);
}

await main();
