/**
 * The declarative mapping from a legacy row to the contract's JSON: each contract field names its
 * column(s) and a conversion; a field whose value is an object of fields is a nested object (flat
 * `ADDR_LINE1..3` into `address.lines`). Column names are matched without regard to case, since
 * PostgreSQL folds unquoted names to lower case.
 *
 *   id:         { column: CUST_NO, as: integer }
 *   name:       { column: CUST_NM, as: text }                    # CHAR padding trimmed
 *   email:      { column: EMAIL_ADDR, as: text, blankAsNull: true }
 *   status:     { column: STAT_DESC, as: enum, values: { ACTIVE: active, CLOSED: closed } }
 *   vip:        { column: VIP_FLG, as: flag }                    # Y/N, 1/0, T/F
 *   creditLimit: { column: CR_LMT, as: decimal, scale: 2 }      # implied decimals
 *   createdOn:  { column: CRT_DT, as: cyymmdd }
 *   updatedAt:  { columns: [LAST_UPD_DT, LAST_UPD_TM], as: timestamp }
 *   address:
 *     lines:    { columns: [ADDR_LINE1, ADDR_LINE2, ADDR_LINE3], as: lines }
 */
import { z } from 'zod';
import {
  ConversionError,
  fromCyymmdd,
  fromDateAndTime,
  fromFlag,
  fromImpliedDecimal,
  fromNativeDate,
  fromNativeTimestamp,
  fromYyyymmdd,
  toInteger,
  toNumber,
  trimmed,
} from './legacy-values.ts';

export type Row = Record<string, unknown>;

