/**
 * A record codec: a layout compiled, once, for one code page into a decoder (bytes → a plain object
 * of named fields, arrays for OCCURS, nested objects for groups, FILLER left out) and an encoder
 * (the reverse, exactly: encoding a decoded record gives back its bytes when its text is blank-padded
 * and its signs are the preferred ones). Faults name the field, its byte offset and the reason.
 */
import { codePage, type CodePage } from './code-pages.ts';
import { formatLegacyDate, parseLegacyDate, DATE_DIGITS } from './dates.ts';
import { FieldError, FieldFault } from './errors.ts';
import type { FieldItem, GroupItem, Item, RecordLayout } from './layout.ts';
import { makeNumberDecoder, makeNumberEncoder } from './numbers.ts';

export type DecodedRecord = Record<string, unknown>;

export interface EncodeResult {
  bytes: Buffer;
  /** Bytes actually used: shorter than `bytes` when an OCCURS DEPENDING ON table is not full. */
  used: number;
  /** What the `cut` truncation policy cut, one line per field. */
  warnings: string[];
}

export interface RecordCodec {
  layout: RecordLayout;
  page: CodePage;
  /** Decodes the record at `start` (the buffer may hold more after it). */
  decode(buf: Buffer, start?: number): DecodedRecord;
  encode(value: DecodedRecord): EncodeResult;
  /** The length of the record at `start`: the layout's length, or less for a short OCCURS DEPENDING ON table. */
  lengthAt(buf: Buffer, start: number): number;
}

type ValueDecoder = (buf: Buffer, at: number) => unknown;
type ValueEncoder = (buf: Buffer, at: number, value: unknown, report: (msg: string) => void) => void;
type Decoder = (buf: Buffer, at: number, out: DecodedRecord, rs: number) => void;
type Encoder = (buf: Buffer, at: number, value: DecodedRecord, rs: number, report: (msg: string) => void, prefix: string) => void;

function fault(err: unknown, field: string, label: string, offset: number): FieldError {
  if (err instanceof FieldError) return new FieldError(`${field}.${err.field}`.replace(/\.\[/g, '['), err.label, err.offset, err.reason);
  const reason = err instanceof Error ? err.message : String(err);
  return new FieldError(field, label, offset, reason);
}

function prefixError(err: unknown, prefix: string): unknown {
  if (err instanceof FieldError) return new FieldError(`${prefix}${err.field}`, err.label, err.offset, err.reason);
  return err;
}

function hex(b: number): string {
  return `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** `Buffer#latin1Slice`: what `toString('latin1', start, end)` calls, without its argument handling. */
type Slice = (this: Buffer, start: number, end: number) => string;
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: Slice }).latin1Slice;
const FAST_SLICE = typeof latin1Slice === 'function';

function sliceLatin1(buf: Buffer, start: number, end: number): string {
  return FAST_SLICE ? latin1Slice!.call(buf, start, end) : buf.toString('latin1', start, end);
}

/** Whether the page defines every byte (then text needs no check byte by byte). */
function definesAll(page: CodePage): boolean {
  return page.valid.every((v) => v === 1);
}

function badByte(page: CodePage, b: number, at: number): FieldFault {
  return new FieldFault(`byte ${hex(b)} is not a character of code page ${page.name}`, at);
}

