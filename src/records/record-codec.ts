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
import iconv from 'iconv-lite';
import { IBM_SIZING } from './pic.ts';
import { DEFAULT_NUMBER_OPTIONS, makeNumberDecoder, makeNumberEncoder, type NumberOptions } from './numbers.ts';
import { compileVariable } from './variable-codec.ts';
import { generateDecoder, type ItemDecoder, type ValueDecoder } from './generated-decoder.ts';

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
  /** How its numbers are read and written (the layout's sizing included). */
  data: DataOptions;
  /** Whether `decode` is the generated decoder (generated-decoder.ts) rather than the plain one. */
  generated: boolean;
  /** Decodes the record at `start` (the buffer may hold more after it). */
  decode(buf: Buffer, start?: number): DecodedRecord;
  encode(value: DecodedRecord): EncodeResult;
  /** The length of the record at `start`: the layout's length, or less for a short OCCURS DEPENDING ON table. */
  lengthAt(buf: Buffer, start: number): number;
}

export type ValueEncoder = (buf: Buffer, at: number, value: unknown, report: (msg: string) => void) => void;
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

interface ConditionMaps {
  decode: Map<string | number, string>;
  encode: Map<string, string | number>;
  /** THRU ranges, tried after the values. */
  ranges: { name: string; lo: string | number; hi: string | number }[];
}

function conditionMaps(field: FieldItem, page: CodePage): ConditionMaps | undefined {
  if (!field.conditions || field.conditions.length === 0) return undefined;
  const decode = new Map<string | number, string>();
  const encode = new Map<string, string | number>();
  const ranges: ConditionMaps['ranges'] = [];
  const text = field.pic.kind !== 'numeric';
  // A text field decodes with its padding blanks trimmed: its conditions' literals are compared the same way.
  const key = (v: string | number) => (text && typeof v === 'string' ? (field.justify === 'right' ? v.trimStart() : v.trimEnd()) : v);
  for (const c of field.conditions) {
    const fromHex = (c.hex ?? []).map((h) => {
      const bytes = Buffer.from(h.length % 2 ? `0${h}` : h, 'hex');
      let s = '';
      for (const b of bytes) s += String.fromCharCode(page.decode[b]);
      return text ? s : Number(s);
    });
    const values = [...c.values, ...fromHex];
    if (values.length > 0 && !encode.has(c.name)) encode.set(c.name, values[0]);
    for (const v of values) if (!decode.has(key(v))) decode.set(key(v), c.name);
    for (const [lo, hi] of c.ranges ?? []) ranges.push({ name: c.name, lo: key(lo), hi: key(hi) });
  }
  return { decode, encode, ranges };
}

function inRange(v: unknown, r: { lo: string | number; hi: string | number }): boolean {
  if (typeof v === 'number') return typeof r.lo === 'number' && typeof r.hi === 'number' && v >= r.lo && v <= r.hi;
  if (typeof v === 'string') return v >= String(r.lo) && v <= String(r.hi);
  return false;
}

/** PIC N: UTF-16 big-endian (IBM's national), trailing (or, justified right, leading) blanks trimmed. */
function makeNationalDecoder(field: FieldItem): ValueDecoder {
  const size = field.pic.length * 2;
  const right = field.justify === 'right';
  return (buf, at) => {
    const swapped = Buffer.from(buf.subarray(at, at + size)).swap16();
    const s = swapped.toString('utf16le');
    return right ? s.replace(/^[ \u3000]+/, '') : s.replace(/[ \u3000]+$/, '');
  };
}

function makeNationalEncoder(field: FieldItem): ValueEncoder {
  const chars = field.pic.length;
  return (buf, at, value, report) => {
    let text = value === undefined || value === null ? '' : String(value);
    if (text.length > chars) {
      if (field.truncate === 'refuse') throw new FieldFault(`"${text}" is ${text.length} characters; the field holds ${chars}`, at);
      report(`"${text}" cut to ${chars} characters`);
      text = text.slice(0, chars);
    }
    const padded = field.justify === 'right' ? text.padStart(chars, ' ') : text.padEnd(chars, ' ');
    Buffer.from(padded, 'utf16le').swap16().copy(buf, at);
  };
}

