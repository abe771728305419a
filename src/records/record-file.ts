/**
 * Record files, streamed: splits a byte stream into records (fixed-length blocks, records ended by
 * a newline or CRLF in the file's code page, or variable-length records each after its 4-byte record
 * descriptor word, optionally in blocks each after a block descriptor word: RECFM=V and VB, big-endian
 * as IBM writes them), tells record types apart by their code, decodes each,
 * and checks the trailer (record count, control totals) at the end, in constant memory. Bad records
 * are reported (record number, byte offset, type, field, reason) and the good ones kept. The writer
 * is the reverse, and fills the trailer's count and totals itself.
 */
import { FieldError, RecordFileError, type RecordProblem } from './errors.ts';
import type { RecordFileSpec, RecordRole, RecordTypeSpec } from './layout-file.ts';
import type { Item } from './layout.ts';
import type { DecodedRecord } from './record-codec.ts';

export interface DecodedRow {
  recordNo: number;
  offset: number;
  /** The record's length in bytes (without its newline). */
  length: number;
  type: string;
  role: RecordRole;
  value: DecodedRecord;
}

export interface DecodedBatch {
  rows: DecodedRow[];
  problems: RecordProblem[];
}

export interface FileSummary {
  records: number;
  good: number;
  bad: number;
  bytes: number;
  header?: DecodedRecord;
  trailer?: DecodedRecord;
  /** A trailer was found last and its count and totals agree. */
  complete: boolean;
  problems: RecordProblem[];
}

const EPS = 1e-6;
/** Rows per yielded batch at most. */
const BATCH = 512;

/** Values at `path` in a record, arrays flattened: `lines.quantity` gives every line's quantity. */
export function valuesAt(value: unknown, path: readonly string[]): unknown[] {
  if (path.length === 0) return Array.isArray(value) ? value.flat(Infinity) : [value];
  if (Array.isArray(value)) return value.flatMap((v) => valuesAt(v, path));
  if (value && typeof value === 'object') return valuesAt((value as Record<string, unknown>)[path[0]], path.slice(1));
  return [];
}

class TrailerCheck {
  counted = 0;
  readonly sums = new Map<string, number>();
  badCounted = 0;
  constructor(private readonly spec: RecordFileSpec) {}

  see(type: RecordTypeSpec, value: DecodedRecord | undefined): void {
    for (const t of this.spec.types) {
      if (!t.checks) continue;
      if (t.checks.counts.includes(type.name)) {
        this.counted++;
        if (!value) this.badCounted++;
      }
      if (!value) continue;
      for (const s of t.checks.sums) {
        if (s.type !== type.name) continue;
        let add = 0;
        for (const v of valuesAt(value, s.path)) add += typeof v === 'number' ? v : Number(v);
        this.sums.set(s.field, (this.sums.get(s.field) ?? 0) + add);
      }
    }
  }

  verify(type: RecordTypeSpec, trailer: DecodedRecord, recordNo: number, offset: number): RecordProblem[] {
    const out: RecordProblem[] = [];
    const checks = type.checks;
    if (!checks) return out;
    if (checks.count) {
      const declared = Number(trailer[checks.count]);
      if (declared !== this.counted)
        out.push({ recordNo, offset, recordType: type.name, field: checks.count, reason: `trailer says ${declared} ${checks.counts.join('/')} records; the file has ${this.counted}` });
    }
    for (const s of checks.sums) {
      if (this.badCounted > 0) {
        out.push({ recordNo, offset, recordType: type.name, field: s.field, reason: `control total not checked: ${this.badCounted} counted records could not be decoded` });
        continue;
      }
      const declared = Number(trailer[s.field]);
      const actual = this.sums.get(s.field) ?? 0;
      if (Math.abs(declared - actual) > EPS * Math.max(1, Math.abs(actual))) {
        out.push({
          recordNo,
          offset,
          recordType: type.name,
          field: s.field,
          reason: `control total ${declared} does not match the sum of ${s.type}.${s.path.join('.')} (${Math.round(actual * 1e6) / 1e6})`,
        });
      }
    }
    return out;
  }
}

