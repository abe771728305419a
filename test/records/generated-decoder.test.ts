/**
 * The generated record decoder (src/records/generated-decoder.ts) against the plain one, on random
 * layouts (text, zoned, separate signs, packed, binary of every size, signed or not, with scales,
 * in each compiler's sizes (1 to 8 bytes) and byte order, pointers of 4 and 8 bytes; dates, level-88
 * values, FILLER, groups, OCCURS, OCCURS DEPENDING ON) in several code pages, and
 * random records of mostly valid and some invalid bytes: the same values, the same errors. And the
 * plain decoder where code generation is refused.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codePage, type CodePage } from '../../src/records/code-pages.ts';
import { DATE_DIGITS } from '../../src/records/dates.ts';
import { FieldError } from '../../src/records/errors.ts';
import { buildLayout, DATE_FORMATS, type DateFormat, type FieldItem, type Item, type RecordLayout } from '../../src/records/layout.ts';
import { implicitPic, parsePic, type Sizing, type Usage } from '../../src/records/pic.ts';
import { compileRecord, type RecordCodec } from '../../src/records/record-codec.ts';

// Identity (latin1; ascii with undefined bytes), latin1-only EBCDIC (cp037, cp273), and pages with
// characters beyond latin1 (cp1140's €, cp437's box drawing); cp1252 has undefined bytes too.
const PAGES = ['cp037', 'cp273', 'cp1140', 'cp1252', 'cp437', 'latin1', 'ascii'];

/** A field as the generator describes it, made into a layout item by `toItem`. */
type FieldSpec =
  | { type: 'text'; length: number; right: boolean; conditions: boolean; date?: DateFormat }
  | { type: 'zoned'; digits: number; scale: number; signed: boolean; sign: 'overpunch-trailing' | 'overpunch-leading' | 'leading' | 'trailing'; conditions: boolean; date?: DateFormat }
  | { type: 'packed'; digits: number; scale: number; signed: boolean; date?: DateFormat }
  | { type: 'binary'; digits: number; scale: number; signed: boolean; usage: 'comp' | 'comp-5' }
  | { type: 'pointer' };
type Spec = { field: FieldSpec; filler: boolean; occurs: number } | { group: Spec[]; occurs: number };

const dateFormat = fc.constantFrom(...DATE_FORMATS);
const fieldSpec: fc.Arbitrary<FieldSpec> = fc.oneof(
  fc.record({ type: fc.constant('text' as const), length: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 5, max: 20 })), right: fc.boolean(), conditions: fc.boolean() }),
  dateFormat.map((date) => ({ type: 'text' as const, length: DATE_DIGITS[date], right: false, conditions: false, date })),
  fc
    .record({
      digits: fc.integer({ min: 1, max: 20 }),
      scale: fc.integer({ min: 0, max: 4 }),
      signed: fc.boolean(),
      sign: fc.constantFrom('overpunch-trailing' as const, 'overpunch-leading' as const, 'leading' as const, 'trailing' as const),
      conditions: fc.boolean(),
    })
    .map((f) => ({ type: 'zoned' as const, ...f, scale: Math.min(f.scale, f.digits - 1) })),
  dateFormat.map((date) => ({ type: 'zoned' as const, digits: DATE_DIGITS[date], scale: 0, signed: false, sign: 'overpunch-trailing' as const, conditions: false, date })),
  fc
    .record({ digits: fc.integer({ min: 1, max: 20 }), scale: fc.integer({ min: 0, max: 4 }), signed: fc.boolean() })
    .map((f) => ({ type: 'packed' as const, ...f, scale: Math.min(f.scale, f.digits - 1) })),
  dateFormat.map((date) => ({ type: 'packed' as const, digits: DATE_DIGITS[date], scale: 0, signed: false, date })),
  fc
    .record({ digits: fc.integer({ min: 1, max: 18 }), scale: fc.integer({ min: 0, max: 4 }), signed: fc.boolean(), usage: fc.constantFrom('comp' as const, 'comp-5' as const) })
    .map((f) => ({ type: 'binary' as const, ...f, scale: Math.min(f.scale, f.digits - 1) })),
  fc.constant({ type: 'pointer' as const }),
);
const occurs = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) });
const { spec } = fc.letrec<{ spec: Spec; items: Spec[] }>((tie) => ({
  spec: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ field: fieldSpec, filler: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }), occurs }),
    fc.record({ group: tie('items') as fc.Arbitrary<Spec[]>, occurs }),
  ),
  items: fc.array(tie('spec'), { minLength: 1, maxLength: 5 }),
}));
const layoutSpec = fc.record({
  items: fc.array(spec, { minLength: 1, maxLength: 8 }),
  /** An OCCURS DEPENDING ON table at the end, its counter first. */
  odo: fc.option(fc.record({ table: fieldSpec, max: fc.integer({ min: 1, max: 4 }) }), { freq: 4 }),
  page: fc.constantFrom(...PAGES),
  /** IBM's sizes, GnuCOBOL's default and -std=ibm, Micro Focus. */
  sizing: fc.constantFrom<Sizing>(
    { binarySize: '2-4-8', comp5Size: '2-4-8', pointerSize: 4 },
    { binarySize: '1-2-4-8', comp5Size: '1-2-4-8', pointerSize: 8 },
    { binarySize: '2-4-8', comp5Size: '1-2-4-8', pointerSize: 8 },
    { binarySize: '1--8', comp5Size: '1--8', pointerSize: 8 },
  ),
  byteOrder: fc.constantFrom('big' as const, 'little' as const),
});

