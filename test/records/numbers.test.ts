import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildLayout, type FieldItem } from '../../src/records/layout.ts';
import { parsePic, type Usage } from '../../src/records/pic.ts';
import { compileRecord } from '../../src/records/record-codec.ts';

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
