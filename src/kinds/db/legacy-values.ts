/**
 * The conversions legacy schemas need, both ways: from a column's value to the contract's
 * (CHAR padding trimmed, YYYYMMDD and CYYMMDD integer dates, HHMMSS times, Y/N and 1/0 flags,
 * implied-decimal integers, code values to enums), and from a request's value to the column's.
 * Each returns a value or throws a ConversionError that says what was wrong with the value.
 */

export class ConversionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConversionError';
  }
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function asInteger(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number(v.trim());
  throw new ConversionError(`${JSON.stringify(v)} is not ${what}`);
}

function checkDateSlowly(y: number, m: number, d: number, raw: unknown, what: string): string {
  const date = new Date(Date.UTC(y, m - 1, d));
  if (m < 1 || m > 12 || d < 1 || date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) {
    throw new ConversionError(`${JSON.stringify(raw)} is not a valid ${what} date`);
  }
  return `${pad(y, 4)}-${pad(m)}-${pad(d)}`;
}

/** '00' to '99'. */
const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * y-m-d as 'YYYY-MM-DD', or a ConversionError when there is no such day. Years 1000 to 9999 (all
 * legacy dates in practice) are checked by arithmetic, the rest through Date, as before (it treats
 * years 0 to 99 as 19xx, which makes them invalid here): the same answer either way.
 */
function checkDate(y: number, m: number, d: number, raw: unknown, what: string): string {
  if (y >= 1000 && y <= 9999 && m >= 1 && m <= 12 && d >= 1) {
    const last = m === 2 ? ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28) : DAYS_IN_MONTH[m - 1];
    if (d <= last) return `${y}-${TWO_DIGITS[m]}-${TWO_DIGITS[d]}`;
  }
  return checkDateSlowly(y, m, d, raw, what);
}

/** Trims CHAR padding (trailing blanks; leading blanks too, as legacy screens left them). */
export function trimmed(v: unknown): string {
  if (typeof v === 'string') return v.trim();
  if (Buffer.isBuffer(v)) return v.toString('utf8').trim();
  return String(v).trim();
}

/** 20240502 → '2024-05-02'. */
export function fromYyyymmdd(v: unknown): string {
  const n = asInteger(v, 'a YYYYMMDD date');
  return checkDate(Math.floor(n / 10000), Math.floor(n / 100) % 100, n % 100, v, 'YYYYMMDD');
}

/** CYYMMDD, the century digit counted from 1900: 0980314 (= 98 0314) → '1998-03-14', 1240502 → '2024-05-02'. */
export function fromCyymmdd(v: unknown): string {
  const n = asInteger(v, 'a CYYMMDD date');
  if (n < 0 || n > 9991231) throw new ConversionError(`${JSON.stringify(v)} is not a CYYMMDD date`);
  const c = Math.floor(n / 1000000);
  const yy = Math.floor(n / 10000) % 100;
  return checkDate(1900 + c * 100 + yy, Math.floor(n / 100) % 100, n % 100, v, 'CYYMMDD');
}

/** HHMMSS → 'HH:MM:SS'. */
export function fromHhmmss(v: unknown): string {
  const n = asInteger(v, 'an HHMMSS time');
  const h = Math.floor(n / 10000);
  const m = Math.floor(n / 100) % 100;
  const s = n % 100;
  if (n < 0 || h > 23 || m > 59 || s > 59) throw new ConversionError(`${JSON.stringify(v)} is not a valid HHMMSS time`);
  return `${TWO_DIGITS[h]}:${TWO_DIGITS[m]}:${TWO_DIGITS[s]}`;
}

/** A date column (YYYYMMDD) and a time column (HHMMSS), in UTC, to an ISO instant: '2024-05-02T09:15:00Z'. */
export function fromDateAndTime(date: unknown, time: unknown): string {
  return `${fromYyyymmdd(date)}T${fromHhmmss(time)}Z`;
}

/** A native date/time value to an ISO instant without milliseconds when they are zero. */
export function fromNativeTimestamp(v: unknown): string {
  const d = v instanceof Date ? v : new Date(String(v));
  if (Number.isNaN(d.getTime())) throw new ConversionError(`${JSON.stringify(v)} is not a date and time`);
  return d.toISOString().replace('.000Z', 'Z');
}

/** A native date value to 'YYYY-MM-DD'. */
export function fromNativeDate(v: unknown): string {
  if (v instanceof Date) return `${pad(v.getUTCFullYear(), 4)}-${pad(v.getUTCMonth() + 1)}-${pad(v.getUTCDate())}`;
  const s = trimmed(v);
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) return s.slice(0, 10);
  throw new ConversionError(`${JSON.stringify(v)} is not a date`);
}

const TRUE_FLAGS = new Set(['Y', 'YES', 'T', 'TRUE', '1', 'J']);
const FALSE_FLAGS = new Set(['N', 'NO', 'F', 'FALSE', '0', '']);

/** Y/N, 1/0, T/F (any case, padded or not) to a boolean. */
export function fromFlag(v: unknown): boolean {
  if (v === 'Y') return true;
  if (v === 'N') return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (Number(v) === 1) return true;
    if (Number(v) === 0) return false;
  }
  const s = trimmed(v).toUpperCase();
  if (TRUE_FLAGS.has(s)) return true;
  if (FALSE_FLAGS.has(s)) return false;
  throw new ConversionError(`${JSON.stringify(v)} is not a flag (Y/N, 1/0, T/F)`);
}

/** An implied-decimal integer: 250050 with scale 2 → 2500.5. */
export function fromImpliedDecimal(v: unknown, scale: number): number {
  const n = asInteger(v, 'an implied-decimal integer');
  return n / 10 ** scale;
}

export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  const s = trimmed(v);
  if (s !== '' && Number.isFinite(Number(s))) return Number(s);
  throw new ConversionError(`${JSON.stringify(v)} is not a number`);
}

export function toInteger(v: unknown): number {
  return asInteger(v, 'an integer');
}

// ---- request values to column values ------------------------------------------------------------

function instant(v: unknown, what: string): Date {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(v)) throw new ConversionError(`${JSON.stringify(v)} is not ${what}`);
  const d = new Date(/T/.test(v) ? v : `${v}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) throw new ConversionError(`${JSON.stringify(v)} is not ${what}`);
  return d;
}

/** '2024-05-02' or '2024-05-02T09:15:00+02:00' → 20240502 (the instant's UTC date). */
export function toYyyymmdd(v: unknown): number {
  const d = instant(v, 'a date');
  return d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

/** '2024-05-02' → 1240502. */
export function toCyymmdd(v: unknown): number {
  const d = instant(v, 'a date');
  const y = d.getUTCFullYear();
  if (y < 1900 || y > 2899) throw new ConversionError(`${JSON.stringify(v)} is outside what CYYMMDD can hold (1900-2899)`);
  return Math.floor((y - 1900) / 100) * 1000000 + (y % 100) * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

/** A date-time → HHMMSS of its UTC time (fractions of a second dropped). */
export function toHhmmss(v: unknown): number {
  const d = instant(v, 'a date-time');
  return d.getUTCHours() * 10000 + d.getUTCMinutes() * 100 + d.getUTCSeconds();
}

export function toFlag(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'Y' : 'N';
  throw new ConversionError(`${JSON.stringify(v)} is not true or false`);
}

export function toImpliedDecimal(v: unknown, scale: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConversionError(`${JSON.stringify(v)} is not a number`);
  return Math.round(v * 10 ** scale);
}
