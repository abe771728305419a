/**
 * GnuCOBOL as the test oracle. For each of two ways COBOL writes files, a COBOL program (its record
 * a copybook Ficus parses too) WRITEs records computed from the record number and DISPLAYs their
 * values; Ficus must decode the file to the same values, encode those values back to the very same
 * bytes, and a second COBOL program must READ Ficus's file and DISPLAY the same values again.
 *
 * - "mainframe": `cobc -fsign=EBCDIC` (IBM's overpunched signs, `}` `J`…`R` for negative digits, in
 *   ASCII), big-endian binary (GnuCOBOL's default for COMP): the layout's defaults.
 * - "x86": GnuCOBOL's own conventions, `-fbinary-byteorder=native` (little-endian COMP and COMP-5,
 *   IEEE COMP-1/COMP-2, negative zoned digits 0x70-0x79): `byteOrder: little, float: ieee, zonedSign: ascii`.
 *
 * GnuCOBOL writes ASCII text; the layouts say `encoding: ascii`, so no translation to EBCDIC is
 * needed here (the EBCDIC pages are covered by code-pages.test.ts and numbers.test.ts).
 * Records: FICUS_ORACLE_RECORDS (default 2000; the figure in docs/benchmarks.md was run with 10000).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordFileSpec } from '../../src/records/layout-file.ts';
import { decodeRecordFile, encodeRecordFile } from '../../src/records/record-file.ts';

const hasCobc = spawnSync('cobc', ['--version']).status === 0;
if (!hasCobc) console.warn('cobol-oracle.test.ts skipped: cobc (GnuCOBOL 3) is not installed; apt-get install gnucobol3');
const N = Number(process.env.FICUS_ORACLE_RECORDS ?? 2000);

interface Field {
  name: string;
  /** The clause after the name in the copybook. */
  clause: string;
  /** A COBOL expression of I (the record number), or 'TEXT'. */
  formula: string;
}

const MAINFRAME: Field[] = [
  { name: 'TXT', clause: 'PIC X(7)', formula: 'TEXT' },
  { name: 'ZONED', clause: 'PIC S9(7)V99', formula: 'I * 37.25 - 150000' },
  { name: 'ZLEAD', clause: 'PIC S9(5) SIGN LEADING SEPARATE', formula: '5000 - I * 3' },
  { name: 'ZTRAIL', clause: 'PIC S9(4) SIGN TRAILING SEPARATE', formula: '77 - I' },
  { name: 'UNS', clause: 'PIC 9(3)', formula: 'FUNCTION MOD(I, 1000)' },
  { name: 'PACKED', clause: 'PIC S9(9)V99 COMP-3', formula: 'I * I * 1.01 - 50000000' },
  { name: 'PEVEN', clause: 'PIC 9(4) COMP-3', formula: 'I' },
  { name: 'BIN2', clause: 'PIC S9(4) COMP', formula: '4999 - I' },
  { name: 'BIN4', clause: 'PIC S9(9) BINARY', formula: 'I * 99991 - 400000000' },
  { name: 'BIN8', clause: 'PIC S9(18) COMP-4', formula: 'I * 123456789012 - 1' },
  { name: 'BINV', clause: 'PIC S9(5)V99 COMP', formula: 'I / 8 - 600' },
];

const X86: Field[] = [
  { name: 'TXT', clause: 'PIC X(7)', formula: 'TEXT' },
  { name: 'ZONED', clause: 'PIC S9(7)V99', formula: 'I * 37.25 - 150000' },
  { name: 'BIN2', clause: 'PIC S9(4) COMP', formula: '4999 - I' },
  { name: 'BIN4', clause: 'PIC S9(9) COMP-5', formula: 'I * -3' },
  { name: 'BIN8', clause: 'PIC S9(18) COMP-5', formula: 'I * 123456789012 - 1' },
  { name: 'UBIN', clause: 'PIC 9(4) COMP-5', formula: 'I' },
  { name: 'PACKED', clause: 'PIC S9(5)V99 COMP-3', formula: 'I / 4 - 2000' },
  { name: 'FSINGLE', clause: 'COMP-1', formula: 'I / 4' },
  { name: 'FDOUBLE', clause: 'COMP-2', formula: 'I * 1.5 - 7777.25' },
];

function copybook(fields: Field[]): string {
  return ['       01  ORACLE-REC.', ...fields.map((f) => `           05  ${f.name.padEnd(8)} ${f.clause}.`), ''].join('\n');
}

/** DISPLAYs every field of the record, `|` after each: numbers through an edited picture. */
function displayLines(fields: Field[]): string[] {
  return [
    ...fields.map((f) => (f.formula === 'TEXT' ? `           DISPLAY ${f.name} "|" WITH NO ADVANCING` : `           MOVE ${f.name} TO ED\n           DISPLAY ED "|" WITH NO ADVANCING`)),
    '           DISPLAY " "',
  ];
}