/** Decodes a record file from a stream of chunks, yielding one batch of rows and problems per chunk. */
export async function* decodeRecordStream(
  source: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>,
  spec: RecordFileSpec,
  summary?: FileSummary,
): AsyncGenerator<DecodedBatch> {
  const page = spec.types[0].codec.page;
  const nl = page.encode[0x0a];
  const cr = page.encode[0x0d];
  const single = spec.types.length === 1 ? spec.types[0] : undefined;
  const byCode = new Map(spec.types.filter((t) => t.code !== undefined).map((t) => [t.code!, t]));
  const rt = spec.recordType;
  const codeDecoder = rt ? makeCodeReader(spec, rt) : undefined;
  const hasTrailer = spec.types.some((t) => t.role === 'trailer');
  const check = new TrailerCheck(spec);
  const checking = spec.types.some((t) => t.checks);
  // One record type of detail records, fixed length, no trailer checks: a good record only needs
  // decoding and counting (a bad one goes the long way, through `one`, which decodes it again).
  const plainDetail = single && single.role === 'detail' && !checking && spec.delimiter === 'none' ? single : undefined;
  const sum: FileSummary = summary ?? { records: 0, good: 0, bad: 0, bytes: 0, complete: false, problems: [] };
  let recordNo = 0;
  let fileOffset = 0; // offset of `rest[0]` in the file
  let rest: Buffer = Buffer.alloc(0);
  let trailerSeen = false;
  let trailerProblems = 0;
  /** rdw: bytes left in the current block (blocked files); whether a bad descriptor word stopped the reading. */
  let blockLeft = 0;
  let rdwStopped = false;

  const one = (line: Buffer, lineStart: number, len: number, offset: number, batch: DecodedBatch, ended = true): void => {
    recordNo++;
    sum.records++;
    let buf = line;
    let start = lineStart;
    if (spec.delimiter !== 'none' && ended && len < spec.recordLength) {
      // A line shorter than its record had its trailing spaces stripped, as GnuCOBOL's LINE SEQUENTIAL
      // files and text-mode transfers do: it is read padded with spaces. (A longer line is refused, and
      // so is a short last line without its newline: more likely a file cut short.)
      buf = Buffer.alloc(spec.recordLength, page.space);
      line.copy(buf, 0, lineStart, lineStart + len);
      start = 0;
    }
    let type = single;
    if (!type) {
      const code = codeDecoder!(buf, start);
      type = byCode.get(code);
      if (!type) {
        batch.problems.push({ recordNo, offset, reason: `unknown record type code ${JSON.stringify(code)} (known: ${[...byCode.keys()].join(', ')})` });
        sum.bad++;
        return;
      }
    }
    if (trailerSeen) {
      batch.problems.push({ recordNo, offset, recordType: type.name, reason: 'record after the trailer' });
      sum.bad++;
      trailerProblems++;
    }
    const codec = type.codec;
    try {
      if (spec.delimiter === 'none') {
        if (len < codec.layout.length) throw new FieldError('', '', len, `record is ${len} bytes; the file's records are ${spec.recordLength} bytes (${type.name} needs ${codec.layout.length})`);
      } else {
        const need = codec.layout.odo || codec.layout.variable ? codec.lengthAt(buf, start) : codec.layout.length;
        if (len > need || (len < need && (!ended || spec.delimiter === 'rdw'))) throw new FieldError('', '', len, `record of the wrong length: ${len} bytes; ${type.name} is ${need} bytes`);
      }
      const value = codec.decode(buf, start);
      if (checking && type.role === 'detail') check.see(type, value);
      sum.good++;
      if (type.role === 'header') sum.header = value;
      if (type.role === 'trailer') {
        trailerSeen = true;
        sum.trailer = value;
        const problems = check.verify(type, value, recordNo, offset);
        trailerProblems += problems.length;
        batch.problems.push(...problems);
      }
      batch.rows.push({ recordNo, offset, length: len, type: type.name, role: type.role, value });
    } catch (err) {
      if (checking && type.role === 'detail') check.see(type, undefined);
      if (type.role === 'trailer') {
        trailerSeen = true;
        trailerProblems++;
      }
      sum.bad++;
      if (err instanceof FieldError)
        batch.problems.push({ recordNo, offset: offset + (err.field ? err.offset : 0), recordType: type.name, ...(err.field ? { field: err.field } : {}), reason: err.reason });
      else batch.problems.push({ recordNo, offset, recordType: type.name, reason: err instanceof Error ? err.message : String(err) });
    }
  };

  try {
    for await (const chunk of source) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      sum.bytes += buf.length;
      let pos = 0; // the next record's start in `buf`
      let batch: DecodedBatch = { rows: [], problems: [] };
      if (spec.delimiter === 'rdw') {
        // Only the bytes of one unfinished record (or block header) are carried over, not the chunk.
        const data = rest.length > 0 ? Buffer.concat([rest, buf]) : buf;
        const base = fileOffset;
        for (;;) {
          if (rdwStopped) {
            pos = data.length;
            break;
          }
          if (spec.blocked && blockLeft === 0) {
            if (pos + 4 > data.length) break;
            const extended = (data[pos] & 0x80) !== 0;
            const blen = extended ? data.readUInt32BE(pos) & 0x7fffffff : data.readUInt16BE(pos);
            if (blen < 8 || (!extended && data.readUInt16BE(pos + 2) !== 0)) {
              batch.problems.push({
                recordNo: recordNo + 1,
                offset: base + pos,
                reason: `bad block descriptor word ${data.subarray(pos, pos + 4).toString('hex')} (block length ${blen}); the rest of the file is not read`,
              });
              rdwStopped = true;
              continue;
            }
            blockLeft = blen - 4;
            pos += 4;
            continue;
          }
          if (pos + 4 > data.length) break;
          const rlen = data.readUInt16BE(pos);
          const segment = data[pos + 2];
          if (rlen < 4 || (spec.blocked && rlen > blockLeft)) {
            batch.problems.push({
              recordNo: recordNo + 1,
              offset: base + pos,
              reason: `bad record descriptor word ${data.subarray(pos, pos + 4).toString('hex')} (record length ${rlen}${spec.blocked ? `, ${blockLeft} bytes left in the block` : ''}); the rest of the file is not read`,
            });
            sum.records++;
            sum.bad++;
            rdwStopped = true;
            continue;
          }
          if (pos + rlen > data.length) break;
          if (segment !== 0) {
            recordNo++;
            sum.records++;
            sum.bad++;
            batch.problems.push({ recordNo, offset: base + pos + 4, reason: `a segment of a spanned record (RECFM=VS/VBS, segment code ${segment}); spanned records are not supported` });
          } else one(data, pos + 4, rlen - 4, base + pos + 4, batch);
          pos += rlen;
          if (spec.blocked) blockLeft -= rlen;
          if (batch.rows.length >= BATCH) {
            yield batch;
            batch = { rows: [], problems: [] };
          }
        }
        rest = pos >= data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(pos));
        fileOffset = base + pos;
      } else if (spec.delimiter === 'none') {
        const L = spec.recordLength;
        if (rest.length > 0) {
          // A record split over two chunks: join just that record, not the whole chunk.
          const need = L - rest.length;
          if (buf.length < need) {
            rest = Buffer.concat([rest, buf]);
            continue;
          }
          const joined = Buffer.concat([rest, buf.subarray(0, need)]);
          one(joined, 0, L, fileOffset, batch);
          fileOffset += L;
          pos = need;
          rest = Buffer.alloc(0);
        }
        const base = fileOffset - pos;
        if (plainDetail) {
          const codec = plainDetail.codec;
          const name = plainDetail.name;
          while (pos + L <= buf.length) {
            let value: DecodedRecord | undefined;
            try {
              value = codec.decode(buf, pos);
            } catch {
              value = undefined;
            }
            if (value === undefined) one(buf, pos, L, base + pos, batch);
            else {
              recordNo++;
              sum.records++;
              sum.good++;
              batch.rows.push({ recordNo, offset: base + pos, length: L, type: name, role: 'detail', value });
            }
            pos += L;
            if (batch.rows.length >= BATCH) {
              yield batch;
              batch = { rows: [], problems: [] };
            }
          }
        }
        while (pos + L <= buf.length) {
          one(buf, pos, L, base + pos, batch);
          pos += L;
          if (batch.rows.length >= BATCH) {
            yield batch; // small batches keep few decoded records alive at once
            batch = { rows: [], problems: [] };
          }
        }
        rest = pos >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
        fileOffset = base + buf.length - rest.length;
      } else {
        if (rest.length > 0) {
          // A record split over chunks: join just that record (up to its newline), not the whole chunk.
          const end = buf.indexOf(nl);
          if (end < 0) {
            rest = Buffer.concat([rest, buf]);
            continue;
          }
          const joined = Buffer.concat([rest, buf.subarray(0, end)]);
          const stop = spec.delimiter === 'crlf' && joined.length > 0 && joined[joined.length - 1] === cr ? joined.length - 1 : joined.length;
          one(joined, 0, stop, fileOffset, batch);
          fileOffset += joined.length + 1;
          pos = end + 1;
          rest = Buffer.alloc(0);
        }
        const base = fileOffset - pos;
        for (;;) {
          const end = buf.indexOf(nl, pos);
          if (end < 0) break;
          const stop = spec.delimiter === 'crlf' && end > pos && buf[end - 1] === cr ? end - 1 : end;
          one(buf, pos, stop - pos, base + pos, batch);
          pos = end + 1;
          if (batch.rows.length >= BATCH) {
            yield batch;
            batch = { rows: [], problems: [] };
          }
        }
        rest = pos >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
        fileOffset = base + pos;
      }
      if (batch.rows.length > 0 || batch.problems.length > 0) yield batch;
    }
  } catch (err) {
    throw new RecordFileError(
      `reading stopped at byte ${fileOffset + rest.length} after ${recordNo} records: ${err instanceof Error ? err.message : String(err)}`,
      fileOffset + rest.length,
      recordNo,
      { cause: err },
    );
  }
  const batch: DecodedBatch = { rows: [], problems: [] };
  if (rest.length > 0) {
    if (spec.delimiter === 'rdw') {
      recordNo++;
      sum.records++;
      sum.bad++;
      batch.problems.push({ recordNo, offset: fileOffset, reason: `the file ends inside a record: ${rest.length} bytes after the last whole record (file cut short?)` });
    } else if (spec.delimiter === 'none') {
      recordNo++;
      sum.records++;
      sum.bad++;
      batch.problems.push({ recordNo, offset: fileOffset, reason: `the file ends with a partial record of ${rest.length} bytes (records are ${spec.recordLength} bytes)` });
    } else {
      one(rest, 0, rest.length, fileOffset, batch, false); // the last record may lack its newline
    }
  }
  if (hasTrailer && !trailerSeen)
    batch.problems.push({ recordNo: recordNo + 1, offset: fileOffset + rest.length, reason: `the file ends without a trailer record after ${recordNo} records (incomplete file?)` });
  sum.complete = !hasTrailer || (trailerSeen && trailerProblems === 0);
  if (batch.rows.length > 0 || batch.problems.length > 0) yield batch;
}

