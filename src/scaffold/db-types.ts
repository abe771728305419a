/**
 * Legacy column types turned into JSON Schema types and formats and the db kind's row conversions
 * (src/kinds/db/row-mapping.ts), from the declared type and what the sampled values look like:
 * padded CHAR trimmed (blanks as null where blanks occur), YYYYMMDD integers recognised as dates
 * from the data, CYYMMDD integers and HHMMSS times where the name says date or time and every value
 * fits, Y/N (T/F, 1/0) as booleans, code columns as enums (explained by a code table where one
 * holds all their values). Each guess says why, for the comments of the files written.
 */
import type { ColumnInfo } from './db-introspect.ts';
import type { CodeFamily, DistinctValues } from './db-sample.ts';
import type { NameRole } from './db-names.ts';
import { wordsOf } from './db-names.ts';

export type Family = 'integer' | 'decimal' | 'float' | 'text' | 'date' | 'datetime' | 'boolean' | 'other';

export type Conversion = 'text' | 'raw' | 'integer' | 'number' | 'decimal' | 'flag' | 'enum' | 'yyyymmdd' | 'cyymmdd' | 'date' | 'datetime';

export type JsonSchema = Record<string, unknown>;

export interface ColumnGuess {
  column: string;
  /** The row mapping's conversion; `hhmmss` is a time column waiting to be paired with its date. */
  conversion: Conversion | 'hhmmss';
  schema: JsonSchema;
  nullable: boolean;
  blankAsNull?: boolean;
  zeroAsNull?: boolean;
  scale?: number;
  values?: Record<string, string>;
  role: NameRole;
  /** Why: for the comment next to the field. */
  why: string;
}

/** The declared type as `CHAR(40)`, `INTEGER`, `NUMERIC(9,2)`, for comments. */
export function declared(c: ColumnInfo): string {
  const size = c.length !== undefined ? `(${c.length})` : c.scale ? `(${c.precision ?? ''},${c.scale})` : '';
  const short: Record<string, string> = { character: 'char', bpchar: 'char', 'character varying': 'varchar', 'double precision': 'double' };
  return `${(short[c.type] ?? c.type).toUpperCase()}${size}`;
}

/** The family of a declared type, on any of the four engines (SQLite by its affinity rules). */
export function familyOf(c: ColumnInfo): Family {
  const t = c.type;
  if (/^(bool|boolean|bit)$/.test(t)) return 'boolean';
  if (/int|serial/.test(t)) return 'integer';
  // NUMERIC(p, 0) holds whole numbers; NUMERIC with decimals, without a scale (any), and MONEY do not.
  if (/^(numeric|decimal|number|money|smallmoney|dec)$/.test(t)) return c.scale === 0 && !/money/.test(t) ? 'integer' : 'decimal';
  if (/real|floa|doub/.test(t)) return 'float';
  if (/char|clob|text|string/.test(t)) return 'text';
  if (/^date$/.test(t)) return 'date';
  if (/timestamp|datetime/.test(t)) return 'datetime';
  return 'other';
}

const DATE_HINT = /(^|_)(DT|DTE|DATE|DAT)($|_)|(DATE|DT)$/i;
const TIME_HINT = /(^|_)(TM|TIME|TIM)($|_)|(TIME|TM)$/i;
const FLAG_HINT = /(^|_)(FLG|FLAG|IND|SW|YN)($|_)|(FLG|FLAG|IND)$|^(IS|HAS)_/i;
const CODE_HINT = /(^|_)(CD|CDE|CODE|TYP|TYPE|STAT|STS|STATUS|KIND|CLS|CLASS|CAT|GRP)($|_)|(CD|CODE|TYP|STAT)$/i;
const MONEY_HINT = /(^|_)(AMT|AMOUNT|LMT|LIMIT|BAL|BALANCE|PRC|PRICE|COST|FEE|CHG)($|_)/i;
const COUNTRY_HINT = /(^|_)(CNTRY|CTRY|COUNTRY)($|_)/i;
const CURRENCY_HINT = /(^|_)(CURR|CCY|CURRENCY)($|_)/i;
const SENSITIVE_HINT = /(EMAIL|E_MAIL|MAIL_ADDR|PHONE|TEL|MOBILE|SSN|TAX_ID|TAXID|DOB|BIRTH|IBAN|CARD|PASSW|NATL_ID)/i;