function makeTextDecoder(field: FieldItem, page: CodePage): (buf: Buffer, at: number) => string {
  const size = field.pic.length;
  const space = page.space;
  const right = field.justify === 'right';
  const { valid, toLatin1, decode } = page;
  const identity = page.name === 'latin1' || page.name === 'ascii';
  const all = definesAll(page);
  if (page.latin1Only && size <= 3) {
    // Short codes (a record type, a status, a currency) repeat: keep their strings.
    const cache = new Map<number, string>();
    return (buf, at) => {
      let start = at;
      let end = at + size;
      if (right) while (start < end && buf[start] === space) start++;
      else while (end > start && buf[end - 1] === space) end--;
      let key = end - start;
      for (let i = start; i < end; i++) key = key * 256 + buf[i];
      const hit = cache.get(key);
      if (hit !== undefined) return hit;
      let text = '';
      for (let i = start; i < end; i++) {
        const b = buf[i];
        if (valid[b] === 0) throw badByte(page, b, i);
        text += String.fromCharCode(toLatin1[b]);
      }
      if (cache.size < 65_536) cache.set(key, text);
      return text;
    };
  }
  if (page.latin1Only) {
    const scratch = Buffer.allocUnsafe(size);
    return (buf, at) => {
      let start = at;
      let end = at + size;
      if (right) while (start < end && buf[start] === space) start++;
      else while (end > start && buf[end - 1] === space) end--;
      if (identity) {
        if (!all) {
          for (let i = start; i < end; i++) if (valid[buf[i]] === 0) throw badByte(page, buf[i], i);
        }
        return sliceLatin1(buf, start, end);
      }
      if (all) for (let i = start; i < end; i++) scratch[i - start] = toLatin1[buf[i]];
      else {
        for (let i = start; i < end; i++) {
          const b = buf[i];
          if (valid[b] === 0) throw badByte(page, b, i);
          scratch[i - start] = toLatin1[b];
        }
      }
      return sliceLatin1(scratch, 0, end - start);
    };
  }
  const scratch = Buffer.allocUnsafe(size * 2);
  return (buf, at) => {
    let start = at;
    let end = at + size;
    if (right) while (start < end && buf[start] === space) start++;
    else while (end > start && buf[end - 1] === space) end--;
    for (let i = start; i < end; i++) {
      const b = buf[i];
      if (valid[b] === 0) throw badByte(page, b, i);
      scratch.writeUInt16LE(decode[b], (i - start) * 2);
    }
    return scratch.toString('utf16le', 0, (end - start) * 2);
  };
}

function makeTextEncoder(field: FieldItem, page: CodePage): ValueEncoder {
  const size = field.pic.length;
  return (buf, at, value, report) => {
    let text = value === undefined || value === null ? '' : typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
    if (text === undefined) throw new FieldFault(`expected text, got ${Array.isArray(value) ? 'an array' : typeof value}`, at);
    if (text.length > size) {
      if (field.truncate === 'refuse') throw new FieldFault(`"${text}" is ${text.length} characters; the field holds ${size}`, at);
      report(`"${text}" cut to ${size} characters`);
      text = text.slice(0, size);
    }
    const pad = size - text.length;
    const start = field.justify === 'right' ? at + pad : at;
    for (let i = 0; i < text.length; i++) {
      const u = text.charCodeAt(i);
      const b = page.encode[u];
      if (b < 0) throw new FieldFault(`character ${JSON.stringify(text[i])} (U+${u.toString(16).toUpperCase().padStart(4, '0')}) at position ${i + 1} is not in code page ${page.name}`, at);
      buf[start + i] = b;
    }
  };
}

const PAD2 = Array.from({ length: 100 }, (_v, i) => String(i).padStart(2, '0'));

function conditionMaps(field: FieldItem): { decode: Map<string | number, string>; encode: Map<string, string | number> } | undefined {
  if (!field.conditions || field.conditions.length === 0) return undefined;
  const decode = new Map<string | number, string>();
  const encode = new Map<string, string | number>();
  for (const c of field.conditions) {
    encode.set(c.name, c.values[0]);
    for (const v of c.values) if (!decode.has(v)) decode.set(v, c.name);
  }
  return { decode, encode };
}