function makeCodeReader(spec: RecordFileSpec, rt: { offset: number; length: number }): (buf: Buffer, start: number) => string {
  const page = spec.types[0].codec.page;
  return (buf, start) => {
    let s = '';
    for (let i = 0; i < rt.length; i++) s += String.fromCharCode(page.decode[buf[start + rt.offset + i]]);
    return s.trimEnd();
  };
}

/** Decodes a whole file, keeping every row and problem in memory (small files: replies, exports). */
export async function decodeRecordFile(
  source: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>,
  spec: RecordFileSpec,
): Promise<{ rows: DecodedRow[]; summary: FileSummary }> {
  const summary: FileSummary = { records: 0, good: 0, bad: 0, bytes: 0, complete: false, problems: [] };
  const rows: DecodedRow[] = [];
  for await (const batch of decodeRecordStream(source, spec, summary)) {
    for (const r of batch.rows) rows.push(r);
    for (const p of batch.problems) summary.problems.push(p);
  }
  return { rows, summary };
}

/** Writes records of a file spec; fills the trailer's count and control totals when it is written. */
export class RecordFileWriter {
  private readonly check: TrailerCheck;
  private readonly delimiter: Buffer;
  private recordNo = 0;
  /** rdw, blocked: the records of the block being filled. */
  private block: Buffer[] = [];
  private blockBytes = 4;
  readonly warnings: string[] = [];