/** PIC G: double-byte text in the layout's DBCS code page (an iconv-lite encoding), blanks trimmed. */
function makeDbcsDecoder(field: FieldItem, dbcs: string | undefined): ValueDecoder {
  if (!dbcs) throw new FieldFault(`${field.label} is PIC ${field.pic.text} (DBCS): the layout needs dbcs: <code page> (an iconv-lite encoding such as shift_jis, gbk, big5, euc-kr)`, 0);
  const size = field.pic.length * 2;
  return (buf, at) => iconv.decode(buf.subarray(at, at + size), dbcs).replace(/[ \u3000]+$/, '');
}

function makeDbcsEncoder(field: FieldItem, dbcs: string | undefined): ValueEncoder {
  const size = field.pic.length * 2;
  return (buf, at, value) => {
    if (!dbcs) throw new FieldFault(`PIC ${field.pic.text} (DBCS) needs dbcs: <code page> in the layout`, at);
    const bytes = iconv.encode(value === undefined || value === null ? '' : String(value), dbcs);
    if (bytes.length > size) throw new FieldFault(`"${String(value)}" takes ${bytes.length} bytes; the field holds ${size}`, at);
    buf.fill(0x20, at, at + size);
    bytes.copy(buf, at);
  };
}

/** How numbers and DBCS text of a file look: which COBOL wrote it. */
export interface DataOptions extends NumberOptions {
  /** The iconv-lite encoding of PIC G (DBCS) fields. */
  dbcs?: string;
}

export function makeFieldDecoder(field: FieldItem, page: CodePage, options: DataOptions = DEFAULT_NUMBER_OPTIONS): ValueDecoder {
  const conds = conditionMaps(field, page);
  let base: ValueDecoder;
  if (field.pic.kind === 'alnum') base = makeTextDecoder(field, page);
  else if (field.pic.kind === 'national') base = makeNationalDecoder(field);
  else if (field.pic.kind === 'dbcs') base = makeDbcsDecoder(field, options.dbcs);
  else base = makeNumberDecoder(field, page, options);
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
    const { ranges } = conds;
    base = (buf, at) => {
      const v = raw(buf, at);
      const hit = conds.decode.get(v as string | number);
      if (hit !== undefined) return hit;
      for (let i = 0; i < ranges.length; i++) if (inRange(v, ranges[i])) return ranges[i].name;
      return v;
    };
  }
  return base;
}