function makeFieldDecoder(field: FieldItem, page: CodePage): ValueDecoder {
  const conds = conditionMaps(field);
  let base: ValueDecoder;
  if (field.pic.kind === 'alnum') base = makeTextDecoder(field, page);
  else base = makeNumberDecoder(field, page);
  if (field.date) {
    const { format, pivot } = field.date;
    const width = DATE_DIGITS[format];
    const raw = base;
    const fast = format === 'YYYYMMDD' || format === 'CYYMMDD';
    // Dates repeat (a file holds a few thousand different days at most): keep their strings.
    const seen = new Map<number, string>();
    base = (buf, at) => {
      const v = raw(buf, at);
      if (fast && typeof v === 'number' && Number.isInteger(v) && v > 0) {
        const hit = seen.get(v);
        if (hit !== undefined) return hit;
        // The common forms by arithmetic, without string work: YYYYMMDD and CYYMMDD.
        const y = format === 'YYYYMMDD' ? Math.floor(v / 10000) : 1900 + Math.floor(v / 10000);
        const m = Math.floor(v / 100) % 100;
        const d = v % 100;
        if (v < 10 ** width && m >= 1 && m <= 12 && d >= 1 && d <= 28 && y >= 1000 && (format === 'YYYYMMDD' || v < 2_000_000)) {
          const iso = `${y}-${PAD2[m]}-${PAD2[d]}`;
          if (seen.size < 65_536) seen.set(v, iso);
          return iso;
        }
      }
      const digits = typeof v === 'number' ? String(v).padStart(width, '0') : String(v).trim();
      if (digits === '') return null;
      try {
        return parseLegacyDate(digits, format, pivot);
      } catch (err) {
        throw new FieldFault((err as Error).message, at);
      }
    };
  }
  if (conds) {
    const raw = base;
    base = (buf, at) => {
      const v = raw(buf, at);
      return conds.decode.get(v as string | number) ?? v;
    };
  }
  return base;
}

function makeFieldEncoder(field: FieldItem, page: CodePage): ValueEncoder {
  const conds = conditionMaps(field);
  let base: ValueEncoder = field.pic.kind === 'alnum' ? makeTextEncoder(field, page) : makeNumberEncoder(field, page);
  if (field.date) {
    const { format, pivot } = field.date;
    const raw = base;
    base = (buf, at, value, report) => {
      let digits: string;
      try {
        digits = formatLegacyDate(value, format, pivot);
      } catch (err) {
        throw new FieldFault((err as Error).message, at);
      }
      raw(buf, at, field.pic.kind === 'alnum' && /^0+$/.test(digits) && (value === null || value === undefined) ? '' : digits, report);
    };
  }
  if (conds) {
    const raw = base;
    base = (buf, at, value, report) => raw(buf, at, typeof value === 'string' && conds.encode.has(value) ? conds.encode.get(value) : value, report);
  }
  return base;
}

interface Compiled {
  decoders: Decoder[];
  encoders: Encoder[];
}

function countReader(layout: RecordLayout, page: CodePage): ((buf: Buffer, rs: number) => number) | undefined {
  if (!layout.odo) return undefined;
  const { counter, counterOffset, item } = layout.odo;
  const dec = makeNumberDecoder(counter, page);
  const { min, max } = item.occurs!;
  return (buf, rs) => {
    let n: unknown;
    try {
      n = dec(buf, rs + counterOffset);
    } catch (err) {
      throw fault(err, counter.name || counter.label, counter.label, counterOffset);
    }
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      throw new FieldError(counter.name || counter.label, counter.label, counterOffset, `count ${String(n)} for ${item.label} is outside OCCURS ${min} TO ${max}`);
    }
    return n;
  };
}

