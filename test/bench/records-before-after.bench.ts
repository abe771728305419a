/**
 * The streaming reader's speed before and after a change, in one run on the same machine: 200-byte
 * EBCDIC bench records (test/bench/records-layout.ts) decoded by `decodeRecordStream` of this
 * checkout ("after") and of another checkout ("before": FICUS_BEFORE, default ../main), in
 * alternating rounds so that both see the same load. Rates are records per CPU-second of this process.
 *   FICUS_BEFORE=/work/main npm run bench -- test/bench/records-before-after.bench.ts
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

type Stream = (source: Iterable<Buffer>, spec: unknown) => AsyncGenerator<{ rows: unknown[]; problems: unknown[] }>;
interface Side {
  name: string;
  decode: Stream;
  spec: { types: { codec: { encode(v: Record<string, unknown>): { bytes: Buffer }; layout: { length: number } } }[] };
  record(i: number): Record<string, unknown>;
}

const here = dirname(fileURLToPath(import.meta.url));
const beforeRoot = resolve(process.env.FICUS_BEFORE ?? join(here, '../../../main'));
if (!existsSync(join(beforeRoot, 'src/records/record-file.ts'))) throw new Error(`no checkout at ${beforeRoot} (set FICUS_BEFORE)`);

async function side(name: string, root: string): Promise<Side> {
  const rf = (await import(join(root, 'src/records/record-file.ts'))) as { decodeRecordStream: Stream };
  const bl = (await import(join(root, 'test/bench/records-layout.ts'))) as { benchSpec(): Side['spec']; benchRecord(i: number): Record<string, unknown> };
  return { name, decode: rf.decodeRecordStream, spec: bl.benchSpec(), record: bl.benchRecord };
}

const sides = [await side('before', beforeRoot), await side('after', resolve(here, '../..'))];
const DISTINCT = 50_000;
const RECORDS = 1_000_000;
const blocks = sides.map((s) => {
  const codec = s.spec.types[0].codec;
  if (codec.layout.length !== 200) throw new Error(`${s.name}: bench record is ${codec.layout.length} bytes`);
  const block = Buffer.alloc(DISTINCT * 200);
  for (let i = 0; i < DISTINCT; i++) codec.encode(s.record(i)).bytes.copy(block, i * 200);
  return block;
});
if (!blocks[0].equals(blocks[1])) throw new Error('before and after encode the bench records differently');
const block = blocks[1];

async function rate(s: Side): Promise<number> {
  const c0 = process.cpuUsage();
  let n = 0;
  const chunks = function* () {
    for (let k = 0; k < RECORDS / DISTINCT; k++) for (let off = 0; off < block.length; off += 1 << 20) yield block.subarray(off, Math.min(block.length, off + (1 << 20)));
  };
  for await (const batch of s.decode(chunks(), s.spec)) {
    n += batch.rows.length;
    if (batch.problems.length > 0) throw new Error(`${s.name}: ${JSON.stringify(batch.problems[0])}`);
  }
  const c = process.cpuUsage(c0);
  return n / ((c.user + c.system) / 1e6);
}

const load = () =>
  `${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${cpus().length} cores`;
console.log(`load average before: ${load()}`);
for (const s of sides) await rate(s); // warm up
const results: Record<string, number[]> = { before: [], after: [] };
const ROUNDS = Number(process.env.ROUNDS ?? 5);
for (let r = 0; r < ROUNDS; r++) for (const s of r % 2 === 0 ? sides : [...sides].reverse()) results[s.name].push(await rate(s));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const s of sides)
  console.log(
    `${s.name.padEnd(6)} ${Math.round(median(results[s.name])).toLocaleString('en-US')} records per CPU-second (median of ${ROUNDS}; rounds ${results[s.name].map((x) => Math.round(x / 1000) + 'k').join(' ')})`,
  );
const change = median(results.after) / median(results.before) - 1;
console.log(`change: ${(change * 100).toFixed(1)}% (target: no worse than -5%)`);
console.log(`load average after: ${load()}`);
