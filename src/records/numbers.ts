/**
 * Numbers in their mainframe forms: display digits, zoned decimal with an overpunched sign (or a
 * separate sign character), packed decimal (COMP-3) and binary (COMP, COMP-5: 1 to 8 bytes as the
 * layout's sizing says, big- or little-endian), with implied decimal places. Decoders are made once per field and return a JS number (15 digits or
 * fewer) or a decimal string (longer ones, exactly). Faults say which byte and why.
 */
import type { CodePage } from './code-pages.ts';
import { FieldFault } from './errors.ts';
import { byteSize, IBM_SIZING, type Pic, type Sizing, type Usage } from './pic.ts';

export type NumericValue = number | string;
export type NumberDecoder = (buf: Buffer, at: number) => NumericValue;
export type NumberEncoder = (buf: Buffer, at: number, value: unknown, report: (msg: string) => void) => void;

/** Which COBOL wrote the file: how its binary, floating-point and zoned numbers look (a layout file's options); binary and pointer widths from `Sizing`. */
export interface NumberOptions extends Sizing {
  /**
   * Binary (COMP, BINARY, COMP-4) values wider than their PICTURE, as TRUNC(BIN) programs and COMP-5
   * data hold: decoded as they are (`full`, the default), cut to the PICTURE's digits (`truncate`, as
   * TRUNC(STD) reads them) or refused (`refuse`).
   */
  binary: 'full' | 'truncate' | 'refuse';
  /** Byte order of binary (COMP-5, and COMP unless `binaryByteOrder` says otherwise), POINTER and floating-point items: `big` (IBM), `little` (Micro Focus, GnuCOBOL on x86). */
  byteOrder: 'big' | 'little';
  /** COMP, BINARY, COMP-4 when their order differs: Micro Focus and GnuCOBOL (its `binary-byteorder`) write them big-endian beside native COMP-5. */
  binaryByteOrder?: 'big' | 'little';
  /** COMP-1/COMP-2: IBM hexadecimal floating point (`ibm`, the default) or IEEE 754 (`ieee`). */
  float: 'ibm' | 'ieee';
  /** Zoned decimal signs written: IBM's overpunch (`ibm`), or the ASCII convention of GnuCOBOL and Micro Focus, negative digits 0x70-0x79 (`ascii`). Both are read on ASCII pages. */
  zonedSign: 'ibm' | 'ascii';
}

export const DEFAULT_NUMBER_OPTIONS: NumberOptions = { binary: 'full', byteOrder: 'big', float: 'ibm', zonedSign: 'ibm', ...IBM_SIZING };

export interface NumericSpec {
  pic: Pic;
  usage: Usage;
  signSeparate?: 'leading' | 'trailing';
  signLeading?: boolean;
  truncate: 'refuse' | 'cut';
}

const POW10: number[] = Array.from({ length: 23 }, (_v, i) => 10 ** i);
const SAFE_DIGITS = 15;

interface ZonedTables {
  /** byte → digit for an unsigned digit byte, else -1 */
  digit: Int8Array;
  /** byte → digit (0..9 positive, 10..19 negative) for a byte that may carry an overpunched sign, else -1 */
  punched: Int8Array;
  plainByte: Uint8Array;
  posByte: Uint8Array;
  negByte: Uint8Array;
  plus: number;
  minus: number;
}

const zonedCache = new WeakMap<CodePage, ZonedTables>();
const asciiZonedCache = new WeakMap<CodePage, ZonedTables>();

