/**
 * Decoding speed: a 200-byte EBCDIC record of 20 fields (COMP-3, zoned and binary numbers, dates,
 * text) on one core. Target: at least 500,000 records per second.
 *   npm run bench -- test/bench/records-decode.bench.ts
 * Prints the rate of the record codec alone and of the whole streaming file reader (splitting,
 * record types, trailer checks) over an in-memory file, and the load average before and after
 * (rates are per CPU-second of this process; a loaded machine still lowers them). Also the codec
 * with its plain decoder, what runs where code generation from strings is refused.
 */
import { cpus, loadavg } from 'node:os';
import { compileRecord, type RecordCodec } from '../../src/records/record-codec.ts';
import { decodeRecordStream } from '../../src/records/record-file.ts';
import { benchRecord, benchSpec } from './records-layout.ts';

const spec = benchSpec();
const codec = spec.types[0].codec;
if (!codec.generated) throw new Error('the bench codec should use the generated decoder');
const plainCodec = compileRecord(codec.layout, codec.page.name, { generatedDecoder: false });
if (codec.layout.length !== 200) throw new Error(`bench record is ${codec.layout.length} bytes, not 200`);

const DISTINCT = 50_000;
const block = Buffer.alloc(DISTINCT * 200);
for (let i = 0; i < DISTINCT; i++) codec.encode(benchRecord(i)).bytes.copy(block, i * 200);

// Correctness first: every record decodes and re-encodes to the same bytes.
for (let i = 0; i < 1000; i++) {
  const v = codec.decode(block, i * 200);
  if (!codec.encode(v).bytes.equals(block.subarray(i * 200, i * 200 + 200))) throw new Error(`record ${i} does not round-trip`);
}

/** Records per second of wall time and per second of this process's CPU time (the figure for "one core" on a shared machine). */
function timed<T>(fn: () => T): { value: T; wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const value = fn();
  const c = process.cpuUsage(c0);
  return { value, wall: (performance.now() - w0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

function codecRate(seconds: number, codec: RecordCodec): { wall: number; cpu: number } {
  const r = timed(() => {
    const end = performance.now() + seconds * 1000;
    let n = 0;
    let sink = 0;
    while (performance.now() < end) {
      for (let i = 0; i < DISTINCT; i++) sink += (codec.decode(block, i * 200).custId as number) & 1;
      n += DISTINCT;
    }
    if (sink < 0) console.log(sink);
    return n;
  });
  return { wall: r.value / r.wall, cpu: r.value / r.cpu };
}

async function streamRate(records: number): Promise<{ wall: number; cpu: number }> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < records / DISTINCT; i++) chunks.push(block);
  const start = performance.now();
  const c0 = process.cpuUsage();
  let n = 0;
  for await (const batch of decodeRecordStream(
    (function* () {
      for (const c of chunks) for (let off = 0; off < c.length; off += 1 << 20) yield c.subarray(off, Math.min(c.length, off + (1 << 20)));
    })(),
    spec,
  )) {
    n += batch.rows.length;
    if (batch.problems.length > 0) throw new Error(JSON.stringify(batch.problems[0]));
  }
  const c = process.cpuUsage(c0);
  return { wall: n / ((performance.now() - start) / 1000), cpu: n / ((c.user + c.system) / 1e6) };
}

const load = () =>
  `${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${cpus().length} cores`;
console.log(`load average before: ${load()}`);
codecRate(1, codec); // warm up
codecRate(1, plainCodec);
const rates: { wall: number; cpu: number }[] = [];
const plainRates: { wall: number; cpu: number }[] = [];
for (let r = 0; r < 5; r++) {
  rates.push(codecRate(2, codec));
  plainRates.push(codecRate(2, plainCodec));
}
const stream: { wall: number; cpu: number }[] = [];
for (let r = 0; r < 3; r++) stream.push(await streamRate(2_000_000));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const line = (what: string, xs: { wall: number; cpu: number }[]) =>
  console.log(`${what} ${fmt(median(xs.map((x) => x.cpu)))} records per CPU-second, ${fmt(median(xs.map((x) => x.wall)))} records per wall-second (median of ${xs.length} runs)`);
line('record codec:    ', rates);
line('  plain decoder: ', plainRates);
line('streaming reader:', stream);
console.log(`load average after: ${load()}`);
for (const [what, xs] of [
  ['record codec', rates],
  ['record codec, plain decoder', plainRates],
  ['streaming reader', stream],
] as const) {
  const got = median(xs.map((x) => x.cpu));
  console.log(`target: 500,000 records/s on one core (${what}, CPU time): ${got >= 500_000 ? 'MET' : 'NOT MET'} (${fmt(got)})`);
}