function compileItems(items: readonly Item[], page: CodePage, count: ((buf: Buffer, rs: number) => number) | undefined, countOf: Item | undefined): Compiled {
  const decoders: Decoder[] = [];
  const encoders: Encoder[] = [];
  for (const item of items) {
    const alternatives = items.filter((x) => x.redefines && x.redefines.toUpperCase() === item.label.toUpperCase());
    const one = compileOne(item, page, count, countOf);
    const name = item.name;
    const path = name || item.label;
    // Decoding: a REDEFINES item is decoded instead of the original when its `when` holds.
    const whenOf = (alt: Item, out: DecodedRecord) => alt.when !== undefined && alt.when.equals.includes(out[alt.when.field] as string | number);
    if (item.redefines) {
      if (item.when && name) {
        decoders.push((buf, at, out, rs) => {
          if (whenOf(item, out)) out[name] = one.decode(buf, at + item.offset, rs);
        });
      }
      if (name) encoders.push((buf, at, value, rs, report, prefix) => {
        if (value[name] !== undefined) one.encode(buf, at + item.offset, value[name], rs, report, `${prefix}${path}`);
      });
      continue;
    }
    const guarded = alternatives.filter((a) => a.when);
    if (name && item.kind === 'field' && !item.occurs && guarded.length === 0) {
      // The hot path: a plain field, decoded with one closure call.
      const dec = makeFieldDecoder(item, page);
      const off = item.offset;
      decoders.push((buf, at, out, rs) => {
        try {
          out[name] = dec(buf, at + off);
        } catch (err) {
          throw fault(err, name, item.label, (err instanceof FieldFault ? err.at : at + off) - rs);
        }
      });
    } else if (name) {
      decoders.push(
        guarded.length === 0
          ? (buf, at, out, rs) => {
              out[name] = one.decode(buf, at + item.offset, rs);
            }
          : (buf, at, out, rs) => {
              if (!guarded.some((a) => whenOf(a, out))) out[name] = one.decode(buf, at + item.offset, rs);
            },
      );
    }
    encoders.push((buf, at, value, rs, report, prefix) => {
      if (alternatives.some((a) => a.name && value[a.name] !== undefined)) return;
      one.encode(buf, at + item.offset, name ? value[name] : undefined, rs, report, `${prefix}${path}`);
    });
  }
  return { decoders, encoders };
}

type ItemDecoder = (buf: Buffer, at: number, rs: number) => unknown;

/** The value of a one-byte field for each of the 256 bytes; undefined where decoding the byte throws. */
function byteTable(dec: ValueDecoder): unknown[] {
  const table: unknown[] = new Array(256);
  const one = Buffer.alloc(1);
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0; // most bytes are faults for a digit: no stack traces for those
  try {
    for (let b = 0; b < 256; b++) {
      one[0] = b;
      try {
        table[b] = dec(one, 0);
      } catch {
        table[b] = undefined;
      }
    }
  } finally {
    Error.stackTraceLimit = limit;
  }
  return table;
}

/** Text fields that are read straight into a run of text, sliced into strings once per record. */
const INLINE_TEXT_MIN = 4;
/** Text fields further apart than this are read into separate runs. */
const RUN_GAP = 256;
/** `ucs2Slice` reads UTF-16 little-endian; a Uint16Array holds the platform's order. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const FAST_UCS2 = typeof (Buffer.prototype as unknown as { ucs2Slice?: Slice }).ucs2Slice === 'function' && LITTLE_ENDIAN;

/**
 * How the text fields of a generated decoder become strings: `identity` (latin1, ascii: the bytes
 * are the characters), `latin1` (a page whose characters all fit in latin1, EBCDIC mostly: translate
 * byte by byte), `ucs2` (the others: translate to UTF-16 code units), or not inline at all.
 */
function textMode(page: CodePage): 'identity' | 'latin1' | 'ucs2' | undefined {
  if (!FAST_SLICE) return undefined;
  if (page.name === 'latin1' || page.name === 'ascii') return 'identity';
  if (page.latin1Only) return 'latin1';
  return FAST_UCS2 ? 'ucs2' : undefined;
}

/**
 * The fast path for a group of items that are all decoded unconditionally (no REDEFINES choice):
 * a function generated for this layout that decodes every item and builds the object with one
 * literal, so that every property store has a fixed name and every record the same shape. That is
 * several times quicker than filling an object field by field through one shared closure.
 *
 * Text fields of four characters or more are not decoded one by one: their bytes (blanks trimmed,
 * checked as they go, in field order) are translated into a scratch buffer at their own offsets,
 * the buffer is read as one string per run of nearby fields, and each field's value is a substring
 * of it. One-byte fields (a flag, a status, a digit) are looked up in a table of their 256 values,
 * made by the field's own decoder. Every other item is decoded by its closure. Faults come out in
 * field order as before: no string is made until every field has been read.
 *
 * The function takes (buf, at, rs) inside a record, and (buf, start) as a record's decoder.
 */