const isInt = (v: unknown): boolean => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint' || (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v));
const asInt = (v: unknown): number => Number(typeof v === 'string' ? v.trim() : v);

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= last;
}

export function isYyyymmdd(v: unknown): boolean {
  if (!isInt(v)) return false;
  const n = asInt(v);
  const y = Math.floor(n / 10000);
  return n >= 18000101 && n <= 22991231 && validDate(y, Math.floor(n / 100) % 100, n % 100);
}

export function isCyymmdd(v: unknown): boolean {
  if (!isInt(v)) return false;
  const n = asInt(v);
  if (n < 0 || n > 9991231) return false;
  return validDate(1900 + Math.floor(n / 1000000) * 100 + (Math.floor(n / 10000) % 100), Math.floor(n / 100) % 100, n % 100);
}

export function isHhmmss(v: unknown): boolean {
  if (!isInt(v)) return false;
  const n = asInt(v);
  return n >= 0 && Math.floor(n / 10000) <= 23 && Math.floor(n / 100) % 100 <= 59 && n % 100 <= 59;
}

const FLAG_PAIRS = [new Set(['Y', 'N']), new Set(['T', 'F']), new Set(['J', 'N'])];

/** Y/N (or T/F, J/N) in every sampled value, trimmed, any case. */
function flagText(values: unknown[]): boolean {
  const seen = new Set(values.map((v) => String(v).trim().toUpperCase()));
  return seen.size > 0 && FLAG_PAIRS.some((p) => [...seen].every((s) => p.has(s)));
}

const nullableType = (type: string, nullable: boolean): string | string[] => (nullable ? [type, 'null'] : type);

export interface GuessInput {
  column: ColumnInfo;
  /** The sampled values of the column (nulls included). */
  values: unknown[];
  /** The column is (part of) the key. */
  isKey: boolean;
  /** Implied decimal places given for it (`--scale COL=2`). */
  scale?: number;
}