function picText(f: Exclude<FieldSpec, { type: 'pointer' }>): string {
  if (f.type === 'text') return `X(${f.length})`;
  const int = f.digits - f.scale;
  return `${f.signed ? 'S' : ''}${int > 0 ? `9(${int})` : ''}${f.scale > 0 ? `V9(${f.scale})` : ''}`;
}

let names = 0;
function toField(f: FieldSpec, filler: boolean, occ: number): FieldItem {
  const n = ++names;
  // Every fifth name needs quoting in generated source.
  const name = filler ? '' : n % 5 === 0 ? `f${n}"\\'` : `f${n}`;
  const usage: Usage = f.type === 'packed' ? 'comp-3' : f.type === 'binary' ? f.usage : f.type === 'pointer' ? 'pointer' : 'display';
  const item: FieldItem = {
    kind: 'field',
    name,
    label: filler ? 'FILLER' : `F-${n}`,
    pic: f.type === 'pointer' ? implicitPic('pointer')! : parsePic(picText(f)),
    usage,
    justify: f.type === 'text' && f.right ? 'right' : 'left',
    truncate: 'refuse',
    offset: 0,
    size: 0,
  };
  if (occ > 0) item.occurs = { min: occ, max: occ };
  if (f.type === 'zoned' && f.signed && (f.sign === 'leading' || f.sign === 'trailing')) item.signSeparate = f.sign;
  if (f.type === 'zoned' && f.signed && f.sign === 'overpunch-leading') item.signLeading = true;
  if ('date' in f && f.date) item.date = { format: f.date, pivot: 50 };
  if (f.type === 'text' && f.conditions)
    item.conditions = [
      { name: 'isA', values: ['A', 'AB'] },
      { name: 'blank', values: [''] },
    ];
  if (f.type === 'zoned' && f.conditions)
    item.conditions = [
      { name: 'zero', values: [0] },
      { name: 'one', values: [1, -1] },
    ];
  return item;
}

function toItem(s: Spec): Item {
  if ('field' in s) return toField(s.field, s.filler, s.occurs);
  const n = ++names;
  const item: Item = { kind: 'group', name: `g${n}`, label: `G-${n}`, children: s.group.map(toItem), offset: 0, size: 0 };
  if (s.occurs > 0) item.occurs = { min: s.occurs, max: s.occurs };
  return item;
}

function toLayout(l: { items: Spec[]; odo: { table: FieldSpec; max: number } | null; sizing?: Sizing }): RecordLayout {
  const items = l.items.map(toItem);
  if (l.odo) {
    const counter = toField({ type: 'zoned', digits: 1, scale: 0, signed: false, sign: 'overpunch-trailing', conditions: false }, false, 0);
    const table = toField(l.odo.table, false, 0);
    table.occurs = { min: 0, max: l.odo.max, dependingOn: counter.label };
    items.unshift(counter);
    items.push(table);
  }
  return buildLayout('random', items, l.sizing);
}

