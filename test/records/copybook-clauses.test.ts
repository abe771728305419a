import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCopybook, parseCopybookDetailed } from '../../src/records/copybook.ts';
import type { FieldItem, Item } from '../../src/records/layout.ts';
import { compileRecord } from '../../src/records/record-codec.ts';

function find(items: readonly Item[], label: string): Item | undefined {
  for (const i of items) {
    if (i.label === label) return i;
    if (i.kind === 'group') {
      const hit = find(i.children, label);
      if (hit) return hit;
    }
  }
  return undefined;
}

const at = (text: string, label: string, options = {}) => {
  const { entries } = parseCopybookDetailed(text, 't.cpy', options);
  const e = entries.find((x) => x.label === label)!;
  return [e.offset, e.one];
};

describe('copybooks as compilers accept them', () => {
  it('ignore a DOS end-of-file byte and whatever the sequence area holds', () => {
    const text = 'V5     01  REC.\nCHG01     05  A  PIC X(3).\nAB1234     05  B  PIC 9(2).\n\x1a';
    const [l] = parseCopybook(text, 't.cpy');
    expect(l.length).toBe(5);
    expect(at(text, 'B')).toEqual([3, 2]);
  });

  it('read 88 values separated by commas, hexadecimal literals, THRU ranges, and match literals with trailing blanks', () => {
    const text = [
      '       01  REC.',
      '           05  STATUS-CD  PIC X(5).',
      "               88  AVAIL  VALUE 'Avail', 'AVAIL'.",
      "               88  HELD   VALUE X'C8C5D3C4'.",
      '           05  REGION     PIC X(3).',
      "               88  REGION-EU  VALUE 'EU '.",
      '           05  GRADE      PIC 9(2).',
      '               88  PASS   VALUE 50 THRU 99.',
      '               88  FAIL   VALUE 0 THROUGH 49.',
    ].join('\n');
    const codec = compileRecord(parseCopybook(text, 't.cpy')[0], 'cp037');
    const dec = (s: string) => codec.decode(codec.encode({ statusCd: s.slice(0, 5).trimEnd(), region: s.slice(5, 8).trimEnd(), grade: Number(s.slice(8)) }).bytes);
    expect(dec('AVAILEU 75')).toEqual({ statusCd: 'avail', region: 'region-eu', grade: 'pass' });
    expect(dec('HELD US 10')).toEqual({ statusCd: 'held', region: 'US', grade: 'fail' });
  });

  it('join literals continued with - in column 7', () => {
    const text = ['       01  REC.', '           05  CODE-X  PIC X(40).', "               88  LONG-ONE  VALUE 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "      -        'EFGH'."].join('\n');
    const field = find(parseCopybook(text, 't.cpy')[0].items, 'CODE-X') as FieldItem;
    // The literal runs to column 72 on the first line and goes on after the quote on the next.
    expect(field.conditions![0].values[0]).toBe('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789EFGH');
  });

  it('size edited pictures with V, P scaling, SYNC, USAGE on a group, POINTER, COMP-1/COMP-2, and skip level 66', () => {
    const text = [
      '       01  REC.',
      '           05  E1  PIC -9(11)V99.',
      '           05  E2  PIC -(7)9v99.',
      '           05  P1  PIC 9(3)PP.',
      '           05  P2  PIC SVPP99.',
      '           05  A   PIC XX.',
      '           05  S1  PIC S9(4) COMP SYNC.',
      '           05  S2  PIC S9(9) BINARY SYNC.',
      '           05  G   COMP-3.',
      '               10  G1  PIC S9(5).',
      '               10  G2  PIC S9(3).',
      '           05  PTR POINTER.',
      '           05  F1  COMP-1.',
      '           05  F2  COMP-2.',
      '       66  ALIAS RENAMES E1 THRU E2.',
    ].join('\n');
    expect(at(text, 'E1')).toEqual([0, 14]);
    expect(at(text, 'E2')).toEqual([14, 10]);
    expect(at(text, 'P1')).toEqual([24, 3]);
    expect(at(text, 'P2')).toEqual([27, 2]);
    expect(at(text, 'A')).toEqual([29, 2]);
    expect(at(text, 'S1')).toEqual([32, 2]); // a slack byte: a halfword starts on an even offset
    expect(at(text, 'S2')).toEqual([36, 4]); // and a fullword on a multiple of 4
    expect(at(text, 'G1')).toEqual([40, 3]); // packed, from the group's USAGE
    expect(at(text, 'PTR')).toEqual([45, 4]);
    expect(at(text, 'F1')).toEqual([49, 4]);
    expect(at(text, 'F2')).toEqual([53, 8]);
    const [l] = parseCopybook(text, 't.cpy');
    expect(l.length).toBe(61);
    const codec = compileRecord(l, 'cp037');
    const value = { e1: '-00000000123.45'.slice(0, 14), e2: '', p1: 12300, p2: 0.0012, a: 'XY', s1: -2, s2: 7, g: { g1: -12345, g2: 12 }, ptr: 0, f1: 0.1, f2: -1234.5 };
    const back = codec.decode(codec.encode(value).bytes);
    expect(back).toEqual({ ...value, e1: '-00000000123.4' });
  });

  it('take a REDEFINES longer than the item it redefines, as IBM Enterprise COBOL does', () => {
    const text = ['       01  REC.', '           05  A  PIC X(2).', '           05  B  REDEFINES A PIC X(5).', '           05  C  PIC X.'].join('\n');
    // The next item starts after the longer of the two (IBM, GnuCOBOL -std=ibm and cb2xml agree).
    expect(at(text, 'C')).toEqual([5, 1]);
    expect(parseCopybook(text, 't.cpy')[0].length).toBe(6);
  });

  it('expand COPY with REPLACING from the copybook folders', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ficus-copy-'));
    writeFileSync(join(dir, 'ADDR.cpy'), '           10  :PFX:-STREET  PIC X(20).\n           10  :PFX:-CITY    PIC X(10).\n');
    writeFileSync(join(dir, 'amount.cpy'), '           10  AMOUNT  PIC S9(5) COMP-3.\n');
    const text = [
      '       01  REC.',
      '           05  HOME.',
      '           COPY ADDR REPLACING ==:PFX:== BY ==HOME==.',
      '           05  WORK.',
      "           COPY 'ADDR' REPLACING ==:PFX:== BY ==WORK==.",
      '           05  PAY.',
      '           COPY AMOUNT REPLACING AMOUNT BY PAY-AMT.',
    ].join('\n');
    const [l] = parseCopybook(text, 't.cpy', 'record', { copyDirs: [dir] });
    expect(at(text, 'WORK-CITY', { copyDirs: [dir] })).toEqual([50, 10]);
    expect(find(l.items, 'PAY-AMT')).toMatchObject({ offset: 0, size: 3 });
    expect(l.length).toBe(63);
  });

  it('place items after OCCURS DEPENDING ON tables record by record, with several tables', () => {
    const text = [
      '       01  REC.',
      '           05  N1  PIC 9.',
      '           05  N2  PIC 9.',
      '           05  T1  OCCURS 1 TO 3 DEPENDING ON N1 PIC X(2).',
      '           05  MID PIC X.',
      '           05  T2  OCCURS 0 TO 4 DEPENDING ON N2.',
      '               10  Q  PIC 9(2).',
      '           05  TAIL PIC X.',
    ].join('\n');
    const [l] = parseCopybook(text, 't.cpy');
    expect(l.variable).toBe(true);
    expect(l.length).toBe(2 + 6 + 1 + 8 + 1);
    const codec = compileRecord(l, 'cp037');
    const value = { n1: 2, n2: 1, t1: ['AB', 'CD'], mid: 'M', t2: [{ q: 42 }], tail: 'Z' };
    const enc = codec.encode({ ...value, n1: 0, n2: 0 });
    expect(enc.used).toBe(2 + 4 + 1 + 2 + 1);
    const bytes = enc.bytes.subarray(0, enc.used);
    expect(codec.decode(bytes)).toEqual(value);
    expect(codec.lengthAt(bytes, 0)).toBe(10);
  });
});
