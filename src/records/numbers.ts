/**
 * Numbers in their mainframe forms: display digits, zoned decimal with an overpunched sign (or a
 * separate sign character), packed decimal (COMP-3) and big-endian binary (COMP, COMP-5), with
 * implied decimal places. Decoders are made once per field and return a JS number (15 digits or
 * fewer) or a decimal string (longer ones, exactly). Faults say which byte and why.
 */
import type { CodePage } from './code-pages.ts';
import { FieldFault } from './errors.ts';
import type { Pic, Usage } from './pic.ts';

export type NumericValue = number | string;
export type NumberDecoder = (buf: Buffer, at: number) => NumericValue;
export type NumberEncoder = (buf: Buffer, at: number, value: unknown, report: (msg: string) => void) => void;

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

function zonedTables(page: CodePage): ZonedTables {
  const hit = zonedCache.get(page);
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
      plainByte[d] = b;
      posByte[d] = page.encode[pos.charCodeAt(d)];
      negByte[d] = page.encode[neg.charCodeAt(d)];
    }
  }
  const t = { digit, punched, plainByte, posByte, negByte, plus: page.encode[0x2b], minus: page.encode[0x2d] };
  zonedCache.set(page, t);
  return t;
}

function hex(b: number): string {
  return `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** A decimal string from sign, digit string and scale: ('-', '00012345', 2) → '-123.45'. */
function bigValue(negative: boolean, digits: string, scale: number): string {
  let int = digits.slice(0, digits.length - scale).replace(/^0+(?=\d)/, '');
  if (int === '') int = '0';
  const frac = scale > 0 ? '.' + digits.slice(digits.length - scale) : '';
  const text = int + frac;
  return negative && /[1-9]/.test(text) ? '-' + text : text;
}

function scaled(n: number, negative: boolean, scale: number): number {
  if (n === 0) return 0;
  const v = scale === 0 ? n : n / POW10[scale];
  return negative ? -v : v;
}

export function makeNumberDecoder(spec: NumericSpec, page: CodePage): NumberDecoder {
  const { pic, usage } = spec;
  const digits = pic.length;
  const scale = pic.scale;
  const big = digits > SAFE_DIGITS;
  if (usage === 'comp-3') return big ? packedBigDecoder(pic, scale) : packedDecoder(pic, scale);
  if (usage === 'comp' || usage === 'comp-5') {
    const size = digits <= 4 ? 2 : digits <= 9 ? 4 : 8;
    const signed = pic.signed;
    if (size <= 4) {
      // 2 and 4 bytes: plain numbers (10 ** digits is exact for digits ≤ 9), no BigInt per value.
      const limit = usage === 'comp' ? 10 ** digits : Infinity;
      return (buf, at) => {
        const n = size === 2 ? (signed ? buf.readInt16BE(at) : buf.readUInt16BE(at)) : signed ? buf.readInt32BE(at) : buf.readUInt32BE(at);
        const abs = Math.abs(n);
        if (abs >= limit) throw new FieldFault(`binary value ${String(n)} has more digits than PIC ${pic.text}`, at);
        return scaled(abs, n < 0, scale);
      };
    }
    const limit = usage === 'comp' ? 10n ** BigInt(digits) : undefined;
    return (buf, at) => {
      const n = signed ? buf.readBigInt64BE(at) : buf.readBigUInt64BE(at);
      const negative = n < 0n;
      const abs = negative ? -n : n;
      if (limit !== undefined && abs >= limit) throw new FieldFault(`binary value ${String(n)} has more digits than PIC ${pic.text}`, at);
      if (!big && abs <= MAX_SAFE) return scaled(Number(abs), negative, scale);
      return bigValue(negative, abs.toString().padStart(scale + 1, '0'), scale);
    };
  }
  // display: plain digits, zoned with an overpunched sign, or a separate sign character
  const z = zonedTables(page);
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

export function makeNumberEncoder(spec: NumericSpec, page: CodePage): NumberEncoder {
  const { pic, usage } = spec;
  if (usage === 'comp-3') {
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
    const size = pic.length <= 4 ? 2 : pic.length <= 9 ? 4 : 8;
    const bits = BigInt(size * 8);
    return (buf, at, value, report) => {
      const fit = usage === 'comp' ? spec : { ...spec, pic: { ...pic, length: Math.max(pic.length, size === 2 ? 5 : size === 4 ? 10 : 20) } };
      const { negative, digits } = toDigits(value, fit, report);
      const n = negative ? -BigInt(digits) : BigInt(digits);
      const min = pic.signed ? -(1n << (bits - 1n)) : 0n;
      const max = pic.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
      if (n < min || n > max) throw new FieldFault(`value ${n} does not fit in ${size} bytes`, 0);
      if (size === 2) {
        if (pic.signed) buf.writeInt16BE(Number(n), at);
        else buf.writeUInt16BE(Number(n), at);
      } else if (size === 4) {
        if (pic.signed) buf.writeInt32BE(Number(n), at);
        else buf.writeUInt32BE(Number(n), at);
      } else if (pic.signed) buf.writeBigInt64BE(n, at);
      else buf.writeBigUInt64BE(n, at);
    };
  }
  const z = zonedTables(page);
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