/** Bytes for one field: valid for its type, or (`dirty`) sometimes any bytes. */
function fieldBytes(field: FieldItem, page: CodePage, dirty: boolean, countMax: number | undefined, le: boolean): fc.Arbitrary<number[]> {
  const size = field.size;
  const anyBytes = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: size, maxLength: size });
  const digit = fc.integer({ min: 0, max: 9 });
  const zoned = (d: number) => page.zero + d;
  let valid: fc.Arbitrary<number[]>;
  if (countMax !== undefined && !dirty) {
    // The OCCURS DEPENDING ON counter (one zoned digit) within its table's bounds.
    valid = fc.integer({ min: 0, max: countMax }).map((d) => [zoned(d)]);
  } else if (field.date && field.pic.kind === 'alnum' && field.usage === 'display') {
    valid = fc.oneof(dateDigits(field.date.format, dirty), fc.constant([] as number[])).map((ds) => (ds.length === 0 ? new Array<number>(size).fill(page.space) : ds.map(zoned)));
  } else if (field.pic.kind === 'alnum') {
    const chars = [' ', 'A', 'B', 'a', 'é', '€', '─', '0'].map((c) => page.encode[c.charCodeAt(0)]).filter((b) => b >= 0);
    const letters = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...chars) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).filter((b) => page.valid[b] === 1) });
    valid = fc.array(letters, { minLength: size, maxLength: size });
  } else if (field.usage === 'display') {
    const digitsOf = field.date ? dateDigits(field.date.format, dirty) : fc.array(digit, { minLength: field.pic.length, maxLength: field.pic.length });
    valid = fc.tuple(digitsOf, fc.boolean()).map(([ds, negative]) => {
      const bytes = ds.map(zoned);
      if (field.signSeparate) {
        const sign = page.encode[(negative ? '-' : '+').charCodeAt(0)];
        return field.signSeparate === 'leading' ? [sign, ...bytes] : [...bytes, sign];
      }
      if (field.pic.signed) {
        const k = field.signLeading ? 0 : bytes.length - 1;
        const d = ds[k];
        bytes[k] = page.ebcdic ? (negative ? 0xd0 : 0xc0) | d : page.encode[(negative ? '}JKLMNOPQR' : '{ABCDEFGHI').charCodeAt(d)];
      }
      return bytes;
    });
  } else if (field.usage === 'comp-3') {
    const n = field.pic.length;
    const padded = n % 2 === 0 ? n + 1 : n;
    const digitsOf = field.date ? dateDigits(field.date.format, dirty) : fc.array(digit, { minLength: n, maxLength: n });
    valid = fc.tuple(digitsOf, field.pic.signed ? fc.constantFrom(0xc, 0xd, 0xf) : fc.constantFrom(0xc, 0xf)).map(([ds, sign]) => {
      const nibbles = [...new Array<number>(padded - ds.length).fill(0), ...ds, sign];
      const out: number[] = [];
      for (let i = 0; i < nibbles.length; i += 2) out.push((nibbles[i] << 4) | nibbles[i + 1]);
      return out;
    });
  } else {
    // Binary (and pointers): within the PIC's digits (COMP checks them; COMP-5 does not), unless dirty; 1 to 8 bytes in the layout's byte order.
    const big = fc.bigInt({ min: 0n, max: (1n << BigInt(size * 8 - 1)) - 1n });
    const magnitude = dirty ? fc.oneof(fc.integer({ min: 0, max: 99_999 }).map(BigInt), big) : fc.integer({ min: 0, max: Math.min(99_999, 10 ** field.pic.length - 1) }).map(BigInt);
    valid = fc.tuple(magnitude, fc.boolean()).map(([v, negative]) => {
      let u = BigInt.asUintN(size * 8, negative && field.pic.signed ? -v : v);
      const out = new Array<number>(size);
      for (let k = 0; k < size; k++) {
        out[le ? k : size - 1 - k] = Number(u & 0xffn);
        u >>= 8n;
      }
      return out;
    });
  }
  return dirty ? fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: anyBytes }) : valid;
}

