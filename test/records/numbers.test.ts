import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildLayout, type FieldItem } from '../../src/records/layout.ts';
import { BINARY_SIZES, byteSize, parsePic, type BinarySize, type Sizing, type Usage } from '../../src/records/pic.ts';
import { compileRecord, type DataOptions } from '../../src/records/record-codec.ts';

function num(pic: string, usage: Usage, encoding = 'cp037', extra: Partial<FieldItem> = {}) {
  const field: FieldItem = { kind: 'field', name: 'n', label: 'AMOUNT', pic: parsePic(pic), usage, justify: 'left', truncate: 'refuse', offset: 0, size: 0, ...extra };
  return compileRecord(buildLayout('t', [field]), encoding);
}

const hex = (h: string) => Buffer.from(h.replace(/ /g, ''), 'hex');

// [picture, usage, encoding, value, bytes]
const VECTORS: [string, Usage, string, number | string, string][] = [
  // packed decimal (COMP-3): two digits a byte, sign in the last nibble (C +, D -, F unsigned)
  ['S9(5)V99', 'comp-3', 'cp037', 12345.67, '12 34 56 7c'],
  ['S9(5)V99', 'comp-3', 'cp037', -12345.67, '12 34 56 7d'],
  ['9(3)', 'comp-3', 'cp037', 123, '12 3f'],
  ['S9(4)', 'comp-3', 'cp037', 1234, '01 23 4c'],
  ['S9(7)V99', 'comp-3', 'cp037', 0, '00 00 00 00 0c'],
  ['S9(17)V99', 'comp-3', 'cp037', '-12345678901234567.89', '12 34 56 78 90 12 34 56 78 9d'],
  // zoned decimal: EBCDIC digits F0-F9, the sign overpunched on the last digit (C +, D -)
  ['S9(3)', 'display', 'cp037', 123, 'f1 f2 c3'],
  ['S9(3)', 'display', 'cp037', -123, 'f1 f2 d3'],
  ['9(4)', 'display', 'cp037', 42, 'f0 f0 f4 f2'],
  ['S9(3)V9', 'display', 'cp500', -5.5, 'f0 f0 f5 d5'],
  // zoned in ASCII files: the IBM overpunch letters ({ A-I positive, } J-R negative)
  ['S9(3)', 'display', 'ascii', 123, '31 32 43'],
  ['S9(3)', 'display', 'ascii', -120, '31 32 7d'],
  ['S9(3)', 'display', 'cp1252', 0, '30 30 7b'],
  // big-endian binary (COMP): 2, 4 or 8 bytes by digits
  ['S9(4)', 'comp', 'cp037', -2, 'ff fe'],
  ['9(9)', 'comp', 'cp037', 123456789, '07 5b cd 15'],
  ['S9(7)V99', 'comp', 'cp037', -1.5, 'ff ff ff 6a'],
  ['S9(18)', 'comp', 'cp037', '-123456789012345678', 'fe 49 64 b4 59 cf 0c b2'],
  ['9(4)', 'comp-5', 'cp037', 65535, 'ff ff'],
];