/** The guess from the declared type and the sampled values alone (codes come later, from the whole table). */
export function guessColumn(input: GuessInput): ColumnGuess {
  const { column: c, values } = input;
  const name = c.name;
  const decl = declared(c);
  const present = values.filter((v) => v !== null && v !== undefined);
  const sawNull = present.length < values.length;
  const nullable = c.nullable && !input.isKey;
  const family = familyOf(c);
  const base = { column: name, nullable, role: 'plain' as NameRole };
  const sensitive = SENSITIVE_HINT.test(name) ? { 'x-ficus-sensitive': true } : {};
  const n = present.length;

  if (family === 'integer' || (family === 'other' && n > 0 && present.every(isInt))) {
    if (input.scale !== undefined) {
      return {
        ...base,
        conversion: 'decimal',
        scale: input.scale,
        schema: { type: nullableType('number', nullable) },
        why: `${name} ${decl}: ${input.scale} implied decimal places (given with --scale)`,
      };
    }
    if (!input.isKey) {
      const nonZero = present.filter((v) => asInt(v) !== 0);
      const zeros = nonZero.length < n;
      if (nonZero.length > 0 && nonZero.every(isYyyymmdd)) {
        return {
          ...base,
          conversion: 'yyyymmdd',
          role: 'date',
          zeroAsNull: zeros || undefined,
          nullable: nullable || zeros,
          schema: { type: nullableType('string', nullable || zeros), format: 'date' },
          why: `${name} ${decl}: every sampled value is a YYYYMMDD date${zeros ? '; 0 means no date (null)' : ''}`,
        };
      }
      if (DATE_HINT.test(name) && nonZero.length > 0 && nonZero.every(isCyymmdd)) {
        return {
          ...base,
          conversion: 'cyymmdd',
          role: 'date',
          zeroAsNull: zeros || undefined,
          nullable: nullable || zeros,
          schema: { type: nullableType('string', nullable || zeros), format: 'date' },
          why: `${name} ${decl}: a date by its name, and every sampled value is a CYYMMDD date (century digit 0 = 19xx, 1 = 20xx)${zeros ? '; 0 means no date (null)' : ''}`,
        };
      }
      if (TIME_HINT.test(name) && n > 0 && present.every(isHhmmss)) {
        return { ...base, conversion: 'hhmmss', schema: { type: nullableType('integer', nullable) }, why: `${name} ${decl}: a time by its name, every sampled value an HHMMSS time` };
      }
      if (FLAG_HINT.test(name) && n > 0 && present.every((v) => asInt(v) === 0 || asInt(v) === 1)) {
        return { ...base, conversion: 'flag', role: 'flag', schema: { type: nullableType('boolean', nullable) }, why: `${name} ${decl}: a flag by its name, every sampled value 1 or 0` };
      }
      if (MONEY_HINT.test(name)) {
        return {
          ...base,
          conversion: 'integer',
          schema: { type: nullableType('integer', nullable) },
          why: `${name} ${decl}: an amount by its name, kept whole; if it holds cents (implied decimals), scaffold again with --scale ${name}=2 (as: decimal, type number)`,
        };
      }
    }
    return { ...base, conversion: 'integer', schema: { type: nullableType('integer', nullable) }, why: `${name} ${decl}` };
  }
  if (family === 'decimal' || family === 'float') {
    return { ...base, conversion: 'number', schema: { type: nullableType('number', nullable) }, why: `${name} ${decl}: a number` };
  }
  if (family === 'boolean') {
    return { ...base, conversion: 'flag', role: 'flag', schema: { type: nullableType('boolean', nullable) }, why: `${name} ${decl}: a boolean` };
  }
  if (family === 'date') {
    return { ...base, conversion: 'date', role: 'date', schema: { type: nullableType('string', nullable), format: 'date' }, why: `${name} ${decl}: a date` };
  }
  if (family === 'datetime') {
    return { ...base, conversion: 'datetime', role: 'instant', schema: { type: nullableType('string', nullable), format: 'date-time' }, why: `${name} ${decl}: a date and time (read as UTC)` };
  }
  // Text (CHAR, VARCHAR, …) and anything else read as text.
  const trimmedValues = present.map((v) => String(v).trim());
  if (!input.isKey && (c.length === 1 || FLAG_HINT.test(name)) && flagText(present)) {
    return {
      ...base,
      conversion: 'flag',
      role: 'flag',
      schema: { type: nullableType('boolean', nullable) },
      why: `${name} ${decl}: every sampled value is ${[...new Set(trimmedValues)].sort().join(' or ')}: a flag`,
    };
  }
  if (!input.isKey && n > 0 && trimmedValues.every((v) => /^\d{8}$/.test(v) && isYyyymmdd(v))) {
    return { ...base, conversion: 'yyyymmdd', role: 'date', schema: { type: nullableType('string', nullable), format: 'date' }, why: `${name} ${decl}: every sampled value is a YYYYMMDD date` };
  }
  const blanks = trimmedValues.filter((v) => v === '').length;
  const blankAsNull = blanks > 0 && !input.isKey;
  const textNullable = nullable || blankAsNull;
  const padded = /^(char|character|nchar|bpchar)$/.test(c.type) ? ', padding trimmed' : ', trimmed';
  const blankWhy = blankAsNull ? `; ${blanks} of ${n} sampled values are blank: null` : '';
  if (COUNTRY_HINT.test(name) && n > 0 && trimmedValues.every((v) => /^[A-Z]{2}$/.test(v) || (blankAsNull && v === ''))) {
    return {
      ...base,
      conversion: 'text',
      blankAsNull: blankAsNull || undefined,
      nullable: textNullable,
      schema: { type: nullableType('string', textNullable), pattern: '^[A-Z]{2}$' },
      why: `${name} ${decl}: a country by its name, every sampled value two capitals (ISO 3166-1 alpha-2)${blankWhy}`,
    };
  }
  if (CURRENCY_HINT.test(name) && n > 0 && trimmedValues.every((v) => /^[A-Z]{3}$/.test(v))) {
    return {
      ...base,
      conversion: 'text',
      nullable,
      schema: { type: nullableType('string', nullable), pattern: '^[A-Z]{3}$' },
      why: `${name} ${decl}: a currency by its name, every sampled value three capitals (ISO 4217)`,
    };
  }
  return {
    ...base,
    conversion: 'text',
    blankAsNull: blankAsNull || undefined,
    nullable: textNullable || (sawNull && nullable),
    schema: { type: nullableType('string', textNullable), ...sensitive },
    why: `${name} ${decl}${padded}${blankWhy}${SENSITIVE_HINT.test(name) ? '; personal by its name: redacted in recordings (x-ficus-sensitive)' : ''}`,
  };
}

