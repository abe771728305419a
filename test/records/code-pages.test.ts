import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { codePage, registerCodePages } from '../../src/records/code-pages.ts';
import { buildLayout, type FieldItem } from '../../src/records/layout.ts';
import { parsePic } from '../../src/records/pic.ts';
import { compileRecord } from '../../src/records/record-codec.ts';

// Known byte vectors from IBM's code page charts: the characters that differ between the pages.
const VECTORS: Record<string, [string, string][]> = {
  cp037: [
    [' Aa0', '40 c1 81 f0'],
    ['[]!|', 'ba bb 5a 4f'],
    ['¢¬^$@', '4a 5f b0 5b 7c'],
  ],
  cp500: [
    [' Aa0', '40 c1 81 f0'],
    ['[]!|', '4a 5a 4f bb'],
    ['¢^', 'b0 5f'],
  ],
  cp1047: [
    [' Aa0', '40 c1 81 f0'],
    ['[]^¬', 'ad bd 5f b0'],
    ['!|', '5a 4f'],
  ],
  cp1140: [
    ['€', '9f'],
    ['[]', 'ba bb'],
    [' Aa0', '40 c1 81 f0'],
  ],
  cp273: [
    ['ÄÜäß', '4a 5a c0 a1'],
    ['Öö§@', 'e0 6a 7c b5'],
    ['{}[]', '43 dc 63 fc'],
  ],
};

function textCodec(encoding: string, length: number) {
  const field: FieldItem = { kind: 'field', name: 'text', label: 'TEXT', pic: parsePic(`X(${length})`), usage: 'display', justify: 'left', truncate: 'refuse', offset: 0, size: 0 };
  return compileRecord(buildLayout('t', [field]), encoding);
}

describe('EBCDIC code pages', () => {
  for (const [page, vectors] of Object.entries(VECTORS)) {
    it(`${page} encodes and decodes IBM's byte values`, () => {
      for (const [text, hex] of vectors) {
        const bytes = Buffer.from(hex.replace(/ /g, ''), 'hex');
        const codec = textCodec(page, text.length);
        expect(codec.encode({ text }).bytes.equals(bytes), `${page} ${text}`).toBe(true);
        expect(codec.decode(bytes).text).toBe(text);
      }
    });
  }

  it('are registered with iconv-lite under their names and IBM aliases', () => {
    registerCodePages();
    expect(iconv.decode(Buffer.from('c8859393964040', 'hex'), 'cp037')).toBe('Hello  ');
    expect(iconv.encode('[x]', 'ibm1047').toString('hex')).toBe('ada7bd');
    expect(iconv.decode(Buffer.from([0x9f]), 'cp1140')).toBe('€');
    expect(iconv.decode(Buffer.from([0x4a]), 'ibm-273')).toBe('Ä');
  });

  it('every page maps all 256 bytes one to one', () => {
    for (const name of Object.keys(VECTORS)) {
      const page = codePage(name);
      const chars = new Set(Array.from(page.decode));
      expect(chars.size, name).toBe(256);
      for (let b = 0; b < 256; b++) expect(page.encode[page.decode[b]], `${name} byte ${b}`).toBe(b);
    }
  });
});

describe('text fields', () => {
  it('refuse a character the code page cannot represent, naming it and its position', () => {
    expect(() => textCodec('cp037', 10).encode({ text: 'caf€' })).toThrow(/character "€" \(U\+20AC\) at position 4 is not in code page cp037/);
  });

  it('report a byte the code page does not define, with its offset', () => {
    const codec = textCodec('cp1252', 4);
    expect(() => codec.decode(Buffer.from([0x41, 0x81, 0x42, 0x43]))).toThrow(/field text \(TEXT\) at byte 1: byte 0x81 is not a character of code page cp1252/);
  });

  it('decode ASCII-family pages through iconv-lite’s tables (cp437 box drawing, cp850 accents, cp1252 euro)', () => {
    expect(textCodec('cp437', 2).decode(Buffer.from([0xc9, 0xcd])).text).toBe('╔═');
    expect(textCodec('cp850', 2).decode(Buffer.from([0x82, 0x99])).text).toBe('éÖ');
    expect(textCodec('cp1252', 1).decode(Buffer.from([0x80])).text).toBe('€');
  });

  it('pad on the right, trim trailing blanks, and cut only when the policy says so', () => {
    const codec = textCodec('cp037', 5);
    expect(codec.encode({ text: 'AB' }).bytes.toString('hex')).toBe('c1c2404040');
    expect(codec.decode(Buffer.from('40c1c24040', 'hex')).text).toBe(' AB');
    expect(() => codec.encode({ text: 'ABCDEFG' })).toThrow(/"ABCDEFG" is 7 characters; the field holds 5/);
    const cut = compileRecord(
      buildLayout('t', [{ kind: 'field', name: 'text', label: 'TEXT', pic: parsePic('X(5)'), usage: 'display', justify: 'left', truncate: 'cut', offset: 0, size: 0 }]),
      'cp037',
    );
    const r = cut.encode({ text: 'ABCDEFG' });
    expect(cut.decode(r.bytes).text).toBe('ABCDE');
    expect(r.warnings).toEqual(['text: "ABCDEFG" cut to 5 characters']);
  });

  it('right-justified fields pad on the left', () => {
    const codec = compileRecord(
      buildLayout('t', [{ kind: 'field', name: 'text', label: 'TEXT', pic: parsePic('X(4)'), usage: 'display', justify: 'right', truncate: 'refuse', offset: 0, size: 0 }]),
      'ascii',
    );
    expect(codec.encode({ text: 'ab' }).bytes.toString('latin1')).toBe('  ab');
    expect(codec.decode(Buffer.from('  ab', 'latin1')).text).toBe('ab');
  });
});