function generateDecoder(items: readonly Item[], page: CodePage, count: ((buf: Buffer, rs: number) => number) | undefined, countOf: Item | undefined): ItemDecoder | undefined {
  const plain = items.filter((i) => i.name);
  const conditional = items.some((i) => i.redefines);
  if (conditional || plain.length === 0) return undefined;
  const K: unknown[] = [];
  const konst = (v: unknown): string => `K${K.push(v) - 1}`;
  const all = definesAll(page);
  const mode = textMode(page);
  const body: string[] = [];
  const values: string[] = [];
  // Runs of inline text: [from, to) offsets in the group.
  const runs: { from: number; to: number }[] = [];
  const runOf = new Map<number, number>();
  for (let k = 0; k < plain.length; k++) {
    const item = plain[k];
    if (mode && item.kind === 'field' && !item.occurs && item.pic.kind === 'alnum' && !item.date && !(item.conditions && item.conditions.length > 0) && item.pic.length >= INLINE_TEXT_MIN && item.size === item.pic.length) {
      const last = runs[runs.length - 1];
      if (last && item.offset >= last.to && item.offset - last.to <= RUN_GAP) last.to = item.offset + item.size;
      else runs.push({ from: item.offset, to: item.offset + item.size });
      runOf.set(k, runs.length - 1);
    }
  }
  const end = runs.length > 0 ? runs[runs.length - 1].to : 0;
  // The scratch buffer, indexed by offset in the group; for ucs2, the same memory as 16-bit units.
  const scratch = mode === 'latin1' ? Buffer.alloc(end) : mode === 'ucs2' ? Buffer.alloc(end * 2) : undefined;
  const S = scratch && runs.length > 0 ? konst(mode === 'ucs2' ? new Uint16Array(scratch.buffer, scratch.byteOffset, end) : scratch) : '';
  const SB = mode === 'ucs2' && runs.length > 0 ? konst(scratch) : '';
  const TABLE = mode === 'latin1' ? konst(page.toLatin1) : mode === 'ucs2' ? konst(page.decode) : '';
  const V = all ? '' : konst(page.valid);
  const BAD = all ? '' : konst((b: number, at: number) => badByte(page, b, at));
  const space = page.space;
  for (let k = 0; k < plain.length; k++) {
    const item = plain[k];
    const off = item.offset;
    const run = runOf.get(k);
    if (run !== undefined && item.kind === 'field') {
      const size = item.size;
      body.push(`    i = ${k};`);
      if (item.justify === 'right') {
        body.push(`    let s${k} = at + ${off}; const e${k} = s${k} + ${size};`, `    while (s${k} < e${k} && buf[s${k}] === ${space}) s${k}++;`);
      } else {
        body.push(`    const s${k} = at + ${off}; let e${k} = s${k} + ${size};`, `    while (e${k} > s${k} && buf[e${k} - 1] === ${space}) e${k}--;`);
      }
      const check = all ? '' : `if (${V}[b] === 0) throw ${BAD}(b, p); `;
      if (mode !== 'identity') body.push(`    for (let p = s${k}; p < e${k}; p++) { const b = buf[p]; ${check}${S}[p - at] = ${TABLE}[b]; }`);
      else if (!all) body.push(`    for (let p = s${k}; p < e${k}; p++) { const b = buf[p]; ${check}}`);
      const from = runs[run].from;
      values.push(`T${run}.substring(s${k} - at - ${from}, e${k} - at - ${from})`);
    } else if (item.kind === 'field' && !item.occurs && item.size === 1) {
      const dec = makeFieldDecoder(item, page);
      body.push(`    i = ${k}; let v${k} = ${konst(byteTable(dec))}[buf[at + ${off}]];`, `    if (v${k} === undefined) v${k} = ${konst(dec)}(buf, at + ${off});`);
      values.push(`v${k}`);
    } else if (item.kind === 'field' && !item.occurs) {
      body.push(`    i = ${k}; const v${k} = ${konst(makeFieldDecoder(item, page))}(buf, at + ${off});`);
      values.push(`v${k}`);
    } else {
      const one = compileOne(item, page, count, countOf);
      body.push(`    i = ${k}; const v${k} = ${konst((buf: Buffer, at: number, rs: number) => one.decode(buf, at, rs))}(buf, at + ${off}, rs);`);
      values.push(`v${k}`);
    }
  }
  body.push('    i = -1;');
  runs.forEach((r, n) =>
    body.push(
      mode === 'identity'
        ? `    const T${n} = buf.latin1Slice(at + ${r.from}, at + ${r.to});`
        : mode === 'latin1'
          ? `    const T${n} = ${S}.latin1Slice(${r.from}, ${r.to});`
          : `    const T${n} = ${SB}.ucs2Slice(${r.from * 2}, ${r.to * 2});`,
    ),
  );
  const onError = (err: unknown, i: number, at: number, rs: number): unknown => {
    if (i < 0 || err instanceof FieldError) return err;
    const item = plain[i];
    return fault(err, item.name, item.label, (err instanceof FieldFault ? err.at : at + item.offset) - rs);
  };
  const source = [
    // The constants as bindings of the enclosing function, not array loads in every loop.
    ...K.map((_v, n) => `const K${n} = K[${n}];`),
    'return function decode(buf, at = 0, rs = at) {',
    '  let i = -1;',
    '  try {',
    ...body,
    `    return { ${plain.map((item, k) => `${JSON.stringify(item.name)}: ${values[k]}`).join(', ')} };`,
    '  } catch (err) {',
    '    throw E(err, i, at, rs);',
    '  }',
    '};',
  ].join('\n');
  // Generated from the layout's own names (JSON-quoted), offsets and sizes, and the page's space byte only.
  return new Function('K', 'E', source)(K, onError) as ItemDecoder;
}