function zonedTables(page: CodePage, sign: 'ibm' | 'ascii' = 'ibm'): ZonedTables {
  const cache = sign === 'ascii' && !page.ebcdic ? asciiZonedCache : zonedCache;
  const hit = cache.get(page);
  if (hit) return hit;
  const digit = new Int8Array(256).fill(-1);
  const punched = new Int8Array(256).fill(-1);
  const plainByte = new Uint8Array(10);
  const posByte = new Uint8Array(10);
  const negByte = new Uint8Array(10);
  if (page.ebcdic) {
    for (let b = 0; b < 256; b++) {
      const zone = b >> 4;
      const d = b & 15;
      if (d > 9) continue;
      if (zone === 0xf) digit[b] = d;
      if (zone === 0xf || zone === 0xc || zone === 0xa || zone === 0xe) punched[b] = d;
      else if (zone === 0xd || zone === 0xb) punched[b] = 10 + d;
    }
    for (let d = 0; d < 10; d++) {
      plainByte[d] = 0xf0 | d;
      posByte[d] = 0xc0 | d;
      negByte[d] = 0xd0 | d;
    }
  } else {
    // ASCII files keep the IBM overpunch letters: { A..I positive, } J..R negative.
    const pos = '{ABCDEFGHI';
    const neg = '}JKLMNOPQR';
    for (let d = 0; d < 10; d++) {
      const b = page.encode[0x30 + d];
      digit[b] = d;
      punched[b] = d;
      punched[page.encode[pos.charCodeAt(d)]] = d;
      punched[page.encode[neg.charCodeAt(d)]] = 10 + d;
      // GnuCOBOL and Micro Focus: a negative digit is 0x70-0x79 ('p'..'y'), a positive one the plain digit.
      if (page.encode[0x70 + d] >= 0) punched[page.encode[0x70 + d]] = 10 + d;
      plainByte[d] = b;
      posByte[d] = sign === 'ascii' ? b : page.encode[pos.charCodeAt(d)];
      negByte[d] = sign === 'ascii' ? page.encode[0x70 + d] : page.encode[neg.charCodeAt(d)];
    }
  }
  const t = { digit, punched, plainByte, posByte, negByte, plus: page.encode[0x2b], minus: page.encode[0x2d] };
  cache.set(page, t);
  return t;
}