describe('numbers in their mainframe forms', () => {
  for (const [pic, usage, encoding, value, bytes] of VECTORS) {
    it(`PIC ${pic} ${usage} (${encoding}) ${value} ⇄ ${bytes}`, () => {
      const codec = num(pic, usage, encoding);
      expect(codec.encode({ n: value }).bytes.toString('hex')).toBe(bytes.replace(/ /g, ''));
      expect(codec.decode(hex(bytes)).n).toBe(value);
    });
  }

  it('a separate leading sign is a + or - character', () => {
    const codec = num('S9(4)', 'display', 'cp037', { signSeparate: 'leading' });
    expect(codec.encode({ n: -12 }).bytes.toString('hex')).toBe('60f0f0f1f2');
    expect(codec.decode(hex('4e f0 f0 f1 f2')).n).toBe(12);
  });

  it('reports an invalid packed digit with the field and the byte offset', () => {
    const layout = buildLayout('t', [
      { kind: 'field', name: 'code', label: 'CODE', pic: parsePic('X(2)'), usage: 'display', justify: 'left', truncate: 'refuse', offset: 0, size: 0 },
      { kind: 'field', name: 'price', label: 'PRICE', pic: parsePic('S9(5)V99'), usage: 'comp-3', justify: 'left', truncate: 'refuse', offset: 0, size: 0 },
    ]);
    const codec = compileRecord(layout, 'cp037');
    expect(() => codec.decode(hex('c1c1 12 3a 56 7c'))).toThrow('field price (PRICE) at byte 3: invalid packed-decimal digit in byte 0x3A');
    expect(() => codec.decode(hex('c1c1 12 34 56 77'))).toThrow(/at byte 5: invalid packed-decimal sign nibble 7/);
  });

  it('reports an invalid zoned digit and a negative value in an unsigned field', () => {
    expect(() => num('9(3)', 'display').decode(hex('f1 40 f3'))).toThrow(/at byte 1: invalid zoned digit in byte 0x40/);
    expect(() => num('9(3)', 'comp-3').decode(hex('12 3d'))).toThrow(/negative value in unsigned field/);
    expect(() => num('9(3)', 'display').encode({ n: -1 })).toThrow(/negative value in an unsigned field/);
  });

  it('refuses values too big for the picture, or cuts them and says so', () => {
    expect(() => num('S9(3)', 'comp-3').encode({ n: 1234 })).toThrow(/value has 4 digits; PIC S9\(3\) holds 3/);
    expect(() => num('S9(3)V99', 'comp-3').encode({ n: 1.234 })).toThrow(/more than 2 decimal places/);
    const cut = num('S9(3)', 'comp-3', 'cp037', { truncate: 'cut' });
    const r = cut.encode({ n: 1234 });
    expect(cut.decode(r.bytes).n).toBe(234);
    expect(r.warnings[0]).toMatch(/cut to its last 3 digits/);
    const field: FieldItem = { kind: 'field', name: 'n', label: 'AMOUNT', pic: parsePic('9(9)'), usage: 'comp', justify: 'left', truncate: 'refuse', offset: 0, size: 0 };
    const strict = compileRecord(buildLayout('t', [field]), 'cp037', { data: { binary: 'refuse' } });
    expect(() => strict.decode(hex('3b 9a ca 00'))).toThrow(/binary value 1000000000 has more digits than PIC 9\(9\)/);
    expect(num('9(9)', 'comp').decode(hex('3b 9a ca 00')).n).toBe(1_000_000_000);
  });
});

const usages: Usage[] = ['display', 'comp-3', 'comp'];
const pages = ['cp037', 'cp500', 'cp1047', 'cp1140', 'cp273', 'cp1252', 'ascii'];