const CONVERSIONS = ['text', 'raw', 'integer', 'number', 'decimal', 'flag', 'enum', 'yyyymmdd', 'cyymmdd', 'timestamp', 'date', 'datetime', 'lines'] as const;
type Conversion = (typeof CONVERSIONS)[number];
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const fieldSpecSchema = z
  .object({
    /** The column the value comes from. */
    column: z.string().regex(/^[A-Za-z_][A-Za-z0-9_$#]*$/, 'a column name').optional(),
    /** Several columns: `lines` (address lines) or `timestamp` (a date column and a time column). */
    columns: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_$#]*$/, 'a column name')).min(1).optional(),
    /** How the value is converted; default `text` (CHAR padding trimmed). */
    as: z.enum(CONVERSIONS).default('text'),
    /** Digits after the implied decimal point (`as: decimal`). */
    scale: z.number().int().min(0).max(12).optional(),
    /** Code → contract value (`as: enum`); codes are compared trimmed. */
    values: z.record(z.string(), scalar).optional(),
    /** A blank (all spaces) value is null. */
    blankAsNull: z.boolean().default(false),
    /** A zero value is null (legacy "no date" is often 0). */
    zeroAsNull: z.boolean().default(false),
    /** Used when the value is null. */
    default: scalar.optional(),
    /** A fixed value, no column. */
    const: scalar.optional(),
  })
  .strict();
export type FieldSpec = z.infer<typeof fieldSpecSchema>;

export class MappingConfigError extends Error {
  constructor(readonly key: string, message: string, readonly fix: string) {
    super(message);
    this.name = 'MappingConfigError';
  }
}

/** A value in a row that the mapping cannot convert: the adapter answers 502 naming column and row. */
export class RowMappingError extends Error {
  constructor(readonly field: string, readonly column: string, message: string) {
    super(message);
    this.name = 'RowMappingError';
  }
}

/** Resolves declared column names to the row's actual keys (exact match first, then case-blind). */
class ColumnResolver {
  private resolved: Map<string, string> | undefined;

  constructor(private readonly columns: string[]) {}

  keys(row: Row): Map<string, string> {
    if (this.resolved) return this.resolved;
    const actual = Object.keys(row);
    const byUpper = new Map(actual.map((k) => [k.toUpperCase(), k]));
    const out = new Map<string, string>();
    const missing: string[] = [];
    for (const c of this.columns) {
      const k = c in row ? c : byUpper.get(c.toUpperCase());
      if (k === undefined) missing.push(c);
      else out.set(c, k);
    }
    if (missing.length > 0) {
      throw new RowMappingError('', missing.join(', '), `the query's rows have no column ${missing.join(', ')} (they have: ${actual.join(', ')})`);
    }
    this.resolved = out;
    return out;
  }
}

type FieldFn = (row: Row, keys: Map<string, string>) => unknown;

const isBlank = (v: unknown) => typeof v === 'string' && v.trim() === '';

function compileField(key: string, spec: FieldSpec, columns: Set<string>): FieldFn {
  if (spec.const !== undefined) {
    if (spec.column || spec.columns) throw new MappingConfigError(key, 'a field has both const and column(s)', 'keep one of them');
    const c = spec.const;
    return () => c;
  }
  const as: Conversion = spec.as;
  const multi = as === 'lines' || as === 'timestamp';
  if (multi) {
    if (!spec.columns) throw new MappingConfigError(`${key}.columns`, `as: ${as} needs columns: [...]`, as === 'timestamp' ? 'give the date column and the time column: columns: [DATE_COL, TIME_COL]' : 'list the line columns: columns: [LINE1, LINE2, LINE3]');
    if (as === 'timestamp' && spec.columns.length !== 2) throw new MappingConfigError(`${key}.columns`, 'as: timestamp takes exactly two columns', 'give the YYYYMMDD date column and the HHMMSS time column');
  } else if (!spec.column) {
    throw new MappingConfigError(key, 'the field names no column', `add column: <COLUMN> (or const: <value>)${spec.columns ? `; columns: is for as: lines or as: timestamp` : ''}`);
  }
  if (as === 'decimal' && spec.scale === undefined) throw new MappingConfigError(`${key}.scale`, 'as: decimal needs scale', 'say how many digits are implied after the point, e.g. scale: 2');
  if (as === 'enum' && !spec.values) throw new MappingConfigError(`${key}.values`, 'as: enum needs values', 'map each code to its contract value, e.g. values: { A: active }');
  const cols = multi ? spec.columns! : [spec.column!];
  for (const c of cols) columns.add(c);
  const values = spec.values ? new Map(Object.entries(spec.values).map(([k, v]) => [k.trim(), v])) : undefined;
  const fallback = spec.default === undefined ? null : spec.default;

  const convert = (raw: unknown, col: string): unknown => {
    switch (as) {
      case 'raw': return raw;
      case 'text': return trimmed(raw);
      case 'integer': return toInteger(raw);
      case 'number': return toNumber(raw);
      case 'decimal': return fromImpliedDecimal(raw, spec.scale ?? 0);
      case 'flag': return fromFlag(raw);
      case 'yyyymmdd': return fromYyyymmdd(raw);
      case 'cyymmdd': return fromCyymmdd(raw);
      case 'date': return fromNativeDate(raw);
      case 'datetime': return fromNativeTimestamp(raw);
      case 'enum': {
        const code = trimmed(raw);
        if (!values!.has(code)) throw new ConversionError(`code ${JSON.stringify(code)} is not one of ${[...values!.keys()].join(', ')} (column ${col})`);
        return values!.get(code);
      }
      default: return raw;
    }
  };
  const isNull = (raw: unknown) => raw === null || raw === undefined || (spec.blankAsNull && isBlank(raw)) || (spec.zeroAsNull && (raw === 0 || raw === '0' || (typeof raw === 'string' && /^\s*0+\s*$/.test(raw))));

  if (as === 'lines') {
    return (row, keys) => {
      const out: string[] = [];
      for (const c of cols) {
        const raw = row[keys.get(c)!];
        if (raw === null || raw === undefined || isBlank(raw)) continue;
        out.push(trimmed(raw));
      }
      return out;
    };
  }
  if (as === 'timestamp') {
    const [dc, tc] = cols;
    return (row, keys) => {
      const d = row[keys.get(dc)!];
      const t = row[keys.get(tc)!];
      if (isNull(d)) return fallback;
      try {
        return fromDateAndTime(d, t ?? 0);
      } catch (err) {
        throw new RowMappingError(key, `${dc}, ${tc}`, `columns ${dc}, ${tc}: ${(err as Error).message}`);
      }
    };
  }
  const col = cols[0];
  return (row, keys) => {
    const raw = row[keys.get(col)!];
    if (isNull(raw)) return fallback;
    try {
      return convert(raw, col);
    } catch (err) {
      throw new RowMappingError(key, col, `column ${col}: ${(err as Error).message}`);
    }
  };
}

interface Node {
  name: string;
  fn?: FieldFn;
  children?: Node[];
}

function isFieldSpec(v: unknown): boolean {
  return !!v && typeof v === 'object' && !Array.isArray(v) && ('column' in v || 'columns' in v || 'const' in v || 'as' in v);
}

function compileNode(spec: unknown, key: string, columns: Set<string>): Node[] {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new MappingConfigError(key, 'expected an object of contract fields', 'write one key per contract field, each { column: <COLUMN>, as: <conversion> } or a nested object');
  }
  const out: Node[] = [];
  for (const [name, value] of Object.entries(spec as Record<string, unknown>)) {
    const k = key === '' ? name : `${key}.${name}`;
    if (typeof value === 'string') {
      // Shorthand: `name: CUST_NM` is { column: CUST_NM, as: text }.
      out.push({ name, fn: compileField(k, fieldSpecSchema.parse({ column: value }), columns) });
    } else if (isFieldSpec(value)) {
      const parsed = fieldSpecSchema.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const sub = issue.path.length > 0 ? `${k}.${issue.path.join('.')}` : k;
        const fix = issue.code === 'invalid_value' ? `use one of: ${issue.values.map((v) => String(v)).join(', ')}` : issue.code === 'unrecognized_keys' ? `remove it; the keys allowed are: ${Object.keys(fieldSpecSchema.shape).join(', ')}` : 'correct the value as the message says';
        throw new MappingConfigError(sub, issue.message, fix);
      }
      out.push({ name, fn: compileField(k, parsed.data, columns) });
    } else {
      out.push({ name, children: compileNode(value, k, columns) });
    }
  }
  return out;
}

export interface RowMapper {
  /** Every column the mapping reads. */
  columns: string[];
  map(row: Row): Record<string, unknown>;
}

/** Compiles a mapping spec; mistakes come out as MappingConfigError naming the key under `map`. */
export function compileMapping(spec: unknown): RowMapper {
  const columns = new Set<string>();
  const nodes = compileNode(spec, '', columns);
  const resolver = new ColumnResolver([...columns]);
  const build = (list: Node[], row: Row, keys: Map<string, string>): Record<string, unknown> => {
    const obj: Record<string, unknown> = {};
    for (const n of list) obj[n.name] = n.fn ? n.fn(row, keys) : build(n.children!, row, keys);
    return obj;
  };
  return {
    columns: [...columns],
    map: (row) => build(nodes, row, resolver.keys(row)),
  };
}

/** Reads one column of a row case-blind (for keyset values and messages). */
export function columnValue(row: Row, column: string): unknown {
  if (column in row) return row[column];
  const upper = column.toUpperCase();
  for (const k of Object.keys(row)) if (k.toUpperCase() === upper) return row[k];
  return undefined;
}