function hex(b: number): string {
  return `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** A decimal string from sign, digit string and scale: ('-', '00012345', 2) → '-123.45'. */
function bigValue(negative: boolean, digits: string, scale: number): string {
  if (scale < 0) digits += '0'.repeat(-scale);
  else if (digits.length <= scale) digits = digits.padStart(scale + 1, '0');
  scale = Math.max(scale, 0);
  let int = digits.slice(0, digits.length - scale).replace(/^0+(?=\d)/, '');
  if (int === '') int = '0';
  const frac = scale > 0 ? '.' + digits.slice(digits.length - scale) : '';
  const text = int + frac;
  return negative && /[1-9]/.test(text) ? '-' + text : text;
}

function scaled(n: number, negative: boolean, scale: number): number {
  if (n === 0) return 0;
  const v = scale === 0 ? n : scale > 0 ? n / POW10[scale] : n * POW10[-scale];
  return negative ? -v : v;
}

export function makeNumberDecoder(spec: NumericSpec, page: CodePage, options: NumberOptions = DEFAULT_NUMBER_OPTIONS): NumberDecoder {
  const { pic, usage } = spec;
  const digits = pic.length;
  const scale = pic.scale;
  const big = digits > SAFE_DIGITS || digits - scale > SAFE_DIGITS;
  // A signed COMP-6 is packed with its sign nibble, as GnuCOBOL and cb2xml lay it out.
  if (usage === 'comp-3' || (usage === 'comp-6' && pic.signed)) return big ? packedBigDecoder(pic, scale) : packedDecoder(pic, scale);
  if (usage === 'comp-6') return unsignedPackedDecoder(pic, scale);
  if (usage === 'comp-1' || usage === 'comp-2') return floatDecoder(usage === 'comp-1' ? 4 : 8, options);
  if (usage === 'pointer' || usage === 'index') return pointerDecoder(byteSize(pic, usage, options), options.byteOrder === 'little');
  if (usage === 'comp' || usage === 'comp-5') {
    const size = byteSize(pic, usage, options);
    const signed = pic.signed;
    const le = (usage === 'comp' ? (options.binaryByteOrder ?? options.byteOrder) : options.byteOrder) === 'little';
    const mode = usage === 'comp-5' ? 'full' : options.binary;
    if (size <= 6) {
      // 1 to 6 bytes: plain numbers (10 ** digits is exact for digits ≤ 14), no BigInt per value.
      const limit = 10 ** digits;
      if (mode === 'full' && !le && scale === 0) {
        if (size === 2) return signed ? (buf, at) => buf.readInt16BE(at) + 0 : (buf, at) => buf.readUInt16BE(at);
        if (size === 4) return signed ? (buf, at) => buf.readInt32BE(at) + 0 : (buf, at) => buf.readUInt32BE(at);
      }
      const read = binaryReader(size, signed, le);
      return (buf, at) => {
        const n = read(buf, at);
        let abs = Math.abs(n);
        if (abs >= limit) {
          if (mode === 'refuse') throw new FieldFault(`binary value ${String(n)} has more digits than PIC ${pic.text}`, at);
          if (mode === 'truncate') abs %= limit;
        }
        return scaled(abs, n < 0, scale);
      };
    }
    // 7 and 8 bytes: BigInt, a number where it is exact, else a decimal string.
    const limit = 10n ** BigInt(digits);
    const read = bigBinaryReader(size, signed, le);
    return (buf, at) => {
      const n = read(buf, at);
      const negative = n < 0n;
      let abs = negative ? -n : n;
      if (abs >= limit) {
        if (mode === 'refuse') throw new FieldFault(`binary value ${String(n)} has more digits than PIC ${pic.text}`, at);
        if (mode === 'truncate') abs %= limit;
      }
      if (!big && abs <= MAX_SAFE && scale >= 0) return scaled(Number(abs), negative, scale);
      return bigValue(negative, abs.toString().padStart(Math.max(scale, 0) + 1, '0'), scale);
    };
  }
  // display: plain digits, zoned with an overpunched sign, or a separate sign character
  const z = zonedTables(page, options.zonedSign);
  if (!big && !spec.signSeparate) return zonedDecoder(pic, scale, z, pic.signed ? (spec.signLeading ? 0 : digits - 1) : -1);
  const sepLeading = spec.signSeparate === 'leading';
  const sepTrailing = spec.signSeparate === 'trailing';
  const punchAt = pic.signed && !spec.signSeparate ? (spec.signLeading ? 0 : digits - 1) : -1;
  const first = sepLeading ? 1 : 0;
  return (buf, at) => {
    let negative = false;
    if (sepLeading || sepTrailing) {
      const s = buf[sepLeading ? at : at + digits];
      if (s === z.minus) negative = true;
      else if (s !== z.plus) throw new FieldFault(`sign byte ${hex(s)} is neither + nor -`, sepLeading ? at : at + digits);
    }
    let n = 0;
    let text = '';
    const start = at + first;
    for (let k = 0; k < digits; k++) {
      const b = buf[start + k];
      let d: number;
      if (k === punchAt) {
        d = z.punched[b];
        if (d < 0) throw new FieldFault(`invalid zoned digit or sign in byte ${hex(b)}`, start + k);
        if (d >= 10) {
          negative = true;
          d -= 10;
        }
      } else {
        d = z.digit[b];
        if (d < 0) throw new FieldFault(`invalid zoned digit in byte ${hex(b)}`, start + k);
      }
      if (big) text += String(d);
      else n = n * 10 + d;
    }
    if (big) return bigValue(negative, text, scale);
    return scaled(n, negative, scale);
  };
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A binary integer of 1 to 6 bytes as a number. */
function binaryReader(size: number, signed: boolean, le: boolean): (buf: Buffer, at: number) => number {
  switch (size) {
    case 1:
      return signed ? (b, a) => b.readInt8(a) : (b, a) => b.readUInt8(a);
    case 2:
      return signed ? (le ? (b, a) => b.readInt16LE(a) : (b, a) => b.readInt16BE(a)) : le ? (b, a) => b.readUInt16LE(a) : (b, a) => b.readUInt16BE(a);
    case 4:
      return signed ? (le ? (b, a) => b.readInt32LE(a) : (b, a) => b.readInt32BE(a)) : le ? (b, a) => b.readUInt32LE(a) : (b, a) => b.readUInt32BE(a);
    default:
      return signed ? (le ? (b, a) => b.readIntLE(a, size) : (b, a) => b.readIntBE(a, size)) : le ? (b, a) => b.readUIntLE(a, size) : (b, a) => b.readUIntBE(a, size);
  }
}

/** A binary integer of 7 or 8 bytes as a BigInt. */
function bigBinaryReader(size: number, signed: boolean, le: boolean): (buf: Buffer, at: number) => bigint {
  if (size === 8) return signed ? (le ? (b, a) => b.readBigInt64LE(a) : (b, a) => b.readBigInt64BE(a)) : le ? (b, a) => b.readBigUInt64LE(a) : (b, a) => b.readBigUInt64BE(a);
  // 7 bytes: the high 3 bytes (with the sign) and the low 4.
  if (le) return signed ? (b, a) => (BigInt(b.readIntLE(a + 4, 3)) << 32n) | BigInt(b.readUInt32LE(a)) : (b, a) => (BigInt(b.readUIntLE(a + 4, 3)) << 32n) | BigInt(b.readUInt32LE(a));
  return signed ? (b, a) => (BigInt(b.readIntBE(a, 3)) << 32n) | BigInt(b.readUInt32BE(a + 3)) : (b, a) => (BigInt(b.readUIntBE(a, 3)) << 32n) | BigInt(b.readUInt32BE(a + 3));
}

/** Writes `n` (in range) as a binary integer of 1 to 8 bytes. */
function writeBinary(buf: Buffer, at: number, n: bigint, size: number, signed: boolean, le: boolean): void {
  if (size <= 6) {
    const v = Number(n);
    if (signed) (le ? buf.writeIntLE : buf.writeIntBE).call(buf, v, at, size);
    else (le ? buf.writeUIntLE : buf.writeUIntBE).call(buf, v, at, size);
    return;
  }
  if (size === 8) {
    if (signed) (le ? buf.writeBigInt64LE : buf.writeBigInt64BE).call(buf, n, at);
    else (le ? buf.writeBigUInt64LE : buf.writeBigUInt64BE).call(buf, n, at);
    return;
  }
  // 7 bytes: two's complement, byte by byte.
  let u = BigInt.asUintN(size * 8, n);
  for (let k = 0; k < size; k++) {
    buf[le ? at + k : at + size - 1 - k] = Number(u & 0xffn);
    u >>= 8n;
  }
}

/** POINTER (4 or 8 bytes) and INDEX (4): unsigned, a number (a decimal string past 2^53). */
function pointerDecoder(size: number, le: boolean): NumberDecoder {
  if (size === 4) return le ? (buf, at) => buf.readUInt32LE(at) : (buf, at) => buf.readUInt32BE(at);
  return (buf, at) => {
    const n = le ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at);
    return n <= MAX_SAFE ? Number(n) : n.toString();
  };
}

/** Packed decimal of 15 digits or fewer: integer arithmetic, no strings. */
function packedDecoder(pic: Pic, scale: number): NumberDecoder {
  const size = Math.floor(pic.length / 2) + 1;
  const padNibble = pic.length % 2 === 0;
  const signed = pic.signed;
  return (buf, at) => {
    let n = 0;
    let i = at;
    const last = at + size - 1;
    if (padNibble) {
      // The first byte's high nibble is padding (an even number of digits): it must be 0.
      const b = buf[i];
      const hi = b >> 4;
      const lo = b & 15;
      if (hi > 9 || lo > 9) throw new FieldFault(`invalid packed-decimal digit in byte ${hex(b)}`, i);
      if (hi !== 0) throw new FieldFault(`packed decimal has more digits than PIC ${pic.text} (first nibble ${hi})`, i);
      n = lo;
      i++;
    }
    for (; i < last; i++) {
      const b = buf[i];
      const hi = b >> 4;
      const lo = b & 15;
      if (hi > 9 || lo > 9) throw new FieldFault(`invalid packed-decimal digit in byte ${hex(b)}`, i);
      n = n * 100 + hi * 10 + lo;
    }
    const b = buf[last];
    return scaled(n * 10 + (b >> 4), packedNegative(b, last, signed, pic), scale);
  };
}

/** COMP-6 (Micro Focus): unsigned packed decimal, two digits a byte, no sign nibble. */
function unsignedPackedDecoder(pic: Pic, scale: number): NumberDecoder {
  const size = Math.ceil(pic.length / 2);
  return (buf, at) => {
    let text = '';
    for (let i = at; i < at + size; i++) {
      const b = buf[i];
      if (b >> 4 > 9 || (b & 15) > 9) throw new FieldFault(`invalid COMP-6 digit in byte ${hex(b)}`, i);
      text += PAD2_DIGITS[(b >> 4) * 10 + (b & 15)];
    }
    if (pic.length <= SAFE_DIGITS) return scaled(Number(text), false, scale);
    return bigValue(false, text, scale);
  };
}

const PAD2_DIGITS = Array.from({ length: 100 }, (_v, i) => String(i).padStart(2, '0'));

/** Sign nibble → 0 (positive: C, F, A, E), 1 (negative: D, B), 2 (invalid). */
const PACKED_SIGN = Uint8Array.from({ length: 16 }, (_v, s) => (s === 0xd || s === 0xb ? 1 : s === 0xc || s === 0xf || s === 0xa || s === 0xe ? 0 : 2));

/** The last byte of a packed field (its digit and sign nibble) checked: whether the value is negative. */
function packedNegative(b: number, at: number, signed: boolean, pic: Pic): boolean {
  const sign = b & 15;
  if (b >> 4 > 9) throw new FieldFault(`invalid packed-decimal digit in byte ${hex(b)}`, at);
  const negative = PACKED_SIGN[sign];
  if (negative === 2) throw new FieldFault(`invalid packed-decimal sign nibble ${sign.toString(16).toUpperCase()} in byte ${hex(b)}`, at);
  if (negative === 1 && !signed) throw new FieldFault(`negative value in unsigned field (sign nibble D, PIC ${pic.text})`, at);
  return negative === 1;
}

/** Packed decimal of more than 15 digits: a decimal string, exactly. */
function packedBigDecoder(pic: Pic, scale: number): NumberDecoder {
  const size = Math.floor(pic.length / 2) + 1;
  const padNibble = pic.length % 2 === 0;
  return (buf, at) => {
    let text = '';
    const last = at + size - 1;
    for (let i = at; i < last; i++) {
      const b = buf[i];
      const hi = b >> 4;
      const lo = b & 15;
      if (hi > 9 || lo > 9) throw new FieldFault(`invalid packed-decimal digit in byte ${hex(b)}`, i);
      if (i === at && padNibble && hi !== 0) throw new FieldFault(`packed decimal has more digits than PIC ${pic.text} (first nibble ${hi})`, i);
      text += (i === at && padNibble ? '' : String(hi)) + String(lo);
    }
    const b = buf[last];
    return bigValue(packedNegative(b, last, pic.signed, pic), text + String(b >> 4), scale);
  };
}

/** Zoned or plain display digits, 15 or fewer, without a separate sign: `punchAt` is the digit carrying the sign (-1: none). */
function zonedDecoder(pic: Pic, scale: number, z: ZonedTables, punchAt: number): NumberDecoder {
  const digits = pic.length;
  const { digit, punched } = z;
  // Digits before and after the one carrying the sign.
  const before = punchAt < 0 ? digits : punchAt;
  return (buf, at) => {
    let n = 0;
    let negative = false;
    const mid = at + before;
    for (let i = at; i < mid; i++) {
      const b = buf[i];
      const d = digit[b];
      if (d < 0) throw new FieldFault(`invalid zoned digit in byte ${hex(b)}`, i);
      n = n * 10 + d;
    }
    if (punchAt >= 0) {
      const b = buf[mid];
      let d = punched[b];
      if (d < 0) throw new FieldFault(`invalid zoned digit or sign in byte ${hex(b)}`, mid);
      if (d >= 10) {
        negative = true;
        d -= 10;
      }
      n = n * 10 + d;
      const end = at + digits;
      for (let i = mid + 1; i < end; i++) {
        const b2 = buf[i];
        const d2 = digit[b2];
        if (d2 < 0) throw new FieldFault(`invalid zoned digit in byte ${hex(b2)}`, i);
        n = n * 10 + d2;
      }
    }
    return scaled(n, negative, scale);
  };
}

/** The magnitude of `value` as a digit string with `scale` implied decimals, and its sign. */
function toDigits(value: unknown, spec: NumericSpec, report: (msg: string) => void): { negative: boolean; digits: string } {
  const { pic } = spec;
  if (pic.scale < 0) {
    // P on the right: the value's last digits are not stored and must be zeros.
    const k = -pic.scale;
    const r = toDigits(value, { ...spec, pic: { ...pic, scale: 0, length: pic.length + k } }, report);
    if (/[1-9]/.test(r.digits.slice(-k))) {
      if (spec.truncate === 'refuse') throw new FieldFault(`${String(value)} is not a multiple of ${10 ** k} (PIC ${pic.text})`, 0);
      report(`${String(value)} cut to a multiple of ${10 ** k}`);
    }
    return { negative: r.negative, digits: r.digits.slice(0, -k) };
  }
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new FieldFault(`${value} is not a number that can be written`, 0);
    const scaledInt = Math.round(Math.abs(value) * POW10[pic.scale]);
    if (Number.isSafeInteger(scaledInt)) {
      const d = String(scaledInt);
      const back = scaledInt / POW10[pic.scale];
      if (Math.abs(back - Math.abs(value)) > 1e-9 * Math.max(1, Math.abs(value))) {
        if (spec.truncate === 'refuse') throw new FieldFault(`${value} has more than ${pic.scale} decimal places (PIC ${pic.text})`, 0);
        report(`${value} rounded to ${pic.scale} decimal places`);
      }
      return checkFit(value < 0 && scaledInt !== 0, d, spec, report);
    }
    text = value.toFixed(pic.scale);
  } else if (typeof value === 'string' || typeof value === 'bigint') {
    text = String(value).trim();
  } else if (value === undefined || value === null) {
    text = '0';
  } else {
    throw new FieldFault(`expected a number, got ${typeof value}`, 0);
  }
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new FieldFault(`"${text}" is not a decimal number`, 0);
  let frac = m[3] ?? '';
  if (frac.length > pic.scale) {
    if (/[1-9]/.test(frac.slice(pic.scale))) {
      if (spec.truncate === 'refuse') throw new FieldFault(`${text} has more than ${pic.scale} decimal places (PIC ${pic.text})`, 0);
      report(`${text} cut to ${pic.scale} decimal places`);
    }
    frac = frac.slice(0, pic.scale);
  }
  const d = ((m[2] || '0') + frac.padEnd(pic.scale, '0')).replace(/^0+(?=\d)/, '');
  return checkFit(m[1] === '-' && /[1-9]/.test(d), d, spec, report);
}

function checkFit(negative: boolean, digits: string, spec: NumericSpec, report: (msg: string) => void): { negative: boolean; digits: string } {
  const { pic } = spec;
  if (negative && !pic.signed) throw new FieldFault(`negative value in an unsigned field (PIC ${pic.text})`, 0);
  if (digits.length > pic.length) {
    if (spec.truncate === 'refuse') throw new FieldFault(`value has ${digits.length} digits; PIC ${pic.text} holds ${pic.length}`, 0);
    report(`value cut to its last ${pic.length} digits (PIC ${pic.text})`);
    digits = digits.slice(digits.length - pic.length);
  }
  return { negative, digits: digits.padStart(pic.length, '0') };
}

export function makeNumberEncoder(spec: NumericSpec, page: CodePage, options: NumberOptions = DEFAULT_NUMBER_OPTIONS): NumberEncoder {
  const { pic, usage } = spec;
  if (usage === 'comp-6' && !pic.signed) {
    const size = Math.ceil(pic.length / 2);
    return (buf, at, value, report) => {
      const { negative, digits } = toDigits(value, spec, report);
      if (negative) throw new FieldFault(`negative value in an unsigned COMP-6 field (PIC ${pic.text})`, 0);
      const nibbles = (pic.length % 2 === 1 ? '0' : '') + digits;
      for (let i = 0; i < size; i++) buf[at + i] = (nibbles.charCodeAt(2 * i) - 48) * 16 + (nibbles.charCodeAt(2 * i + 1) - 48);
    };
  }
  if (usage === 'comp-1' || usage === 'comp-2') return floatEncoder(usage === 'comp-1' ? 4 : 8, options);
  if (usage === 'pointer' || usage === 'index') {
    const size = byteSize(pic, usage, options);
    const max = (1n << BigInt(size * 8)) - 1n;
    return (buf, at, value) => {
      let n: bigint;
      try {
        n = BigInt(typeof value === 'string' ? value.trim() : ((value ?? 0) as number | bigint));
      } catch {
        n = -1n;
      }
      if (n < 0n || n > max) throw new FieldFault(`${String(value)} is not a ${usage} value (0 to ${max})`, 0);
      writeBinary(buf, at, n, size, false, options.byteOrder === 'little');
    };
  }
  if (usage === 'comp-3' || usage === 'comp-6') {
    const size = Math.floor(pic.length / 2) + 1;
    return (buf, at, value, report) => {
      const { negative, digits } = toDigits(value, spec, report);
      const nibbles = (pic.length % 2 === 0 ? '0' : '') + digits;
      for (let i = 0; i < size - 1; i++) buf[at + i] = (nibbles.charCodeAt(2 * i) - 48) * 16 + (nibbles.charCodeAt(2 * i + 1) - 48);
      const signNibble = !pic.signed ? 0xf : negative ? 0xd : 0xc;
      buf[at + size - 1] = (nibbles.charCodeAt(2 * size - 2) - 48) * 16 + signNibble;
    };
  }
  if (usage === 'comp' || usage === 'comp-5') {
    const size = byteSize(pic, usage, options);
    const bits = BigInt(size * 8);
    const min = pic.signed ? -(1n << (bits - 1n)) : 0n;
    const max = pic.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
    // Values beyond the PICTURE (binary: full, and COMP-5 always) as far as the bytes hold: up to the digits of 2^bits.
    const fit = usage === 'comp' && options.binary !== 'full' ? spec : { ...spec, pic: { ...pic, length: Math.max(pic.length, String(1n << bits).length) } };
    const le = (usage === 'comp' ? (options.binaryByteOrder ?? options.byteOrder) : options.byteOrder) === 'little';
    return (buf, at, value, report) => {
      const { negative, digits } = toDigits(value, fit, report);
      const n = negative ? -BigInt(digits) : BigInt(digits);
      if (n < min || n > max) throw new FieldFault(`value ${n} does not fit in ${size} bytes`, 0);
      writeBinary(buf, at, n, size, pic.signed, le);
    };
  }
  const z = zonedTables(page, options.zonedSign);
  const sepLeading = spec.signSeparate === 'leading';
  const punchAt = pic.signed && !spec.signSeparate ? (spec.signLeading ? 0 : pic.length - 1) : -1;
  return (buf, at, value, report) => {
    const { negative, digits } = toDigits(value, spec, report);
    const start = at + (sepLeading ? 1 : 0);
    for (let k = 0; k < pic.length; k++) {
      const d = digits.charCodeAt(k) - 48;
      buf[start + k] = k === punchAt ? (negative ? z.negByte[d] : z.posByte[d]) : z.plainByte[d];
    }
    if (spec.signSeparate) buf[sepLeading ? at : at + pic.length] = negative ? z.minus : z.plus;
  };
}

const TWO24 = 2 ** 24;
const TWO32 = 2 ** 32;

/** IBM hexadecimal floating point (System/360): sign, excess-64 exponent of 16, 24- or 56-bit fraction. */
export function readIbmFloat(buf: Buffer, at: number, size: 4 | 8): number {
  const b0 = buf[at];
  const hi = buf.readUIntBE(at + 1, 3);
  const lo = size === 8 ? buf.readUInt32BE(at + 4) : 0;
  if (hi === 0 && lo === 0) return 0;
  const frac = hi / TWO24 + lo / TWO24 / TWO32;
  const v = frac * 16 ** ((b0 & 0x7f) - 64);
  return b0 & 0x80 ? -v : v;
}

export function writeIbmFloat(buf: Buffer, at: number, value: number, size: 4 | 8): void {
  buf.fill(0, at, at + size);
  if (value === 0) return;
  const a = Math.abs(value);
  let e = Math.ceil(Math.log(a) / Math.log(16));
  // Normalize: 1/16 <= frac < 1.
  while (a / 16 ** e >= 1) e++;
  while (a / 16 ** e < 1 / 16) e--;
  let frac = a / 16 ** e;
  let hi = Math.floor(frac * TWO24);
  let lo = size === 8 ? Math.round((frac * TWO24 - hi) * TWO32) : 0;
  if (size === 4) hi = Math.round(frac * TWO24);
  if (lo >= TWO32) {
    lo = 0;
    hi++;
  }
  if (hi >= TWO24) {
    e++;
    frac = a / 16 ** e;
    hi = Math.round(frac * TWO24);
    lo = 0;
  }
  if (e + 64 > 127 || e + 64 < 0) throw new FieldFault(`${value} is out of the range of IBM floating point`, 0);
  buf[at] = (value < 0 ? 0x80 : 0) | (e + 64);
  buf.writeUIntBE(hi, at + 1, 3);
  if (size === 8) buf.writeUInt32BE(lo, at + 4);
}

/** The shortest decimal that is written as the same single-precision bytes: COMP-1 0.1 reads as 0.1, not 0.10000000149. */
function shortest(v: number, same: (c: number) => boolean): number {
  for (let p = 1; p <= 17; p++) {
    const c = Number(v.toPrecision(p));
    if (same(c)) return c;
  }
  return v;
}

function floatDecoder(size: 4 | 8, options: NumberOptions): NumberDecoder {
  const le = options.byteOrder === 'little';
  if (options.float === 'ieee') {
    if (size === 8) return le ? (buf, at) => buf.readDoubleLE(at) : (buf, at) => buf.readDoubleBE(at);
    return (buf, at) => {
      const v = le ? buf.readFloatLE(at) : buf.readFloatBE(at);
      return Number.isFinite(v) ? shortest(v, (c) => Math.fround(c) === v) : v;
    };
  }
  const scratch = Buffer.alloc(8);
  return (buf, at) => {
    const v = readIbmFloat(buf, at, size);
    if (size === 8) return v;
    const bits = buf.readUInt32BE(at);
    return shortest(v, (c) => {
      writeIbmFloat(scratch, 0, c, 4);
      return scratch.readUInt32BE(0) === bits;
    });
  };
}

function floatEncoder(size: 4 | 8, options: NumberOptions): NumberEncoder {
  const le = options.byteOrder === 'little';
  return (buf, at, value) => {
    const v = typeof value === 'number' ? value : value === undefined || value === null ? 0 : Number(value);
    if (!Number.isFinite(v)) throw new FieldFault(`${String(value)} is not a number that can be written`, 0);
    if (options.float === 'ieee') {
      if (size === 8) (le ? buf.writeDoubleLE : buf.writeDoubleBE).call(buf, v, at);
      else (le ? buf.writeFloatLE : buf.writeFloatBE).call(buf, v, at);
    } else writeIbmFloat(buf, at, v, size);
  };
}