interface OneCodec {
  decode(buf: Buffer, at: number, rs: number): unknown;
  encode(buf: Buffer, at: number, value: unknown, rs: number, report: (msg: string) => void, path: string): void;
}

function compileOne(item: Item, page: CodePage, count: ((buf: Buffer, rs: number) => number) | undefined, countOf: Item | undefined): OneCodec {
  let single: OneCodec;
  if (item.kind === 'field') {
    const dec = makeFieldDecoder(item, page);
    const enc = makeFieldEncoder(item, page);
    const name = item.name || item.label;
    single = {
      decode(buf, at, rs) {
        try {
          return dec(buf, at);
        } catch (err) {
          throw fault(err, name, item.label, (err instanceof FieldFault ? err.at : at) - rs);
        }
      },
      encode(buf, at, value, rs, report, path) {
        try {
          enc(buf, at, value, (msg) => report(`${path}: ${msg}`));
        } catch (err) {
          throw new FieldError(path, item.label, at - rs, err instanceof Error ? err.message : String(err));
        }
      },
    };
  } else {
    single = compileGroup(item, page, count, countOf);
  }
  const occurs = item.occurs;
  if (!occurs) return single;
  const size = item.size;
  const isOdo = countOf === item;
  const fixed = occurs.max;
  return {
    decode(buf, at, rs) {
      const n = isOdo && count ? count(buf, rs) : fixed;
      const arr: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) {
        try {
          arr[i] = single.decode(buf, at + i * size, rs);
        } catch (err) {
          if (err instanceof FieldError) {
            const inner = err.field.startsWith(item.name || item.label) ? err.field.slice((item.name || item.label).length) : `.${err.field}`;
            throw new FieldError(`${item.name || item.label}[${i}]${inner}`, err.label, err.offset, err.reason);
          }
          throw err;
        }
      }
      return arr;
    },
    encode(buf, at, value, rs, report, path) {
      const arr = value === undefined || value === null ? [] : value;
      if (!Array.isArray(arr)) throw new FieldError(path, item.label, at - rs, `expected an array (OCCURS ${occurs.max}), got ${typeof arr}`);
      if (arr.length > occurs.max) throw new FieldError(path, item.label, at - rs, `${arr.length} items; OCCURS allows at most ${occurs.max}`);
      if (isOdo && arr.length < occurs.min) throw new FieldError(path, item.label, at - rs, `${arr.length} items; OCCURS needs at least ${occurs.min}`);
      const n = isOdo ? arr.length : fixed;
      for (let i = 0; i < n; i++) single.encode(buf, at + i * size, arr[i], rs, report, `${path}[${i}]`);
    },
  };
}