  /** `blockSize`: the largest block written (RECFM=VB), block descriptor word included; 32760 as IBM's largest. */
  constructor(
    private readonly spec: RecordFileSpec,
    private readonly blockSize = 32_760,
  ) {
    this.check = new TrailerCheck(spec);
    const page = spec.types[0].codec.page;
    this.delimiter =
      spec.delimiter === 'none' || spec.delimiter === 'rdw' ? Buffer.alloc(0) : spec.delimiter === 'lf' ? Buffer.from([page.encode[0x0a]]) : Buffer.from([page.encode[0x0d], page.encode[0x0a]]);
  }

  /** The bytes still held back (the last block of a blocked rdw file); empty otherwise. Call it once all records are written. */
  end(): Buffer {
    if (this.block.length === 0) return Buffer.alloc(0);
    const out = this.flushBlock();
    return out;
  }

  private flushBlock(): Buffer {
    const bdw = Buffer.alloc(4);
    bdw.writeUInt16BE(this.blockBytes, 0);
    const out = Buffer.concat([bdw, ...this.block]);
    this.block = [];
    this.blockBytes = 4;
    return out;
  }

  /** rdw: the record after its descriptor word; blocked, the blocks that are full (possibly none yet). */
  private frame(body: Buffer): Buffer {
    const rdw = Buffer.alloc(4);
    if (body.length + 4 > 32_760) throw new FieldError('', '', 0, `record ${this.recordNo} is ${body.length} bytes; a variable-length record holds at most 32756`);
    rdw.writeUInt16BE(body.length + 4, 0);
    const rec = Buffer.concat([rdw, body]);
    if (!this.spec.blocked) return rec;
    let out: Buffer = Buffer.alloc(0);
    if (this.blockBytes + rec.length > this.blockSize && this.block.length > 0) out = this.flushBlock();
    this.block.push(rec);
    this.blockBytes += rec.length;
    return out;
  }

