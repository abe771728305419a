/**
 * The generated record decoder: for a layout (or a group of it) compiled for one code page, a
 * function written for that layout with `new Function`, that decodes every item and builds the
 * record as one object literal. It gives exactly the values and the faults of the record codec's
 * plain decoder (test/records/generated-decoder.test.ts compares the two on random layouts and
 * records), and decodes large files about 2.3 times as fast (test/bench/records-decode.bench.ts):
 * that is the figure it is kept for.
 *
 * Where code generation from strings is refused (`node --disallow-code-generation-from-strings`, a
 * locked-down embedding), it is detected once and the record codec uses its plain decoder.
 */
import type { CodePage } from './code-pages.ts';
import { FieldError, FieldFault } from './errors.ts';
import type { Item, FieldItem } from './layout.ts';

/** Decodes one field's value at `at` (faults are FieldFaults, or the decoders' own errors). */
export type ValueDecoder = (buf: Buffer, at: number) => unknown;
/** Decodes an item at `at` of the record starting at `rs`; faults are FieldErrors naming the item. */
export type ItemDecoder = (buf: Buffer, at: number, rs: number) => unknown;

/** What the generated decoder takes from the record codec. */
export interface DecoderParts {
  page: CodePage;
  /** A plain field's value decoder. */
  field(item: FieldItem): ValueDecoder;
  /** The decoder of any other item (a table, a group). */
  item(item: Item): ItemDecoder;
  /** The fault of a byte the page does not define, at buffer offset `at`. */
  badByte(b: number, at: number): FieldFault;
  /** The FieldError of a fault in a field (`offset` within the record). */
  fault(err: unknown, field: string, label: string, offset: number): FieldError;
}

/** `Buffer#latin1Slice`, `ucs2Slice`: what `toString` calls, without its argument handling. */
type Slice = (this: Buffer, start: number, end: number) => string;

/** Whether this process allows `new Function` (detected once). */
export const CODE_GENERATION: boolean = (() => {
  try {
    return new Function('return true')() === true;
  } catch {
    return false;
  }
})();

/** The value of a one-byte field for each of the 256 bytes; undefined where decoding the byte throws. */
function byteTable(dec: ValueDecoder): unknown[] {
  const table: unknown[] = new Array(256);
  const one = Buffer.alloc(1);
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0; // most bytes are faults for a digit: no stack traces for those
  try {
    for (let b = 0; b < 256; b++) {
      one[0] = b;
      try {
        table[b] = dec(one, 0);
      } catch {
        table[b] = undefined;
      }
    }
  } finally {
    Error.stackTraceLimit = limit;
  }
  return table;
}

/** Text fields that are read straight into a run of text, sliced into strings once per record. */
const INLINE_TEXT_MIN = 4;
/** Text fields further apart than this are read into separate runs. */
const RUN_GAP = 256;
/** `ucs2Slice` reads UTF-16 little-endian; a Uint16Array holds the platform's order. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const FAST_SLICE = typeof (Buffer.prototype as unknown as { latin1Slice?: Slice }).latin1Slice === 'function';
const FAST_UCS2 = typeof (Buffer.prototype as unknown as { ucs2Slice?: Slice }).ucs2Slice === 'function' && LITTLE_ENDIAN;

/**
 * How the text fields of a generated decoder become strings: `identity` (latin1, ascii: the bytes
 * are the characters), `latin1` (a page whose characters all fit in latin1, EBCDIC mostly: translate
 * byte by byte), `ucs2` (the others: translate to UTF-16 code units), or not inline at all.
 */
function textMode(page: CodePage): 'identity' | 'latin1' | 'ucs2' | undefined {
  if (!FAST_SLICE) return undefined;
  if (page.name === 'latin1' || page.name === 'ascii') return 'identity';
  if (page.latin1Only) return 'latin1';
  return FAST_UCS2 ? 'ucs2' : undefined;
}

/**
 * The fast path for a group of items that are all decoded unconditionally (no REDEFINES choice):
 * a function generated for this layout that decodes every item and builds the object with one
 * literal, so that every property store has a fixed name and every record the same shape. That is
 * several times quicker than filling an object field by field through one shared closure.
 *
 * Text fields of four characters or more are not decoded one by one: their bytes (blanks trimmed,
 * checked as they go, in field order) are translated into a scratch buffer at their own offsets,
 * the buffer is read as one string per run of nearby fields, and each field's value is a substring
 * of it. One-byte fields (a flag, a status, a digit) are looked up in a table of their 256 values,
 * made by the field's own decoder. Every other item is decoded by its closure. Faults come out in
 * field order as before: no string is made until every field has been read.
 *
 * The function takes (buf, at, rs) inside a record, and (buf, start) as a record's decoder.
 * Undefined where it does not apply (a REDEFINES choice, no named item) or code generation is refused.
 */
