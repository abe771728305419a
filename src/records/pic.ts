/**
 * COBOL PICTURE clauses and USAGE: how many characters or digits an item holds, its implied decimal
 * places (negative for P scaling on the right: `99PPP` holds hundreds of thousands), whether it is
 * signed, and how many bytes that takes in its usage (display, zoned, packed decimal COMP-3, binary
 * COMP/COMP-4/BINARY/COMP-5, floating point COMP-1/COMP-2, POINTER/INDEX), national (PIC N, UTF-16)
 * and DBCS (PIC G) text. Binary and pointer sizes differ between compilers (`Sizing`); IBM's are the default.
 */
export type Usage = 'display' | 'comp-3' | 'comp-6' | 'comp' | 'comp-5' | 'comp-1' | 'comp-2' | 'pointer' | 'index';

/**
 * How many bytes a binary item of n digits takes, as GnuCOBOL's `binary-size` names the schemes:
 * `2-4-8` (IBM: 1-4 digits 2 bytes, 5-9 4, 10-18 8), `1-2-4-8` (GnuCOBOL's default: 1-2 digits 1
 * byte, then as IBM), `1--8` (Micro Focus: the fewest bytes that hold the PICTURE's digits, 1 to 8).
 */
export type BinarySize = '2-4-8' | '1-2-4-8' | '1--8';
export const BINARY_SIZES: readonly BinarySize[] = ['2-4-8', '1-2-4-8', '1--8'];

/** Which COBOL laid the record out: the sizes of its binary and pointer items (a layout file's options). */
export interface Sizing {
  /** COMP, COMP-4, BINARY. */
  binarySize: BinarySize;
  /** COMP-5: the same as binarySize on IBM and Micro Focus; GnuCOBOL 3 gives COMP-5 of 1-2 digits 1 byte even under 2-4-8 (`-std=ibm`). */
  comp5Size: BinarySize;
  /** POINTER, PROCEDURE-POINTER, FUNCTION-POINTER: 4 (IBM's 31-bit addressing) or 8 bytes (64-bit GnuCOBOL and Micro Focus). INDEX is 4 bytes everywhere. */
  pointerSize: 4 | 8;
}

/** IBM Enterprise COBOL's sizes: the default. */
export const IBM_SIZING: Sizing = { binarySize: '2-4-8', comp5Size: '2-4-8', pointerSize: 4 };

export interface Pic {
  /** The clause as written, e.g. `S9(7)V99`. */
  text: string;
  /**
   * alnum: characters (X, A, and edited pictures, read as text); numeric: digits (9, S, V, P);
   * national: UTF-16 characters (N, 2 bytes each); dbcs: double-byte characters (G, 2 bytes each).
   */
  kind: 'alnum' | 'numeric' | 'national' | 'dbcs';
  /** Characters (text) or digits stored (numeric). */
  length: number;
  /** Digits after the implied decimal point (V, or P on the left); negative: P positions on the right. */
  scale: number;
  signed: boolean;
}

export class PicError extends Error {}

/** `9(5)` → `99999`. */
function expand(pic: string): string {
  return pic.replace(/(.)\((\d+)\)/g, (_m, ch: string, n: string) => {
    const count = Number(n);
    if (count < 1 || count > 100_000) throw new PicError(`repeat count (${n}) out of range`);
    return ch.repeat(count);
  });
}

/** The picture items without a PICTURE clause take: COMP-1, COMP-2, POINTER, INDEX. */
export function implicitPic(usage: Usage): Pic | undefined {
  if (usage === 'comp-1' || usage === 'comp-2') return { text: usage.toUpperCase(), kind: 'numeric', length: usage === 'comp-1' ? 7 : 16, scale: 0, signed: true };
  if (usage === 'pointer') return { text: 'POINTER', kind: 'numeric', length: 9, scale: 0, signed: false };
  if (usage === 'index') return { text: 'INDEX', kind: 'numeric', length: 9, scale: 0, signed: false };
  return undefined;
}

