/**
 * Dates in their legacy forms, to and from ISO `YYYY-MM-DD`: `YYYYMMDD`, `YYMMDD` (century from a
 * pivot year), `CYYMMDD` (C = 0 for 19xx, 1 for 20xx), Julian `YYDDD` (pivot) and `YYYYDDD`.
 * All zeros (or blanks) mean "no date" (null).
 */
import type { DateFormat } from './layout.ts';

export const DATE_DIGITS: Record<DateFormat, number> = { YYYYMMDD: 8, YYMMDD: 6, CYYMMDD: 7, YYDDD: 5, YYYYDDD: 7 };

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(y: number, m: number): number {
  return m === 2 && isLeap(y) ? 29 : MONTH_DAYS[m - 1];
}

function iso(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** A two-digit year with a pivot: years below the pivot are 20xx, the others 19xx. */
function century(yy: number, pivot: number): number {
  return yy < pivot ? 2000 + yy : 1900 + yy;
}

/** Digits (already checked to be digits, of the format's length) → ISO date, null for zeros; throws a reason. */
export function parseLegacyDate(digits: string, format: DateFormat, pivot: number): string | null {
  if (/^0*$/.test(digits) || digits.trim() === '') return null;
  if (!/^\d+$/.test(digits) || digits.length !== DATE_DIGITS[format]) throw new Error(`"${digits}" is not a ${format} date`);
  let y: number;
  if (format === 'YYDDD' || format === 'YYYYDDD') {
    y = format === 'YYDDD' ? century(Number(digits.slice(0, 2)), pivot) : Number(digits.slice(0, 4));
    const ddd = Number(digits.slice(-3));
    if (ddd < 1 || ddd > (isLeap(y) ? 366 : 365)) throw new Error(`day ${ddd} of ${y} does not exist (${format} ${digits})`);
    const date = new Date(Date.UTC(y, 0, ddd));
    return iso(y, date.getUTCMonth() + 1, date.getUTCDate());
  }
  let rest: string;
  if (format === 'YYYYMMDD') {
    y = Number(digits.slice(0, 4));
    rest = digits.slice(4);
  } else if (format === 'YYMMDD') {
    y = century(Number(digits.slice(0, 2)), pivot);
    rest = digits.slice(2);
  } else {
    const c = Number(digits[0]);
    if (c > 1) throw new Error(`century digit ${c} is not 0 (19xx) or 1 (20xx) in CYYMMDD ${digits}`);
    y = 1900 + c * 100 + Number(digits.slice(1, 3));
    rest = digits.slice(3);
  }
  const m = Number(rest.slice(0, 2));
  const d = Number(rest.slice(2, 4));
  if (m < 1 || m > 12) throw new Error(`month ${m} does not exist (${format} ${digits})`);
  if (d < 1 || d > daysIn(y, m)) throw new Error(`${iso(y, m, 1).slice(0, 7)} has no day ${d} (${format} ${digits})`);
  return iso(y, m, d);
}

/** ISO date (or null) → the format's digits; throws a reason for a date it cannot hold. */
export function formatLegacyDate(value: unknown, format: DateFormat, pivot: number): string {
  const width = DATE_DIGITS[format];
  if (value === null || value === undefined || value === '') return '0'.repeat(width);
  const m = typeof value === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(value) : null;
  if (!m) throw new Error(`expected a date YYYY-MM-DD, got ${JSON.stringify(value)}`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo)) throw new Error(`${value} is not a calendar date`);
  const yy = String(y % 100).padStart(2, '0');
  const windowOk = y === century(y % 100, pivot);
  switch (format) {
    case 'YYYYMMDD':
      return `${m[1]}${m[2]}${m[3]}`;
    case 'YYMMDD':
      if (!windowOk) throw new Error(`${value} is outside the ${format} window (pivot ${pivot}: ${1900 + pivot}–${2099 - (100 - pivot)})`);
      return `${yy}${m[2]}${m[3]}`;
    case 'CYYMMDD':
      if (y < 1900 || y > 2099) throw new Error(`${value} is outside CYYMMDD's 1900–2099`);
      return `${y >= 2000 ? 1 : 0}${yy}${m[2]}${m[3]}`;
    default: {
      const doy = Math.round((Date.UTC(y, mo - 1, d) - Date.UTC(y, 0, 1)) / 86_400_000) + 1;
      if (format === 'YYDDD' && !windowOk) throw new Error(`${value} is outside the ${format} window (pivot ${pivot})`);
      return `${format === 'YYDDD' ? yy : m[1]}${String(doy).padStart(3, '0')}`;
    }
  }
}
