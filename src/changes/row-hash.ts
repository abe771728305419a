/**
 * The hash a change feed keeps of each row it sent (`changes_rows.hash`, and part of the event id):
 * the SHA-256 of the row's canonical JSON (`canonicalJson`: object keys sorted at every depth),
 * base64url, first 32 characters.
 *
 * The canonical text is written byte by byte into one buffer kept between calls and hashed in one
 * call, instead of being built as a string: `canonicalJson` made, per row, the entries' arrays, the
 * sorted copies, a string per key and value and the joined text (about 7 KB of garbage a customer
 * row, a third of what a change feed allocated per event; here about 0.3 KB). The bytes are the same,
 * so the hashes are: those stored by an older version still compare equal.
 *
 * Plain JSON data only (strings, finite or not numbers, booleans, null, undefined, dense arrays,
 * objects whose prototype is Object's or null); anything else anywhere in the value (a Date, a
 * bigint, a class instance, a sparse array...) is hashed by the old way, whole, for the same result.
 */
import { createHash, hash } from 'node:crypto';
import { canonicalJson } from '../writes/canonical-json.ts';

/** Characters JSON.stringify escapes (quote, backslash, controls) or may (surrogates, paired or lone). */
// eslint-disable-next-line no-control-regex -- the control characters are what it looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const KEEP = 64 * 1024;

let buf = Buffer.allocUnsafeSlow(4096);
let at = 0;
/** Keys of the objects being written, each object's sorted in a segment above its parent's. */
const keys: string[] = [];
let top = 0;
let busy = false;

function put(s: string): void {
  const n = s.length;
  if (at + n * 3 > buf.length) {
    const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, at + n * 3));
    buf.copy(bigger, 0, 0, at);
    buf = bigger;
  }
  if (n < 64) {
    // Short ASCII text byte by byte (no call into the runtime); anything else as UTF-8 from its start.
    const start = at;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        at = start + buf.write(s, start, 'utf8');
        return;
      }
      buf[at++] = c;
    }
    return;
  }
  at += buf.write(s, at, 'utf8');
}

function putByte(c: number): void {
  if (at + 1 > buf.length) put(String.fromCharCode(c));
  else buf[at++] = c;
}

function putString(s: string): void {
  if (NEEDS_ESCAPE.test(s)) {
    put(JSON.stringify(s));
    return;
  }
  putByte(0x22);
  put(s);
  putByte(0x22);
}

/** Writes `canonicalJson(v)`'s bytes; false if `v` holds something other than plain JSON data. */
function write(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
      putString(v);
      return true;
    case 'number':
      put(Number.isFinite(v) ? String(v) : 'null');
      return true;
    case 'boolean':
      put(v ? 'true' : 'false');
      return true;
    case 'undefined':
      put('null');
      return true;
    case 'object': {
      if (v === null) {
        put('null');
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (Array.isArray(v)) {
        if (proto !== Array.prototype) return false;
        const a = v as unknown[];
        putByte(0x5b);
        for (let i = 0; i < a.length; i++) {
          if (!(i in a)) return false;
          if (i > 0) putByte(0x2c);
          if (!write(a[i])) return false;
        }
        putByte(0x5d);
        return true;
      }
      if (proto !== Object.prototype && proto !== null) return false;
      const o = v as Record<string, unknown>;
      const base = top;
      // Own enumerable keys of defined values, sorted as canonicalJson sorts them (by UTF-16 code units).
      for (const k in o) {
        if (!Object.hasOwn(o, k) || o[k] === undefined) continue;
        let j = top++;
        while (j > base && keys[j - 1] > k) {
          keys[j] = keys[j - 1];
          j--;
        }
        keys[j] = k;
      }
      const end = top;
      putByte(0x7b);
      for (let i = base; i < end; i++) {
        if (i > base) putByte(0x2c);
        putString(keys[i]);
        putByte(0x3a);
        if (!write(o[keys[i]])) return false;
      }
      top = base;
      putByte(0x7d);
      return true;
    }
    default:
      return false;
  }
}

/** sha256(canonicalJson(value)), base64url, first 32 characters. */
export function hashOf(value: unknown): string {
  if (!busy) {
    busy = true;
    at = 0;
    top = 0;
    try {
      if (write(value)) return hash('sha256', buf.subarray(0, at), 'base64url').slice(0, 32);
    } finally {
      busy = false;
      if (buf.length > KEEP) buf = Buffer.allocUnsafeSlow(4096);
    }
  }
  return createHash('sha256').update(canonicalJson(value)).digest('base64url').slice(0, 32);
}