describe('round trips (property-based)', () => {
  it('value → bytes → value gives the value back, in every form and code page', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 15 }),
        fc.integer({ min: 0, max: 4 }),
        fc.boolean(),
        fc.constantFrom(...usages),
        fc.constantFrom(...pages),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        (digits, scaleRaw, signed, usage, page, frac, negative) => {
          const scale = Math.min(scaleRaw, digits);
          const intDigits = digits - scale;
          const pic = `${signed ? 'S' : ''}${intDigits > 0 ? `9(${intDigits})` : ''}${scale > 0 ? `V9(${scale})` : ''}`;
          const usageFor = usage === 'comp' && digits > 9 ? 'comp-3' : usage;
          const scaledInt = Math.floor(frac * (10 ** digits - 1));
          const value = ((signed && negative ? -1 : 1) * scaledInt) / 10 ** scale;
          const codec = num(pic, usageFor, page);
          const expected = value === 0 ? 0 : value;
          expect(codec.decode(codec.encode({ n: value }).bytes).n).toBe(expected);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('bytes → value → bytes gives the same bytes (packed and zoned, preferred signs)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 18 }),
        fc.constantFrom<Usage>('display', 'comp-3'),
        fc.constantFrom(...pages),
        fc.bigInt({ min: 0n, max: 10n ** 18n - 1n }),
        fc.boolean(),
        (digits, usage, page, big, neg) => {
          const magnitude = big % 10n ** BigInt(digits);
          const codec = num(`S9(${digits})V`.replace(/V$/, ''), usage, page);
          const text = (neg && magnitude !== 0n ? '-' : '') + magnitude.toString();
          const bytes = codec.encode({ n: text }).bytes;
          const decoded = codec.decode(bytes).n;
          expect(codec.encode({ n: decoded }).bytes.equals(bytes)).toBe(true);
          expect(String(decoded)).toBe(text);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

/** A one-field record of binary usage laid out with `sizing`, read with `data`. */
function sized(pic: string, usage: Usage, sizing: Partial<Sizing>, data: Partial<DataOptions> = {}) {
  const field: FieldItem = { kind: 'field', name: 'n', label: 'AMOUNT', pic: parsePic(pic), usage, justify: 'left', truncate: 'refuse', offset: 0, size: 0 };
  return compileRecord(buildLayout('t', [field], { binarySize: '2-4-8', comp5Size: sizing.binarySize ?? '2-4-8', pointerSize: 4, ...sizing }), 'cp037', { data });
}

describe('binary sizes of other compilers (binarySize, comp5Size, pointerSize)', () => {
  it('sizes binary items by digits as each scheme says, signed and unsigned', () => {
    const sizes = (scheme: BinarySize, signed: boolean) =>
      Array.from({ length: 18 }, (_v, i) => byteSize(parsePic(`${signed ? 'S' : ''}9(${i + 1})`), 'comp', { binarySize: scheme, comp5Size: scheme, pointerSize: 4 }));
    expect(sizes('2-4-8', true)).toEqual([2, 2, 2, 2, 4, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8]);
    expect(sizes('1-2-4-8', false)).toEqual([1, 1, 2, 2, 4, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8]);
    // Micro Focus: the fewest bytes that hold the PICTURE's digits; unsigned 7 and 12 digits fit a byte fewer.
    expect(sizes('1--8', true)).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5, 6, 6, 6, 7, 7, 8, 8]);
    expect(sizes('1--8', false)).toEqual([1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 8]);
    expect(byteSize(parsePic('S9(2)'), 'comp-5', { binarySize: '2-4-8', comp5Size: '1-2-4-8', pointerSize: 8 })).toBe(1);
    expect(byteSize(parsePic('S9(2)'), 'comp', { binarySize: '2-4-8', comp5Size: '1-2-4-8', pointerSize: 8 })).toBe(2);
    expect(byteSize(parsePic('9'), 'pointer', { binarySize: '2-4-8', comp5Size: '2-4-8', pointerSize: 8 })).toBe(8);
    expect(byteSize(parsePic('9'), 'index', { binarySize: '2-4-8', comp5Size: '2-4-8', pointerSize: 8 })).toBe(4);
  });

  // [picture, usage, binarySize, byte order, value, bytes]
  const ODD: [string, Usage, BinarySize, 'big' | 'little', number | string, string][] = [
    ['S9(2)', 'comp', '1-2-4-8', 'big', -2, 'fe'],
    ['9(2)', 'comp-5', '1-2-4-8', 'little', 99, '63'],
    ['S9(5)', 'comp', '1--8', 'big', -99999, 'fe 79 61'],
    ['S9(5)', 'comp-5', '1--8', 'little', 70000, '70 11 01'],
    ['9(7)', 'comp', '1--8', 'big', 9999999, '98 96 7f'],
    ['S9(11)', 'comp', '1--8', 'big', -12345678901, 'fd 20 23 e3 cb'],
    ['S9(11)', 'comp', '1--8', 'little', -12345678901, 'cb e3 23 20 fd'],
    ['9(14)', 'comp', '1--8', 'big', 99999999999999, '5a f3 10 7a 3f ff'],
    ['S9(13)V9', 'comp-5', '1--8', 'little', -1234567890123.4, '0e d0 31 8c c5 f4'],
    ['S9(15)', 'comp', '1--8', 'big', -999999999999999, 'fc 72 81 5b 39 80 01'],
    ['S9(15)', 'comp', '1--8', 'little', 123456789012345, '79 df 0d 86 48 70 00'],
    ['9(16)', 'comp', '1--8', 'big', '9999999999999999', '23 86 f2 6f c0 ff ff'],
    ['S9(16)', 'comp-5', '1--8', 'little', '-9999999999999999', '01 00 3f 90 0d 79 dc'],
    ['S9(14)V99', 'comp', '1--8', 'big', '-99999999999999.99', 'dc 79 0d 90 3f 00 01'],
  ];
  for (const [pic, usage, scheme, order, value, bytes] of ODD) {
    it(`PIC ${pic} ${usage} (${scheme}, ${order}-endian) ${value} ⇄ ${bytes}`, () => {
      const codec = sized(pic, usage, { binarySize: scheme }, { byteOrder: order });
      expect(codec.layout.length).toBe(hex(bytes).length);
      expect(codec.encode({ n: value }).bytes.toString('hex')).toBe(bytes.replace(/ /g, ''));
      expect(codec.decode(hex(bytes)).n).toBe(value);
    });
  }

  it('binary: full, truncate and refuse hold for 1, 3, 5, 6 and 7 bytes as for 2, 4 and 8', () => {
    // PIC S9(2) COMP in 1 byte holding 127; PIC S9(5) COMP in 3 bytes holding 8388607; PIC S9(15) in 7 bytes holding 2^55 - 1.
    for (const [pic, scheme, bytes, full, cut] of [
      ['S9(2)', '1-2-4-8', '7f', 127, 27],
      ['S9(5)', '1--8', '7f ff ff', 8388607, 88607],
      ['9(12)', '1--8', 'ff ff ff ff ff', 1099511627775, 99511627775],
      ['S9(14)', '1--8', '7f ff ff ff ff ff', 140737488355327, 40737488355327],
      ['S9(15)', '1--8', '7f ff ff ff ff ff ff', '36028797018963967', 28797018963967],
    ] as const) {
      expect(sized(pic, 'comp', { binarySize: scheme }).decode(hex(bytes)).n).toBe(full);
      expect(sized(pic, 'comp', { binarySize: scheme }, { binary: 'truncate' }).decode(hex(bytes)).n).toBe(cut);
      expect(() => sized(pic, 'comp', { binarySize: scheme }, { binary: 'refuse' }).decode(hex(bytes))).toThrow(/has more digits than PIC/);
      // COMP-5 is always read whole, and written whole (full) back.
      const comp5 = sized(pic, 'comp-5', { binarySize: scheme }, { binary: 'refuse' });
      expect(comp5.decode(hex(bytes)).n).toBe(full);
      expect(comp5.encode({ n: full }).bytes.equals(hex(bytes))).toBe(true);
    }
    expect(() => sized('S9(2)', 'comp', { binarySize: '1-2-4-8' }).encode({ n: 128 })).toThrow(/value 128 does not fit in 1 bytes/);
    expect(() => sized('S9(2)', 'comp', { binarySize: '1-2-4-8' }, { binary: 'refuse' }).encode({ n: 127 })).toThrow(/3 digits; PIC S9\(2\) holds 2/);
  });

  it('round trips every width, signed and unsigned, both byte orders (property-based)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 18 }),
        fc.boolean(),
        fc.constantFrom(...BINARY_SIZES),
        fc.constantFrom('big' as const, 'little' as const),
        fc.constantFrom<Usage>('comp', 'comp-5'),
        fc.bigInt({ min: 0n, max: 10n ** 18n - 1n }),
        fc.boolean(),
        (digits, signed, scheme, order, usage, big, neg) => {
          const magnitude = big % 10n ** BigInt(digits);
          const codec = sized(`${signed ? 'S' : ''}9(${digits})`, usage, { binarySize: scheme }, { byteOrder: order });
          const text = (signed && neg && magnitude !== 0n ? '-' : '') + magnitude.toString();
          const bytes = codec.encode({ n: text }).bytes;
          const decoded = codec.decode(bytes).n;
          expect(String(decoded)).toBe(text);
          expect(codec.encode({ n: decoded }).bytes.equals(bytes)).toBe(true);
          // The bytes are the value's two's complement in the layout's width and order.
          const want = Buffer.alloc(8);
          want.writeBigInt64BE(BigInt(text));
          const width = bytes.length;
          const be = want.subarray(8 - width);
          expect(order === 'big' ? bytes.equals(be) : bytes.equals(Buffer.from(be).reverse())).toBe(true);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('POINTER is 4 or 8 bytes; INDEX stays 4; the items after them move', () => {
    const layout = (pointerSize: 4 | 8) =>
      buildLayout(
        't',
        [
          { kind: 'field', name: 'p', label: 'P', pic: parsePic('9(9)'), usage: 'pointer', justify: 'left', truncate: 'refuse', offset: 0, size: 0 },
          { kind: 'field', name: 'i', label: 'I', pic: parsePic('9(9)'), usage: 'index', justify: 'left', truncate: 'refuse', offset: 0, size: 0 },
          { kind: 'field', name: 'n', label: 'N', pic: parsePic('S9(4)'), usage: 'comp', justify: 'left', truncate: 'refuse', offset: 0, size: 0 },
        ],
        { binarySize: '2-4-8', comp5Size: '2-4-8', pointerSize },
      );
    expect(layout(4).length).toBe(10);
    const l8 = layout(8);
    expect(l8.length).toBe(14);
    expect(l8.items.map((i) => i.offset)).toEqual([0, 8, 12]);
    const codec = compileRecord(l8, 'cp037', { data: { byteOrder: 'little' } });
    const bytes = hex('10 00 00 00 00 00 00 00  07 00 00 00  ff fe');
    expect(codec.decode(bytes)).toEqual({ p: 16, i: 7, n: -257 });
    expect(codec.encode(codec.decode(bytes)).bytes.equals(bytes)).toBe(true);
    expect(codec.decode(hex('ff ff ff ff ff ff ff ff 00 00 00 00 00 00')).p).toBe('18446744073709551615');
  });

  it('SYNC aligns no 1- or 3-byte item (as GnuCOBOL), a 4-byte one on 4; tables and REDEFINES take the new sizes', () => {
    const f = (label: string, pic: string, usage: Usage, extra: Partial<FieldItem> = {}): FieldItem => ({
      kind: 'field',
      name: label.toLowerCase(),
      label,
      pic: parsePic(pic),
      usage,
      justify: 'left',
      truncate: 'refuse',
      offset: 0,
      size: 0,
      ...extra,
    });
    const mf: Sizing = { binarySize: '1--8', comp5Size: '1--8', pointerSize: 8 };
    const l = buildLayout(
      't',
      [
        f('A', 'X', 'display'),
        f('B', 'S9(2)', 'comp', { sync: true }),
        f('C', 'S9(5)', 'comp', { sync: true }),
        f('F', 'S9(8)', 'comp', { sync: true }),
        { kind: 'group', name: 't', label: 'T', children: [f('D', '9(3)', 'comp'), f('E', 'X', 'display')], occurs: { min: 3, max: 3 }, offset: 0, size: 0 },
        f('R', 'X(9)', 'display', { redefines: 'T' }),
      ],
      mf,
    );
    expect(l.items.map((i) => [i.offset, i.size])).toEqual([
      [0, 1],
      [1, 1],
      [2, 3],
      [8, 4],
      [12, 3],
      [12, 9],
    ]);
    expect(l.length).toBe(21);
  });
});