/** The digits of a date in `format`, mostly a real day, sometimes all zeros (no date), or (`dirty`) any digits. */
function dateDigits(format: DateFormat, dirty: boolean): fc.Arbitrary<number[]> {
  const width = DATE_DIGITS[format];
  const day = fc.date({ min: new Date('1950-01-01T00:00:00Z'), max: new Date('2049-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => {
    const y = d.getUTCFullYear();
    const mmdd = `${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
    const ddd = String(Math.floor((d.getTime() - Date.UTC(y, 0, 1)) / 86_400_000) + 1).padStart(3, '0');
    const text =
      format === 'YYYYMMDD'
        ? `${y}${mmdd}`
        : format === 'YYMMDD'
          ? `${String(y % 100).padStart(2, '0')}${mmdd}`
          : format === 'CYYMMDD'
            ? `${y >= 2000 ? 1 : 0}${String(y % 100).padStart(2, '0')}${mmdd}`
            : format === 'YYDDD'
              ? `${String(y % 100).padStart(2, '0')}${ddd}`
              : `${y}${ddd}`;
    return [...text].map(Number);
  });
  const zeros = fc.constant(new Array<number>(width).fill(0));
  return dirty ? fc.oneof(day, zeros, fc.array(fc.integer({ min: 0, max: 9 }), { minLength: width, maxLength: width })) : fc.oneof({ weight: 6, arbitrary: day }, { weight: 1, arbitrary: zeros });
}

/**
 * The bytes of a whole record (an OCCURS DEPENDING ON table at its longest), field by field in
 * order: half of them valid throughout, half with bad bytes here and there.
 */
function recordBytes(layout: RecordLayout, page: CodePage, le: boolean): fc.Arbitrary<Buffer> {
  return fc.oneof(fieldsBytes(layout, page, false, le), fieldsBytes(layout, page, true, le));
}

function fieldsBytes(layout: RecordLayout, page: CodePage, dirty: boolean, le: boolean): fc.Arbitrary<Buffer> {
  const parts: fc.Arbitrary<number[]>[] = [];
  const walk = (items: readonly Item[]) => {
    for (const item of items) {
      for (let i = 0; i < (item.occurs?.max ?? 1); i++) {
        if (item.kind === 'group') walk(item.children);
        else parts.push(fieldBytes(item, page, dirty, item === layout.odo?.counter ? layout.odo.item.occurs!.max : undefined, le));
      }
    }
  };
  walk(layout.items);
  return fc.tuple(...parts).map((ps) => Buffer.from(ps.flat()));
}

/** What decoding gives: the value, or the error's class and every property a caller reads. */
function outcome(codec: RecordCodec, buf: Buffer, start: number): unknown {
  try {
    const value = codec.decode(buf, start);
    return { value, json: JSON.stringify(value) };
  } catch (err) {
    if (err instanceof FieldError) return { error: 'FieldError', message: err.message, field: err.field, label: err.label, offset: err.offset, reason: err.reason };
    return { error: (err as Error).constructor.name, message: (err as Error).message };
  }
}

const cases = layoutSpec.chain((l) => {
  const layout = toLayout(l);
  const page = codePage(l.page);
  return fc.record({
    layout: fc.constant(layout),
    encoding: fc.constant(l.page),
    byteOrder: fc.constant(l.byteOrder),
    records: fc.array(fc.tuple(recordBytes(layout, page, l.byteOrder === 'little'), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 8 }),
  });
});

describe('the generated record decoder', () => {
  // Bounded by its count of runs; the time limit is only a generous bound for a loaded machine.
  it("gives the plain decoder's values and errors on random layouts and records", { timeout: 120_000 }, () => {
    let decoded = 0;
    let failed = 0;
    fc.assert(
      fc.property(cases, ({ layout, encoding, byteOrder, records }) => {
        const generated = compileRecord(layout, encoding, { data: { byteOrder } });
        const plain = compileRecord(layout, encoding, { generatedDecoder: false, data: { byteOrder } });
        // (A record of FILLER alone has nothing to decode, and no generated decoder.)
        expect(generated.generated).toBe(layout.items.some((i) => i.name !== ''));
        expect(plain.generated).toBe(false);
        for (const [bytes, start] of records) {
          // The record at `start` of a buffer holding other bytes before it (offsets are the record's own).
          const buf = Buffer.concat([Buffer.alloc(start, 0xff), bytes]);
          const want = outcome(plain, buf, start);
          expect(outcome(generated, buf, start)).toStrictEqual(want);
          if ((want as { error?: string }).error === undefined) decoded++;
          else failed++;
        }
      }),
      { numRuns: 200 },
    );
    // Both kinds of record were tried (not a test of errors alone, nor of good records alone).
    expect(decoded).toBeGreaterThan(100);
    expect(failed).toBeGreaterThan(100);
  });

  it('is not used when the option says so, or where code generation is refused', async () => {
    const layout = toLayout({ items: [{ field: { type: 'text', length: 6, right: false, conditions: false }, filler: false, occurs: 0 }], odo: null });
    const bytes = Buffer.from('ABC   ', 'latin1');
    expect(compileRecord(layout, 'latin1').generated).toBe(true);
    const plain = compileRecord(layout, 'latin1', { generatedDecoder: false });
    expect(plain.generated).toBe(false);
    expect(plain.decode(bytes)).toEqual(compileRecord(layout, 'latin1').decode(bytes));
    // A process that refuses `new Function`: the codec falls back to the plain decoder by itself.
    const script = [
      "const { compileRecord } = await import('./src/records/record-codec.ts');",
      "const { buildLayout } = await import('./src/records/layout.ts');",
      "const { parsePic } = await import('./src/records/pic.ts');",
      "let refused = false; try { new Function('return 1'); } catch { refused = true; }",
      "const layout = buildLayout('r', [{ kind: 'field', name: 'code', label: 'CODE', pic: parsePic('X(6)'), usage: 'display', justify: 'left', truncate: 'refuse', offset: 0, size: 0 }]);",
      "const codec = compileRecord(layout, 'cp037');",
      'console.log(JSON.stringify({ refused, generated: codec.generated, value: codec.decode(Buffer.from([0xc1, 0xc2, 0xc3, 0x40, 0x40, 0x40])) }));',
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, ['--disallow-code-generation-from-strings', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url),
      timeout: 60_000,
    });
    expect(JSON.parse(stdout)).toEqual({ refused: true, generated: false, value: { code: 'ABC' } });
  });
});