function compileGroup(group: GroupItem, page: CodePage, count: ((buf: Buffer, rs: number) => number) | undefined, countOf: Item | undefined): OneCodec {
  const inner = compileItems(group.children, page, count, countOf);
  const { decoders, encoders } = inner;
  const label = group.name || group.label;
  const fast = generateDecoder(group.children, page, count, countOf);
  return {
    decode(buf, at, rs) {
      if (fast) {
        try {
          return fast(buf, at, rs);
        } catch (err) {
          throw prefixError(err, `${label}.`);
        }
      }
      const out: DecodedRecord = {};
      try {
        for (let i = 0; i < decoders.length; i++) decoders[i](buf, at, out, rs);
      } catch (err) {
        throw prefixError(err, `${label}.`);
      }
      return out;
    },
    encode(buf, at, value, rs, report, path) {
      const obj = value === undefined || value === null ? {} : value;
      if (typeof obj !== 'object' || Array.isArray(obj)) throw new FieldError(path, group.label, at - rs, `expected an object (group ${group.label}), got ${Array.isArray(obj) ? 'an array' : typeof obj}`);
      for (const enc of encoders) enc(buf, at, obj as DecodedRecord, rs, report, `${path}.`);
    },
  };
}

/** Compiles `layout` for the code page `encoding` (see code-pages.ts for the names). */
export function compileRecord(layout: RecordLayout, encoding: string): RecordCodec {
  const page = codePage(encoding);
  const count = countReader(layout, page);
  const { decoders, encoders } = compileItems(layout.items, page, count, layout.odo?.item);
  const odo = layout.odo;
  const odoOffset = odo ? layout.length - odo.item.size * odo.item.occurs!.max : 0;
  const counterEncoder = odo ? makeNumberEncoder(odo.counter, page) : undefined;
  const fast = generateDecoder(layout.items, page, count, layout.odo?.item);
  return {
    layout,
    page,
    // The generated decoder takes (buf, start) too, the record starting at `start` (0 by default).
    decode: fast
      ? (fast as (buf: Buffer, start?: number) => DecodedRecord)
      : (buf, start = 0) => {
          const out: DecodedRecord = {};
          for (let i = 0; i < decoders.length; i++) decoders[i](buf, start, out, start);
          return out;
        },
    lengthAt(buf, start) {
      if (!count || !odo) return layout.length;
      return odoOffset + count(buf, start) * odo.item.size;
    },
    encode(value) {
      const bytes = Buffer.alloc(layout.length, page.space);
      const warnings: string[] = [];
      const report = (msg: string) => warnings.push(msg);
      for (const enc of encoders) enc(bytes, 0, value, 0, report, '');
      let used = layout.length;
      if (odo && counterEncoder) {
        // The counter always tells the table's true size, whatever the caller put in it.
        const rows = findValue(value, layout.items, odo.item);
        const n = Array.isArray(rows) ? rows.length : 0;
        counterEncoder(bytes, odo.counterOffset, n, report);
        used = odoOffset + n * odo.item.size;
      }
      return { bytes, used, warnings };
    },
  };
}

function findValue(value: DecodedRecord, items: readonly Item[], target: Item): unknown {
  for (const item of items) {
    if (item === target) return value[item.name];
    if (item.kind === 'group' && !item.occurs && item.name) {
      const inner = value[item.name];
      if (inner && typeof inner === 'object') {
        const hit = findValue(inner as DecodedRecord, item.children, target);
        if (hit !== undefined) return hit;
      }
    }
  }
  return undefined;
}
