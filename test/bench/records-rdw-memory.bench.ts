/**
 * Memory while decoding a 1 GB variable-length file (RECFM=VB: block and record descriptor words,
 * big-endian): the 200-byte EBCDIC bench record, written in blocks of up to 32,760 bytes under /tmp,
 * decoded by the streaming reader in a child process whose peak resident memory (maxRSS) is
 * reported, then deleted. Target: peak memory under 150 MB.
 *   npm run bench -- test/bench/records-rdw-memory.bench.ts
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { recordFileSpec } from '../../src/records/layout-file.ts';
import { decodeRecordStream, RecordFileWriter, type FileSummary } from '../../src/records/record-file.ts';
import { BENCH_LAYOUT, benchRecord } from './records-layout.ts';

const spec = recordFileSpec({ ...BENCH_LAYOUT, delimiter: 'rdw', blocked: true }, 'bench layout (VB)', process.cwd());

async function decodeChild(file: string): Promise<void> {
  const summary: FileSummary = { records: 0, good: 0, bad: 0, bytes: 0, complete: false, problems: [] };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let sum = 0;
  for await (const batch of decodeRecordStream(createReadStream(file, { highWaterMark: 256 * 1024 }), spec, summary)) {
    for (const r of batch.rows) sum += r.value.balance as number;
  }
  const c = process.cpuUsage(c0);
  process.stdout.write(
    JSON.stringify({
      records: summary.records,
      good: summary.good,
      bad: summary.bad,
      bytes: summary.bytes,
      maxRssKb: process.resourceUsage().maxRSS,
      wallS: (performance.now() - t0) / 1000,
      cpuS: (c.user + c.system) / 1e6,
      sum,
    }) + '\n',
  );
}

async function main(): Promise<void> {
  const file = `/tmp/ficus-bench-vb-1gb-${process.pid}.dat`;
  try {
    // 10,000 records in VB blocks, written again and again up to 1 GB.
    const w = new RecordFileWriter(spec);
    const parts: Buffer[] = [];
    for (let i = 0; i < 10_000; i++) parts.push(w.record('record', benchRecord(i)));
    parts.push(w.end());
    const block = Buffer.concat(parts);
    const out = createWriteStream(file);
    let written = 0;
    let copies = 0;
    while (written < 1024 ** 3) {
      if (!out.write(block)) await once(out, 'drain');
      written += block.length;
      copies++;
    }
    out.end();
    await once(out, 'close');
    console.log(`wrote ${file}: ${statSync(file).size.toLocaleString('en-US')} bytes, ${(copies * 10_000).toLocaleString('en-US')} records of 204 bytes (RDW included) in blocks of up to 32,760`);
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--decode', file], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (child.status !== 0) throw new Error(`decoder failed: ${child.stderr}`);
    const r = JSON.parse(child.stdout.trim().split('\n').pop()!) as { records: number; good: number; bad: number; maxRssKb: number; wallS: number; cpuS: number };
    const mb = r.maxRssKb / 1024;
    console.log(
      `decoded ${r.good.toLocaleString('en-US')} of ${r.records.toLocaleString('en-US')} records (${r.bad} bad) in ${r.wallS.toFixed(1)} s wall, ${r.cpuS.toFixed(1)} s CPU (${Math.round(r.good / r.cpuS).toLocaleString('en-US')} records per CPU-second)`,
    );
    console.log(`peak memory (maxRSS of the decoding process, Node runtime included): ${mb.toFixed(1)} MB`);
    console.log(`target: under 150 MB: ${mb < 150 ? 'MET' : 'NOT MET'}`);
  } finally {
    rmSync(file, { force: true });
  }
}

if (process.argv[2] === '--decode') await decodeChild(process.argv[3]);
else await main();