  /** A newline (or, for crlf, a carriage return) in the bytes of a record breaks the file's framing: refuse it, naming the field. */
  private checkDelimiter(type: RecordTypeSpec, body: Buffer): void {
    const page = type.codec.page;
    const nl = page.encode[0x0a];
    const cr = page.encode[0x0d];
    for (let i = 0; i < body.length; i++) {
      const b = body[i];
      if (b !== nl && !(this.spec.delimiter === 'crlf' && b === cr)) continue;
      const hit = fieldAt(type.codec.layout.items, i, 0, '');
      throw new FieldError(
        hit?.path ?? '',
        hit?.label ?? '',
        i,
        `record ${this.recordNo} (${type.name}): byte ${i} is a ${b === nl ? 'newline' : 'carriage return'} (0x${b.toString(16).padStart(2, '0').toUpperCase()}), which would split the record in a ${this.spec.delimiter} file; remove it from the value, or use delimiter: none or rdw`,
      );
    }
  }

  private type(name: string): RecordTypeSpec {
    const t = this.spec.types.find((x) => x.name === name) ?? (this.spec.types.length === 1 && name === 'record' ? this.spec.types[0] : undefined);
    if (!t) throw new Error(`${this.spec.source}: no record type ${name} (known: ${this.spec.types.map((x) => x.name).join(', ')})`);
    return t;
  }