export function generateDecoder(items: readonly Item[], parts: DecoderParts): ItemDecoder | undefined {
  if (!CODE_GENERATION) return undefined;
  const plain = items.filter((i) => i.name);
  const conditional = items.some((i) => i.redefines);
  if (conditional || plain.length === 0) return undefined;
  const { page, badByte, fault } = parts;
  const K: unknown[] = [];
  const konst = (v: unknown): string => `K${K.push(v) - 1}`;
  const all = page.valid.every((v) => v === 1);
  const mode = textMode(page);
  const body: string[] = [];
  const values: string[] = [];
  // Runs of inline text: [from, to) offsets in the group.
  const runs: { from: number; to: number }[] = [];
  const runOf = new Map<number, number>();
  for (let k = 0; k < plain.length; k++) {
    const item = plain[k];
    if (
      mode &&
      item.kind === 'field' &&
      !item.occurs &&
      item.pic.kind === 'alnum' &&
      !item.date &&
      !(item.conditions && item.conditions.length > 0) &&
      item.pic.length >= INLINE_TEXT_MIN &&
      item.size === item.pic.length
    ) {
      const last = runs[runs.length - 1];
      if (last && item.offset >= last.to && item.offset - last.to <= RUN_GAP) last.to = item.offset + item.size;
      else runs.push({ from: item.offset, to: item.offset + item.size });
      runOf.set(k, runs.length - 1);
    }
  }
  const end = runs.length > 0 ? runs[runs.length - 1].to : 0;
  // The scratch buffer, indexed by offset in the group; for ucs2, the same memory as 16-bit units.
  const scratch = mode === 'latin1' ? Buffer.alloc(end) : mode === 'ucs2' ? Buffer.alloc(end * 2) : undefined;
  const S = scratch && runs.length > 0 ? konst(mode === 'ucs2' ? new Uint16Array(scratch.buffer, scratch.byteOffset, end) : scratch) : '';
  const SB = mode === 'ucs2' && runs.length > 0 ? konst(scratch) : '';
  const TABLE = mode === 'latin1' ? konst(page.toLatin1) : mode === 'ucs2' ? konst(page.decode) : '';
  const V = all ? '' : konst(page.valid);
  const BAD = all ? '' : konst(badByte);
  const space = page.space;
  for (let k = 0; k < plain.length; k++) {
    const item = plain[k];
    const off = item.offset;
    const run = runOf.get(k);
    if (run !== undefined && item.kind === 'field') {
      const size = item.size;
      body.push(`    i = ${k};`);
      if (item.justify === 'right') {
        body.push(`    let s${k} = at + ${off}; const e${k} = s${k} + ${size};`, `    while (s${k} < e${k} && buf[s${k}] === ${space}) s${k}++;`);
      } else {
        body.push(`    const s${k} = at + ${off}; let e${k} = s${k} + ${size};`, `    while (e${k} > s${k} && buf[e${k} - 1] === ${space}) e${k}--;`);
      }
      const check = all ? '' : `if (${V}[b] === 0) throw ${BAD}(b, p); `;
      if (mode !== 'identity') body.push(`    for (let p = s${k}; p < e${k}; p++) { const b = buf[p]; ${check}${S}[p - at] = ${TABLE}[b]; }`);
      else if (!all) body.push(`    for (let p = s${k}; p < e${k}; p++) { const b = buf[p]; ${check}}`);
      const from = runs[run].from;
      values.push(`T${run}.substring(s${k} - at - ${from}, e${k} - at - ${from})`);
    } else if (item.kind === 'field' && !item.occurs && item.size === 1) {
      const dec = parts.field(item);
      body.push(`    i = ${k}; let v${k} = ${konst(byteTable(dec))}[buf[at + ${off}]];`, `    if (v${k} === undefined) v${k} = ${konst(dec)}(buf, at + ${off});`);
      values.push(`v${k}`);
    } else if (item.kind === 'field' && !item.occurs) {
      body.push(`    i = ${k}; const v${k} = ${konst(parts.field(item))}(buf, at + ${off});`);
      values.push(`v${k}`);
    } else {
      body.push(`    i = ${k}; const v${k} = ${konst(parts.item(item))}(buf, at + ${off}, rs);`);
      values.push(`v${k}`);
    }
  }
  body.push('    i = -1;');
  runs.forEach((r, n) =>
    body.push(
      mode === 'identity'
        ? `    const T${n} = buf.latin1Slice(at + ${r.from}, at + ${r.to});`
        : mode === 'latin1'
          ? `    const T${n} = ${S}.latin1Slice(${r.from}, ${r.to});`
          : `    const T${n} = ${SB}.ucs2Slice(${r.from * 2}, ${r.to * 2});`,
    ),
  );
  const onError = (err: unknown, i: number, at: number, rs: number): unknown => {
    if (i < 0 || err instanceof FieldError) return err;
    const item = plain[i];
    return fault(err, item.name, item.label, (err instanceof FieldFault ? err.at : at + item.offset) - rs);
  };
  const source = [
    // The constants as bindings of the enclosing function, not array loads in every loop.
    ...K.map((_v, n) => `const K${n} = K[${n}];`),
    'return function decode(buf, at = 0, rs = at) {',
    '  let i = -1;',
    '  try {',
    ...body,
    `    return { ${plain.map((item, k) => `${JSON.stringify(item.name)}: ${values[k]}`).join(', ')} };`,
    '  } catch (err) {',
    '    throw E(err, i, at, rs);',
    '  }',
    '};',
  ].join('\n');
  // Generated from the layout's own names (JSON-quoted), offsets and sizes, and the page's space byte only.
  return new Function('K', 'E', source)(K, onError) as ItemDecoder;
}
