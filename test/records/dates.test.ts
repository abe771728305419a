import { describe, expect, it } from 'vitest';
import { formatLegacyDate, parseLegacyDate } from '../../src/records/dates.ts';
import { buildLayout } from '../../src/records/layout.ts';
import { parsePic } from '../../src/records/pic.ts';
import { compileRecord } from '../../src/records/record-codec.ts';

describe('legacy dates', () => {
  const cases: [Parameters<typeof parseLegacyDate>[1], string, string][] = [
    ['YYYYMMDD', '20241231', '2024-12-31'],
    ['YYMMDD', '240229', '2024-02-29'],
    ['YYMMDD', '991231', '1999-12-31'],
    ['CYYMMDD', '1240101', '2024-01-01'],
    ['CYYMMDD', '0991231', '1999-12-31'],
    ['YYDDD', '24060', '2024-02-29'],
    ['YYDDD', '23365', '2023-12-31'],
    ['YYYYDDD', '2024366', '2024-12-31'],
  ];
  for (const [format, digits, iso] of cases) {
    it(`${format} ${digits} ⇄ ${iso}`, () => {
      expect(parseLegacyDate(digits, format, 50)).toBe(iso);
      expect(formatLegacyDate(iso, format, 50)).toBe(digits);
    });
  }

  it('reads all zeros as no date, and writes no date as zeros', () => {
    expect(parseLegacyDate('00000000', 'YYYYMMDD', 50)).toBeNull();
    expect(formatLegacyDate(null, 'CYYMMDD', 50)).toBe('0000000');
  });

  it('uses the pivot year for two-digit years', () => {
    expect(parseLegacyDate('490101', 'YYMMDD', 50)).toBe('2049-01-01');
    expect(parseLegacyDate('500101', 'YYMMDD', 50)).toBe('1950-01-01');
    expect(parseLegacyDate('690101', 'YYMMDD', 70)).toBe('2069-01-01');
    expect(() => formatLegacyDate('2050-01-01', 'YYMMDD', 50)).toThrow(/outside the YYMMDD window/);
  });

  it('refuses dates that do not exist, saying why', () => {
    expect(() => parseLegacyDate('20230229', 'YYYYMMDD', 50)).toThrow('2023-02 has no day 29 (YYYYMMDD 20230229)');
    expect(() => parseLegacyDate('20241301', 'YYYYMMDD', 50)).toThrow(/month 13 does not exist/);
    expect(() => parseLegacyDate('23366', 'YYDDD', 50)).toThrow(/day 366 of 2023 does not exist/);
    expect(() => parseLegacyDate('2240101', 'CYYMMDD', 50)).toThrow(/century digit 2/);
  });

  it('work over packed fields too (CYYMMDD in PIC 9(7) COMP-3)', () => {
    const codec = compileRecord(
      buildLayout('t', [
        { kind: 'field', name: 'changed', label: 'CHANGED', pic: parsePic('9(7)'), usage: 'comp-3', justify: 'left', truncate: 'refuse', offset: 0, size: 0, date: { format: 'CYYMMDD', pivot: 50 } },
      ]),
      'cp037',
    );
    const bytes = codec.encode({ changed: '2026-11-24' }).bytes;
    expect(bytes.toString('hex')).toBe('1261124f');
    expect(codec.decode(bytes).changed).toBe('2026-11-24');
    expect(() => codec.decode(Buffer.from('1261324f', 'hex'))).toThrow(/field changed \(CHANGED\) at byte 0: month 13 does not exist/);
  });
});