/** The range of an integer key's type, for its path parameter (so that a larger number is a 400, not a database error). */
export function keyBounds(c: ColumnInfo, dialect: string): JsonSchema {
  if (familyOf(c) !== 'integer') return c.length ? { maxLength: c.length } : {};
  if (/^(smallint|int2)$/.test(c.type)) return { minimum: -32768, maximum: 32767 };
  if (/^(int|int4|mediumint)$/.test(c.type) || (c.type === 'integer' && dialect !== 'sqlite')) return { minimum: -2147483648, maximum: 2147483647 };
  return { minimum: -9007199254740991, maximum: 9007199254740991 };
}

/** A column that could hold codes: short text, not the key, not already a flag, date or pattern. */
export function maybeCode(guess: ColumnGuess, c: ColumnInfo, sampled: unknown[], isKey: boolean): boolean {
  if (isKey || guess.conversion !== 'text' || guess.schema.pattern) return false;
  const width = c.length ?? Math.max(0, ...sampled.map((v) => String(v ?? '').trim().length));
  return width > 0 && width <= 10;
}

/** How well a family's name fits a column's: shared words or abbreviations (STAT_CD ~ CUSTSTAT). */
function affinity(column: string, family: string): number {
  const fam = family.toUpperCase();
  const parts = column
    .toUpperCase()
    .split(/[^A-Z0-9]+/)
    .filter((p) => p.length >= 2 && p !== 'CD' && p !== 'CODE');
  const words = wordsOf(family);
  return parts.filter((p) => fam.includes(p)).length + wordsOf(column).filter((w) => w.length > 2 && w !== 'code' && words.includes(w)).length;
}

/** `NET 30 DAYS` → `net_30_days`. */
export function enumValue(meaning: string): string {
  return (
    meaning
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_|_$/g, '') || meaning.trim()
  );
}

/**
 * An enum from a code column's distinct values (whole table): named by the code table family that
 * holds every one of them (the one whose name fits the column best), else the codes themselves when
 * the name says code and the values repeat. Undefined when it does not look like a code.
 */
export function guessEnum(guess: ColumnGuess, distinct: DistinctValues, families: readonly CodeFamily[]): ColumnGuess | undefined {
  if (distinct.more) return undefined;
  const codes = distinct.values.map((v) => v.value).filter((v) => v !== '');
  const blanks = distinct.values.some((v) => v.value === '');
  if (codes.length === 0 || codes.length > 20) return undefined;
  const covering = families
    .filter((f) => codes.every((c) => f.codes.has(c)))
    .sort((a, b) => affinity(guess.column, b.family || b.table) - affinity(guess.column, a.family || a.table) || a.codes.size - b.codes.size);
  const nullable = guess.nullable || blanks;
  const blankNote = blanks ? '; blank: null' : '';
  if (covering.length > 0) {
    const f = covering[0];
    const values: Record<string, string> = {};
    const used = new Set<string>();
    for (const [code, meaning] of f.codes) {
      let v = enumValue(meaning || code);
      if (used.has(v)) v = `${v}_${enumValue(code)}`;
      used.add(v);
      values[code] = v;
    }
    const where = f.familyColumn ? `${f.table} ${f.familyColumn} = '${f.family}'` : f.table;
    return {
      ...guess,
      conversion: 'enum',
      role: 'code',
      values,
      blankAsNull: blanks || undefined,
      nullable,
      schema: { type: nullableType('string', nullable), enum: [...Object.values(values), ...(nullable ? [null] : [])] },
      why: `${guess.column}: a code (${codes.length} distinct values in the table, all in the code table ${where}); the enum is that family's meanings, as of today${blankNote}`,
    };
  }
  const total = distinct.values.reduce((s, v) => s + v.count, 0);
  if (!CODE_HINT.test(guess.column) || total < 3 * codes.length) return undefined;
  const values = Object.fromEntries(codes.map((c) => [c, c]));
  return {
    ...guess,
    conversion: 'enum',
    role: 'code',
    values,
    blankAsNull: blanks || undefined,
    nullable,
    schema: { type: nullableType('string', nullable), enum: [...codes, ...(nullable ? [null] : [])] },
    why: `${guess.column}: a code by its name, ${codes.length} distinct values in ${total} rows; no code table explains them: give each a name (values: { ${codes[0]}: … })${blankNote}`,
  };
}
