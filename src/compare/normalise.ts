/**
 * How the comparator reads a scalar before comparing it: legacy padding and runs of whitespace
 * collapsed, `date-time` as an instant, `date` as YYYY-MM-DD, numbers as numbers however written.
 */
import type { SchemaInfo } from './schema-info.ts';

export type JsonType = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object' | 'undefined';

export function jsonType(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean' || t === 'object' || t === 'undefined') return t;
  return 'string';
}

export function normaliseText(s: string): string {
  return s.trim().replace(/\s+/g, ' ');
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A numeric string as a number (`"2500.00"`, `" 0042 "`), else undefined. */
export function numericValue(s: string): number | undefined {
  const t = s.trim();
  return NUMERIC.test(t) ? Number(t) : undefined;
}

/** An ISO-ish instant in milliseconds; a missing zone is read as UTC, a space as the T. */
export function instantOf(s: string): number | undefined {
  let t = s.trim();
  if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return undefined;
  t = t.replace(/^(\d{4}-\d{2}-\d{2})[ ]/, '$1T');
  if (/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(t)) t += 'Z';
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

/** `2024-05-02`, `20240502`, `2024-05-02T00:00:00Z` → `2024-05-02`. */
export function dateOf(s: string): string | undefined {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})(?:$|[T ])/.exec(s.trim());
  return m ? `${m[1]}-${m[2]}-${m[3]}` : undefined;
}

export function numbersEqual(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

/**
 * The comparable form of a scalar under its schema: a number, a string, a boolean or null. Strings
 * that the schema says are numbers become numbers; dates and instants become their canonical text.
 */
export function comparable(v: unknown, info: SchemaInfo | undefined): unknown {
  if (typeof v !== 'string') return v;
  if (info?.format === 'date-time') {
    const ms = instantOf(v);
    if (ms !== undefined) return `@${new Date(ms).toISOString()}`;
  } else if (info?.format === 'date') {
    const d = dateOf(v);
    if (d !== undefined) return d;
  } else if (info?.numeric) {
    const n = numericValue(v);
    if (n !== undefined) return n;
  }
  return normaliseText(v);
}