  /** Encodes one record; throws a FieldError (with the record number in its message) for a value that cannot be written. */
  record(typeName: string, value: DecodedRecord): Buffer {
    const type = this.type(typeName);
    this.recordNo++;
    let v = value;
    if (type.code !== undefined && this.spec.recordType) v = this.withCode(type, value);
    if (type.role === 'trailer' && type.checks) {
      v = { ...v };
      if (type.checks.count) v[type.checks.count] = this.check.counted;
      for (const s of type.checks.sums) v[s.field] = Math.round((this.check.sums.get(s.field) ?? 0) * 1e6) / 1e6;
    }
    let enc;
    try {
      enc = type.codec.encode(v);
    } catch (err) {
      if (err instanceof FieldError) throw new FieldError(err.field, err.label, err.offset, `record ${this.recordNo} (${type.name}): ${err.reason}`);
      throw err;
    }
    for (const w of enc.warnings) this.warnings.push(`record ${this.recordNo} (${type.name}): ${w}`);
    if (type.role === 'detail') this.check.see(type, v);
    const body = this.spec.delimiter === 'none' ? padTo(enc.bytes, this.spec.recordLength, type.codec.page.space) : enc.bytes.subarray(0, enc.used);
    if (this.spec.delimiter === 'rdw') return this.frame(body);
    if (this.delimiter.length > 0) this.checkDelimiter(type, body);
    return this.delimiter.length === 0 ? body : Buffer.concat([body, this.delimiter]);
  }

  private withCode(type: RecordTypeSpec, value: DecodedRecord): DecodedRecord {
    // The code field is the one at the record-type offset; find its name by position.
    const rt = this.spec.recordType!;
    const item = type.codec.layout.items.find((i) => i.offset === rt.offset && i.kind === 'field');
    if (!item || !item.name || value[item.name] !== undefined) return value;
    return { ...value, [item.name]: type.code };
  }
}

/** The field (path and COBOL name) holding byte `at` of a record laid out at its maximum. */
function fieldAt(items: readonly Item[], at: number, base: number, prefix: string): { path: string; label: string } | undefined {
  for (const item of items) {
    const start = base + item.offset;
    const n = item.occurs?.max ?? 1;
    if (at < start || at >= start + item.size * n || item.redefines) continue;
    const i = Math.floor((at - start) / item.size);
    const path = `${prefix}${item.name || item.label}${item.occurs ? `[${i}]` : ''}`;
    if (item.kind === 'field') return { path, label: item.label };
    return fieldAt(item.children, at, start + i * item.size, `${path}.`) ?? { path, label: item.label };
  }
  return undefined;
}

function padTo(buf: Buffer, length: number, space: number): Buffer {
  if (buf.length >= length) return buf;
  const out = Buffer.alloc(length, space);
  buf.copy(out);
  return out;
}

/** Encodes a whole file from rows of `{ type, value }`. */
export function encodeRecordFile(spec: RecordFileSpec, rows: Iterable<{ type: string; value: DecodedRecord }>): { bytes: Buffer; warnings: string[] } {
  const w = new RecordFileWriter(spec);
  const parts: Buffer[] = [];
  for (const r of rows) parts.push(w.record(r.type, r.value));
  parts.push(w.end());
  return { bytes: Buffer.concat(parts), warnings: w.warnings };
}