export function makeFieldEncoder(field: FieldItem, page: CodePage, options: DataOptions = DEFAULT_NUMBER_OPTIONS): ValueEncoder {
  const conds = conditionMaps(field, page);
  let base: ValueEncoder =
    field.pic.kind === 'alnum'
      ? makeTextEncoder(field, page)
      : field.pic.kind === 'national'
        ? makeNationalEncoder(field)
        : field.pic.kind === 'dbcs'
          ? makeDbcsEncoder(field, options.dbcs)
          : makeNumberEncoder(field, page, options);
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

/** What compiling a layout's items takes: the page, the OCCURS DEPENDING ON counter and table, whether to generate decoders. */
interface Compiling {
  page: CodePage;
  data: DataOptions;
  count: ((buf: Buffer, rs: number) => number) | undefined;
  countOf: Item | undefined;
  generate: boolean;
}

/** The generated decoder of these items (generated-decoder.ts), or undefined for the plain one. */
function generated(items: readonly Item[], c: Compiling): ItemDecoder | undefined {
  if (!c.generate) return undefined;
  const { page } = c;
  return generateDecoder(items, {
    page,
    field: (item) => makeFieldDecoder(item, page, c.data),
    item: (item) => {
      const one = compileOne(item, c);
      return (buf, at, rs) => one.decode(buf, at, rs);
    },
    badByte: (b, at) => badByte(page, b, at),
    fault,
  });
}

function countReader(layout: RecordLayout, page: CodePage, data: DataOptions): ((buf: Buffer, rs: number) => number) | undefined {
  if (!layout.odo) return undefined;
  const { counter, counterOffset, item } = layout.odo;
  const dec = makeNumberDecoder(counter, page, data);
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

function compileItems(items: readonly Item[], c: Compiling): Compiled {
  const { page } = c;
  const decoders: Decoder[] = [];
  const encoders: Encoder[] = [];
  for (const item of items) {
    const alternatives = items.filter((x) => x.redefines && x.redefines.toUpperCase() === item.label.toUpperCase());
    const one = compileOne(item, c);
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
      if (name)
        encoders.push((buf, at, value, rs, report, prefix) => {
          if (value[name] !== undefined) one.encode(buf, at + item.offset, value[name], rs, report, `${prefix}${path}`);
        });
      continue;
    }
    const guarded = alternatives.filter((a) => a.when);
    if (name && item.kind === 'field' && !item.occurs && guarded.length === 0) {
      // The hot path: a plain field, decoded with one closure call.
      const dec = makeFieldDecoder(item, page, c.data);
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

interface OneCodec {
  decode(buf: Buffer, at: number, rs: number): unknown;
  encode(buf: Buffer, at: number, value: unknown, rs: number, report: (msg: string) => void, path: string): void;
}

function compileOne(item: Item, c: Compiling): OneCodec {
  const { page, count, countOf } = c;
  let single: OneCodec;
  if (item.kind === 'field') {
    const dec = makeFieldDecoder(item, page, c.data);
    const enc = makeFieldEncoder(item, page, c.data);
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
    single = compileGroup(item, c);
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

function compileGroup(group: GroupItem, c: Compiling): OneCodec {
  const inner = compileItems(group.children, c);
  const { decoders, encoders } = inner;
  const label = group.name || group.label;
  const fast = generated(group.children, c);
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
      if (typeof obj !== 'object' || Array.isArray(obj))
        throw new FieldError(path, group.label, at - rs, `expected an object (group ${group.label}), got ${Array.isArray(obj) ? 'an array' : typeof obj}`);
      for (const enc of encoders) enc(buf, at, obj as DecodedRecord, rs, report, `${path}.`);
    },
  };
}

export interface CompileOptions {
  /**
   * Use the generated decoder (generated-decoder.ts) where it applies; default true. It is not used,
   * whatever this says, where the process refuses code generation from strings.
   */
  generatedDecoder?: boolean;
  /**
   * Which COBOL wrote the data (binary byte order, floating point, zoned signs, DBCS code page). The
   * binary and pointer widths are the layout's own (`layout.sizing`, set when it was built), whatever this says.
   */
  data?: Partial<DataOptions>;
}

/** Compiles `layout` for the code page `encoding` (see code-pages.ts for the names). */
export function compileRecord(layout: RecordLayout, encoding: string, options: CompileOptions = {}): RecordCodec {
  const page = codePage(encoding);
  const data: DataOptions = { ...DEFAULT_NUMBER_OPTIONS, ...options.data, ...(layout.sizing ?? IBM_SIZING) };
  if (layout.variable) return compileVariable(layout, page, data, { decoder: (f) => makeFieldDecoder(f, page, data), encoder: (f) => makeFieldEncoder(f, page, data) });
  const count = countReader(layout, page, data);
  const c: Compiling = { page, data, count, countOf: layout.odo?.item, generate: options.generatedDecoder ?? true };
  const { decoders, encoders } = compileItems(layout.items, c);
  const odo = layout.odo;
  const odoOffset = odo ? layout.length - odo.item.size * odo.item.occurs!.max : 0;
  const counterEncoder = odo ? makeNumberEncoder(odo.counter, page, data) : undefined;
  const fast = generated(layout.items, c);
  return {
    layout,
    page,
    data,
    generated: fast !== undefined,
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
