/**
 * COBOL PICTURE clauses and USAGE: how many characters or digits an item holds, its implied decimal
 * places, whether it is signed, and how many bytes that takes in its usage (display, zoned,
 * packed decimal COMP-3, big-endian binary COMP/COMP-4/BINARY/COMP-5).
 */
export type Usage = 'display' | 'comp-3' | 'comp' | 'comp-5';

export interface Pic {
  /** The clause as written, e.g. `S9(7)V99`. */
  text: string;
  /** alnum: characters (X, A, and edited pictures, read as text); numeric: digits (9, S, V). */
  kind: 'alnum' | 'numeric';
  /** Characters (alnum) or digits (numeric). */
  length: number;
  /** Digits after the implied decimal point (V). */
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

export function parsePic(text: string): Pic {
  const raw = text.trim().toUpperCase();
  if (raw === '') throw new PicError('empty PICTURE');
  if (!/^[SXA9VPZ*.,+\-BCRD$/0()\d]+$/.test(raw)) throw new PicError(`PICTURE ${text} has characters COBOL does not allow`);
  const flat = expand(raw);
  if (/[()]/.test(flat)) throw new PicError(`PICTURE ${text} has unbalanced parentheses`);
  if (/^[XA9]*$/.test(flat) && /[XA]/.test(flat)) return { text: raw, kind: 'alnum', length: flat.length, scale: 0, signed: false };
  const numeric = /^(S?)(9*)(?:V(9*))?$/.exec(flat);
  if (numeric && numeric[2].length + (numeric[3]?.length ?? 0) > 0) {
    const intDigits = numeric[2].length;
    const scale = numeric[3]?.length ?? 0;
    const digits = intDigits + scale;
    if (digits > 31) throw new PicError(`PICTURE ${text} has ${digits} digits; at most 31 are supported`);
    return { text: raw, kind: 'numeric', length: digits, scale, signed: numeric[1] === 'S' };
  }
  if (/P/.test(flat)) throw new PicError(`PICTURE ${text}: scaling position P is not supported`);
  if (/V/.test(flat) || /S/.test(flat)) throw new PicError(`PICTURE ${text} is not a valid numeric picture`);
  // A numeric-edited picture (Z, *, ., +, -, CR, DB, $, B, 0, /): stored as display characters, read as text.
  return { text: raw, kind: 'alnum', length: flat.length, scale: 0, signed: false };
}

/** Bytes an item of this picture takes in this usage (without a separate sign). */
export function byteSize(pic: Pic, usage: Usage): number {
  if (pic.kind === 'alnum' || usage === 'display') return pic.length;
  if (usage === 'comp-3') return Math.floor(pic.length / 2) + 1;
  if (pic.length <= 4) return 2;
  if (pic.length <= 9) return 4;
  if (pic.length <= 18) return 8;
  throw new PicError(`PICTURE ${pic.text}: binary items hold at most 18 digits`);
}

export function parseUsage(word: string): Usage | undefined {
  const w = word.toUpperCase();
  if (w === 'DISPLAY') return 'display';
  if (w === 'COMP-3' || w === 'COMPUTATIONAL-3' || w === 'PACKED-DECIMAL') return 'comp-3';
  if (w === 'COMP' || w === 'COMPUTATIONAL' || w === 'COMP-4' || w === 'COMPUTATIONAL-4' || w === 'BINARY') return 'comp';
  if (w === 'COMP-5' || w === 'COMPUTATIONAL-5') return 'comp-5';
  return undefined;
}
