/**
 * COBOL PICTURE clauses and USAGE: how many characters or digits an item holds, its implied decimal
 * places (negative for P scaling on the right: `99PPP` holds hundreds of thousands), whether it is
 * signed, and how many bytes that takes in its usage (display, zoned, packed decimal COMP-3, binary
 * COMP/COMP-4/BINARY/COMP-5, floating point COMP-1/COMP-2, POINTER/INDEX), national (PIC N, UTF-16)
 * and DBCS (PIC G) text.
 */
export type Usage = 'display' | 'comp-3' | 'comp-6' | 'comp' | 'comp-5' | 'comp-1' | 'comp-2' | 'pointer';

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

/** The picture items without a PICTURE clause take: COMP-1, COMP-2, POINTER (4 bytes, as IBM Enterprise COBOL's default 31-bit addressing). */
export function implicitPic(usage: Usage): Pic | undefined {
  if (usage === 'comp-1' || usage === 'comp-2') return { text: usage.toUpperCase(), kind: 'numeric', length: usage === 'comp-1' ? 7 : 16, scale: 0, signed: true };
  if (usage === 'pointer') return { text: 'POINTER', kind: 'numeric', length: 9, scale: 0, signed: false };
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

/** Bytes an item of this picture takes in this usage (without a separate sign). */
export function byteSize(pic: Pic, usage: Usage): number {
  if (usage === 'comp-1' || usage === 'pointer') return 4;
  if (usage === 'comp-2') return 8;
  if (pic.kind === 'national' || pic.kind === 'dbcs') return pic.length * 2;
  if (pic.kind === 'alnum' || usage === 'display') return pic.length;
  if (usage === 'comp-3') return Math.floor(pic.length / 2) + 1;
  if (usage === 'comp-6') return pic.signed ? Math.floor(pic.length / 2) + 1 : Math.ceil(pic.length / 2);
  if (pic.length <= 4) return 2;
  if (pic.length <= 9) return 4;
  if (pic.length <= 18) return 8;
  throw new PicError(`PICTURE ${pic.text}: binary items hold at most 18 digits`);
}

/** The alignment of a SYNCHRONIZED item (IBM Enterprise COBOL): binary, COMP-1, COMP-2 and POINTER items on their own size; others none. */
export function syncAlignment(pic: Pic, usage: Usage): number {
  if (usage === 'comp' || usage === 'comp-5' || usage === 'comp-1' || usage === 'comp-2' || usage === 'pointer') return byteSize(pic, usage);
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
  if (w === 'POINTER' || w === 'PROCEDURE-POINTER' || w === 'FUNCTION-POINTER' || w === 'INDEX') return 'pointer';
  return undefined;
}
