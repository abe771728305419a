/**
 * Code pages for fixed-width records: the EBCDIC pages (cp037, cp500, cp1047, cp1140, cp273),
 * registered with iconv-lite as single-byte code pages since it has none, and the ASCII-family pages
 * iconv-lite already knows (cp1252, cp437, cp850, latin1, ascii). Each page is turned into lookup
 * tables used by the record codecs: decoding reports bytes the page does not define, encoding
 * reports characters the page cannot represent (iconv-lite itself would silently write `?`).
 */
import iconv from 'iconv-lite';
import { EBCDIC_TABLES } from './ebcdic-tables.ts';

export const EBCDIC_PAGES = ['cp037', 'cp500', 'cp1047', 'cp1140', 'cp273'] as const;
export const ASCII_PAGES = ['cp1252', 'cp437', 'cp850', 'latin1', 'ascii'] as const;
export const CODE_PAGES: readonly string[] = [...EBCDIC_PAGES, ...ASCII_PAGES];
export type CodePageName = (typeof EBCDIC_PAGES)[number] | (typeof ASCII_PAGES)[number];

const INVALID = 0xffff;

export interface CodePage {
  name: string;
  ebcdic: boolean;
  /** byte → UTF-16 code unit; 0xFFFF for a byte the page does not define. */
  decode: Uint16Array;
  /** UTF-16 code unit → byte; -1 for a character the page cannot represent. */
  encode: Int16Array;
  /** Whether every character of the page fits in latin1 (decoding can then go byte to byte). */
  latin1Only: boolean;
  /** byte → latin1 byte, when latin1Only. */
  toLatin1: Uint8Array;
  /** byte → 1 when the page defines it. */
  valid: Uint8Array;
  space: number;
  /** The byte of the digit 0 (0xF0 in EBCDIC, 0x30 in ASCII). */
  zero: number;
}

let registered = false;

/** Adds the EBCDIC pages to iconv-lite (`iconv.decode(buf, 'cp037')` then works). Idempotent. */
export function registerCodePages(): void {
  if (registered) return;
  iconv.encodingExists('latin1'); // makes iconv-lite load its own table of encodings first
  const encodings = iconv.encodings as Record<string, unknown>;
  for (const name of EBCDIC_PAGES) {
    const chars = String.fromCharCode(...EBCDIC_TABLES[name]);
    encodings[name] = { type: '_sbcs', chars };
    encodings[`ibm${name.slice(2)}`] = name;
    encodings[`ibm-${Number(name.slice(2))}`] = name;
  }
  registered = true;
}

const cache = new Map<string, CodePage>();

function build(name: string, units: readonly number[], ebcdic: boolean): CodePage {
  const decode = new Uint16Array(256);
  const encode = new Int16Array(65536).fill(-1);
  const valid = new Uint8Array(256);
  const toLatin1 = new Uint8Array(256);
  let latin1Only = true;
  for (let b = 0; b < 256; b++) {
    const u = units[b];
    decode[b] = u;
    if (u === INVALID) continue;
    valid[b] = 1;
    if (encode[u] === -1) encode[u] = b;
    if (u > 0xff) latin1Only = false;
    else toLatin1[b] = u;
  }
  if (name === 'cp273' && encode[0x203e] === -1) encode[0x203e] = encode[0xaf]; // IBM's overline is libc's macron
  return { name, ebcdic, decode, encode, valid, toLatin1, latin1Only, space: encode[0x20], zero: encode[0x30] };
}

/** The code page of that name (case-insensitive; `ibm037`, `ibm-37` and `ibm1047` are accepted too). */
export function codePage(name: string): CodePage {
  const key = canonicalName(name);
  const hit = cache.get(key);
  if (hit) return hit;
  let page: CodePage;
  if ((EBCDIC_PAGES as readonly string[]).includes(key)) {
    page = build(key, EBCDIC_TABLES[key as (typeof EBCDIC_PAGES)[number]], true);
  } else if ((ASCII_PAGES as readonly string[]).includes(key)) {
    const all = Buffer.alloc(256);
    for (let b = 0; b < 256; b++) all[b] = b;
    const text = iconv.decode(all, key);
    const units: number[] = [];
    for (let b = 0; b < 256; b++) {
      const u = text.charCodeAt(b);
      units.push(u === 0xfffd || (key === 'ascii' && b > 0x7f) ? INVALID : u);
    }
    page = build(key, units, false);
  } else {
    throw new Error(`unknown code page "${name}"; use one of: ${CODE_PAGES.join(', ')}`);
  }
  cache.set(key, page);
  return page;
}

export function canonicalName(name: string): string {
  const n = name.toLowerCase().replace(/_/g, '-');
  const ibm = /^(?:ibm-?|cp-?|ccsid-?)0*(\d+)$/.exec(n);
  if (ibm) {
    const num = ibm[1].padStart(3, '0');
    if ((EBCDIC_PAGES as readonly string[]).includes(`cp${num}`)) return `cp${num}`;
    if (['1252', '437', '850'].includes(ibm[1])) return `cp${ibm[1]}`;
  }
  if (n === 'iso-8859-1' || n === 'latin-1') return 'latin1';
  if (n === 'us-ascii') return 'ascii';
  if (n === 'windows-1252') return 'cp1252';
  return n;
}

export function isCodePage(name: string): boolean {
  return CODE_PAGES.includes(canonicalName(name));
}