export function parsePic(text: string): Pic {
  const raw = text.trim().toUpperCase();
  if (raw === '') throw new PicError('empty PICTURE');
  if (!/^[SXA9VPZ*.,+\-BCRDE$/0()\dNG]+$/.test(raw)) throw new PicError(`PICTURE ${text} has characters COBOL does not allow`);
  const flat = expand(raw);
  if (/[()]/.test(flat)) throw new PicError(`PICTURE ${text} has unbalanced parentheses`);
  if (/^[XA9]*$/.test(flat) && /[XA]/.test(flat)) return { text: raw, kind: 'alnum', length: flat.length, scale: 0, signed: false };
  if (/^N+$/.test(flat)) return { text: raw, kind: 'national', length: flat.length, scale: 0, signed: false };
  if (/^[GB]+$/.test(flat) && /G/.test(flat)) return { text: raw, kind: 'dbcs', length: flat.length, scale: 0, signed: false };
  const numeric = /^(S?)(9*)(?:V(9*))?$/.exec(flat);
  if (numeric && numeric[2].length + (numeric[3]?.length ?? 0) > 0) {
    const intDigits = numeric[2].length;
    const scale = numeric[3]?.length ?? 0;
    const digits = intDigits + scale;
    if (digits > 31) throw new PicError(`PICTURE ${text} has ${digits} digits; at most 31 are supported`);
    return { text: raw, kind: 'numeric', length: digits, scale, signed: numeric[1] === 'S' };
  }
  if (/P/.test(flat)) {
    // Scaling positions: P on the left (after an optional V) are decimal places not stored; P on the right, powers of ten.
    const left = /^(S?)V?(P+)(9+)$/.exec(flat);
    if (left) return { text: raw, kind: 'numeric', length: left[3].length, scale: left[2].length + left[3].length, signed: left[1] === 'S' };
    const right = /^(S?)(9+)(P+)V?$/.exec(flat);
    if (right) return { text: raw, kind: 'numeric', length: right[2].length, scale: -right[3].length, signed: right[1] === 'S' };
    throw new PicError(`PICTURE ${text}: P (scaling) must be at the left or the right end of the digits`);
  }
  if (/S/.test(flat)) throw new PicError(`PICTURE ${text} is not a valid numeric picture`);
  if (/V/.test(flat) && !/[Z*.,+\-BCRD$/0E]/.test(flat)) throw new PicError(`PICTURE ${text} is not a valid numeric picture`);
  // A numeric-edited picture (Z, *, ., +, -, CR, DB, $, B, 0, /, E): stored as display characters, read
  // as text; V marks the implied point and takes no character.
  return { text: raw, kind: 'alnum', length: flat.replace(/V/g, '').length, scale: 0, signed: false };
}

/** Most digits a binary item of 1 to 8 bytes holds under `1--8`, signed and unsigned (index: bytes - 1). */
const MF_SIGNED = [2, 4, 6, 9, 11, 14, 16, 18];
const MF_UNSIGNED = [2, 4, 7, 9, 12, 14, 16, 18];

/** Bytes of a binary item of `digits` digits under `scheme`. */
export function binaryBytes(digits: number, signed: boolean, scheme: BinarySize): number {
  if (digits > 18) throw new PicError(`binary items hold at most 18 digits`);
  if (scheme === '1--8') return (signed ? MF_SIGNED : MF_UNSIGNED).findIndex((max) => digits <= max) + 1;
  if (digits <= 2 && scheme === '1-2-4-8') return 1;
  if (digits <= 4) return 2;
  return digits <= 9 ? 4 : 8;
}

/** Bytes an item of this picture takes in this usage (without a separate sign), with IBM's sizes unless `sizing` says otherwise. */
export function byteSize(pic: Pic, usage: Usage, sizing: Sizing = IBM_SIZING): number {
  if (usage === 'comp-1' || usage === 'index') return 4;
  if (usage === 'pointer') return sizing.pointerSize;
  if (usage === 'comp-2') return 8;
  if (pic.kind === 'national' || pic.kind === 'dbcs') return pic.length * 2;
  if (pic.kind === 'alnum' || usage === 'display') return pic.length;
  if (usage === 'comp-3') return Math.floor(pic.length / 2) + 1;
  if (usage === 'comp-6') return pic.signed ? Math.floor(pic.length / 2) + 1 : Math.ceil(pic.length / 2);
  if (pic.length > 18) throw new PicError(`PICTURE ${pic.text}: binary items hold at most 18 digits`);
  return binaryBytes(pic.length, pic.signed, usage === 'comp-5' ? sizing.comp5Size : sizing.binarySize);
}

/**
 * The alignment of a SYNCHRONIZED item (IBM Enterprise COBOL): binary, COMP-1, COMP-2, POINTER and
 * INDEX items on their own size; a binary item of 1, 3, 5, 6 or 7 bytes (other compilers' sizes) on
 * none, as GnuCOBOL does; others none.
 */
export function syncAlignment(pic: Pic, usage: Usage, sizing: Sizing = IBM_SIZING): number {
  if (usage === 'comp' || usage === 'comp-5' || usage === 'comp-1' || usage === 'comp-2' || usage === 'pointer' || usage === 'index') {
    const size = byteSize(pic, usage, sizing);
    return size === 2 || size === 4 || size === 8 ? size : 1;
  }
  return 1;
}

export function parseUsage(word: string): Usage | undefined {
  const w = word.toUpperCase();
  if (w === 'DISPLAY' || w === 'NATIONAL' || w === 'DISPLAY-1') return 'display';
  if (w === 'COMP-3' || w === 'COMPUTATIONAL-3' || w === 'PACKED-DECIMAL') return 'comp-3';
  if (w === 'COMP' || w === 'COMPUTATIONAL' || w === 'COMP-4' || w === 'COMPUTATIONAL-4' || w === 'BINARY') return 'comp';
  if (w === 'COMP-5' || w === 'COMPUTATIONAL-5') return 'comp-5';
  if (w === 'COMP-6' || w === 'COMPUTATIONAL-6') return 'comp-6';
  if (w === 'COMP-1' || w === 'COMPUTATIONAL-1') return 'comp-1';
  if (w === 'COMP-2' || w === 'COMPUTATIONAL-2') return 'comp-2';
  if (w === 'POINTER' || w === 'PROCEDURE-POINTER' || w === 'FUNCTION-POINTER') return 'pointer';
  if (w === 'INDEX') return 'index';
  return undefined;
}