function program(id: string, fields: Field[], mode: 'write' | 'read', file: string): string {
  const head = [
    '       IDENTIFICATION DIVISION.',
    `       PROGRAM-ID. ${id}.`,
    '       ENVIRONMENT DIVISION.',
    '       INPUT-OUTPUT SECTION.',
    '       FILE-CONTROL.',
    `           SELECT DATA-FILE ASSIGN TO "${file}"`,
    '               ORGANIZATION SEQUENTIAL.',
    '       DATA DIVISION.',
    '       FILE SECTION.',
    '       FD DATA-FILE.',
    '       COPY "oracle.cpy".',
    '       WORKING-STORAGE SECTION.',
    '       01 I PIC 9(6) VALUE 0.',
    '       01 ZI PIC 9(6).',
    '       01 ED PIC -(19)9.9(6).',
    '       01 EOF PIC X VALUE "N".',
    '       PROCEDURE DIVISION.',
  ];
  const body =
    mode === 'write'
      ? [
          '           OPEN OUTPUT DATA-FILE',
          `           PERFORM VARYING I FROM 1 BY 1 UNTIL I > ${N}`,
          ...fields.map((f) => (f.formula === 'TEXT' ? `           MOVE I TO ZI\n           STRING "R" ZI DELIMITED BY SIZE INTO ${f.name}` : `           COMPUTE ${f.name} = ${f.formula}`)),
          '           WRITE ORACLE-REC',
          ...displayLines(fields),
          '           END-PERFORM',
          '           CLOSE DATA-FILE',
          '           STOP RUN.',
        ]
      : [
          '           OPEN INPUT DATA-FILE',
          '           PERFORM UNTIL EOF = "Y"',
          '           READ DATA-FILE AT END MOVE "Y" TO EOF',
          '           NOT AT END',
          ...displayLines(fields),
          '           END-READ',
          '           END-PERFORM',
          '           CLOSE DATA-FILE',
          '           STOP RUN.',
        ];
  return [...head, ...body, ''].join('\n');
}

/** A decimal number as canonical text, exactly: '-000123.450000' → '-123.45'; JS numbers the same way. */
function decimal(v: unknown): string {
  let t = typeof v === 'number' ? String(v) : String(v);
  const negative = t.startsWith('-');
  t = t.replace(/^[-+]/, '');
  if (t.includes('.')) t = t.replace(/0+$/, '').replace(/\.$/, '');
  t = t.replace(/^0+(?=\d)/, '');
  return negative && t !== '0' ? `-${t}` : t;
}

/** The DISPLAY output: one array of values per record (text as is, numbers as numbers). */
function parseDisplay(out: string, fields: Field[]): unknown[][] {
  return out
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((l) => {
      const parts = l.split('|').slice(0, fields.length);
      return parts.map((p, k) => (fields[k].formula === 'TEXT' ? p.trimEnd() : decimal(p.trim())));
    });
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!hasCobc)('GnuCOBOL as oracle', () => {
  const cases: [string, Field[], string[], Record<string, unknown>][] = [
    ['mainframe conventions (IBM signs, big-endian binary)', MAINFRAME, ['-fsign=EBCDIC'], {}],
    ['x86 conventions (little-endian binary, IEEE floats, ASCII signs)', X86, ['-fbinary-byteorder=native'], { byteOrder: 'little', float: 'ieee', zonedSign: 'ascii' }],
  ];
  for (const [title, fields, flags, options] of cases) {
    it(`${title}: COBOL's records decode to the values it DISPLAYs, Ficus writes the same bytes, COBOL reads Ficus's file back (${N} records)`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ficus-oracle-'));
      dirs.push(dir);
      writeFileSync(join(dir, 'oracle.cpy'), copybook(fields));
      writeFileSync(join(dir, 'w.cbl'), program('ORAW', fields, 'write', 'cobol.dat'));
      writeFileSync(join(dir, 'r.cbl'), program('ORAR', fields, 'read', 'ficus.dat'));
      for (const p of ['w', 'r']) {
        const c = spawnSync('cobc', ['-x', ...flags, '-o', p, `${p}.cbl`], { cwd: dir, encoding: 'utf8' });
        if (c.status !== 0) throw new Error(`cobc ${p}.cbl failed: ${c.stderr}`);
      }
      const written = parseDisplay(execFileSync('./w', { cwd: dir, maxBuffer: 1 << 28 }).toString('latin1'), fields);
      expect(written).toHaveLength(N);

      const spec = recordFileSpec({ encoding: 'ascii', copybook: 'oracle.cpy', ...options }, 'oracle.yaml', dir);
      const cobolBytes = readFileSync(join(dir, 'cobol.dat'));
      const { rows, summary } = await decodeRecordFile([cobolBytes], spec);
      expect(summary.problems).toEqual([]);
      const keys = fields.map((f) => f.name.toLowerCase());
      expect(rows.map((r) => keys.map((k, i) => (fields[i].formula === 'TEXT' ? r.value[k] : decimal(r.value[k]))))).toEqual(written);

      const { bytes } = encodeRecordFile(
        spec,
        rows.map((r) => ({ type: 'record', value: r.value })),
      );
      expect(bytes.equals(cobolBytes)).toBe(true);
      writeFileSync(join(dir, 'ficus.dat'), bytes);
      const read = parseDisplay(execFileSync('./r', { cwd: dir, maxBuffer: 1 << 28 }).toString('latin1'), fields);
      expect(read).toEqual(written);
    }, 120_000);
  }
});
