/**
 * Binary and pointer sizes of the COBOL that wrote a file, with GnuCOBOL as the oracle. For each of
 * GnuCOBOL's dialects (`-std=default`, `-std=mf`, `-std=ibm`), a COBOL program WRITEs records with
 * COMP and COMP-5 items of 1 to 18 digits, signed and unsigned (a second program: POINTER items, a
 * table of small binary items and a REDEFINES around them), and DISPLAYs their values; Ficus, told the
 * dialect's sizes (`binarySize`, `comp5Size`, `pointerSize`) and byte orders, must decode the file to
 * the same values and encode those values back to the very same bytes.
 *
 * GnuCOBOL 3.1 on x86-64: COMP (BINARY, COMP-4) is big-endian in these three dialects
 * (`binary-byteorder: big-endian`, as Micro Focus and IBM write it); COMP-5, POINTER and floating
 * point are native (little-endian): `byteOrder: little, binaryByteOrder: big`. Sizes: `-std=default`
 * `binary-size: 1-2-4-8`, `-std=mf` `1--8`, `-std=ibm` `2-4-8` but COMP-5 of 1-2 digits in 1 byte;
 * POINTER 8 bytes in all three. Records: FICUS_ORACLE_RECORDS (default 500).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LayoutFileError, recordFileSpec } from '../../src/records/layout-file.ts';
import { decodeRecordFile, encodeRecordFile } from '../../src/records/record-file.ts';
import { wrap } from '../helpers/cobol-writer.ts';

const hasCobc = spawnSync('cobc', ['--version']).status === 0;
if (!hasCobc) console.warn('cobol-sizes.test.ts skipped: cobc (GnuCOBOL 3) is not installed; apt-get install gnucobol3');
const N = Number(process.env.FICUS_ORACLE_RECORDS ?? 500);

interface Field {
  name: string;
  /** The clause after the name in the copybook. */
  clause: string;
  /** COBOL statements that give the field its value for record I ('TEXT': "R" and I). */
  set: string[];
  /** How DISPLAY shows it: through the edited ED, or a POINTER through its numeric view. */
  show: 'number' | 'text' | 'pointer';
}

/** COMP and COMP-5, 1 to 18 digits, signed and unsigned: values spread over each PICTURE's whole range. */
function binaryFields(): Field[] {
  const fields: Field[] = [{ name: 'TXT', clause: 'PIC X(7)', set: ['MOVE I TO ZI', 'MOVE SPACES TO TXT', 'STRING "R" ZI DELIMITED BY SIZE INTO TXT'], show: 'text' }];
  let k = 0;
  for (const usage of ['COMP', 'COMP-5']) {
    for (let d = 1; d <= 18; d++) {
      for (const signed of [true, false]) {
        k++;
        const name = `${usage === 'COMP' ? 'C' : 'N'}${d}${signed ? 'S' : 'U'}`;
        const half = d === 1 ? '5' : `5 * 10 ** ${d - 1}`;
        const formula = `FUNCTION MOD(I * M + ${k * 7919}, 10 ** ${d})${signed ? ` - ${half}` : ''}`;
        fields.push({ name, clause: `PIC ${signed ? 'S' : ''}9(${d}) ${usage}`, set: [`COMPUTE ${name} = ${formula}`], show: 'number' });
      }
    }
  }
  return fields;
}

/**
 * POINTERs between binary items, some SYNCHRONIZED: every offset after a POINTER moves with its size,
 * and SYNC aligns as the dialect does (`-std=mf` ignores SYNC, as Micro Focus does without IBMCOMP:
 * its copy is left without).
 */
const pointerFields = (sync: boolean): Field[] => [
  { name: 'TXT', clause: 'PIC X(3)', set: ['MOVE "PTR" TO TXT'], show: 'text' },
  { name: 'P1', clause: 'USAGE POINTER', set: ['SET P1 TO NULL', 'SET P1 UP BY I'], show: 'pointer' },
  { name: 'B2', clause: 'PIC S9(2) COMP', set: ['COMPUTE B2 = FUNCTION MOD(I, 199) - 99'], show: 'number' },
  { name: 'P2', clause: `POINTER${sync ? ' SYNC' : ''}`, set: ['SET P2 TO NULL', 'SET P2 UP BY 65536', 'SET P2 UP BY I'], show: 'pointer' },
  { name: 'X1', clause: 'PIC X', set: ['MOVE "X" TO X1'], show: 'text' },
  { name: 'B6', clause: `PIC S9(6) COMP-5${sync ? ' SYNC' : ''}`, set: ['COMPUTE B6 = I * 397 - 400000'], show: 'number' },
  { name: 'TAIL', clause: 'PIC X(2)', set: ['MOVE "ZZ" TO TAIL'], show: 'text' },
];

function copybook(fields: Field[], extra: string[] = []): string {
  return ['       01  ORACLE-REC.', ...fields.map((f) => `           05  ${f.name.padEnd(8)} ${f.clause}.`), ...extra, ''].join('\n');
}

function program(fields: Field[]): string {
  const show = fields.flatMap((f) =>
    f.show === 'text'
      ? [`DISPLAY ${f.name} "|" WITH NO ADVANCING`]
      : f.show === 'pointer'
        ? [`SET PV TO ${f.name}`, 'MOVE PV-N TO ED', 'DISPLAY ED "|" WITH NO ADVANCING']
        : [`MOVE ${f.name} TO ED`, 'DISPLAY ED "|" WITH NO ADVANCING'],
  );
  return [
    '       IDENTIFICATION DIVISION.',
    '       PROGRAM-ID. SIZESW.',
    '       ENVIRONMENT DIVISION.',
    '       INPUT-OUTPUT SECTION.',
    '       FILE-CONTROL.',
    '           SELECT DATA-FILE ASSIGN TO "cobol.dat"',
    '               ORGANIZATION SEQUENTIAL.',
    '       DATA DIVISION.',
    '       FILE SECTION.',
    '       FD DATA-FILE.',
    '       COPY "sizes.cpy".',
    '       WORKING-STORAGE SECTION.',
    '       01 I PIC 9(6) VALUE 0.',
    '       01 ZI PIC 9(6).',
    '       01 M PIC 9(14) VALUE 98765432123457.',
    '       01 ED PIC -(19)9.',
    '       01 PV-G.',
    '           05 PV USAGE POINTER.',
    '       01 PV-N REDEFINES PV-G PIC 9(18) COMP-5.',
    '       PROCEDURE DIVISION.',
    '           OPEN OUTPUT DATA-FILE',
    `           PERFORM VARYING I FROM 1 BY 1 UNTIL I > ${N}`,
    // Slack bytes (SYNC) hold what the program left there: spaces here, as Ficus writes them (and FILLER).
    '           MOVE SPACES TO ORACLE-REC',
    ...fields.flatMap((f) => f.set.flatMap(wrap)),
    '           WRITE ORACLE-REC',
    ...show.flatMap(wrap),
    '           DISPLAY " "',
    '           END-PERFORM',
    '           CLOSE DATA-FILE',
    '           STOP RUN.',
    '',
  ].join('\n');
}

/** A decimal number as canonical text: '-000123' → '-123'; JS numbers and decimal strings the same way. */
function decimal(v: unknown): string {
  let t = String(v).trim();
  const negative = t.startsWith('-');
  t = t.replace(/^[-+]/, '').replace(/^0+(?=\d)/, '');
  return negative && t !== '0' ? `-${t}` : t;
}

function parseDisplay(out: string, fields: Field[]): string[][] {
  return out
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((l) =>
      l
        .split('|')
        .slice(0, fields.length)
        .map((p, k) => (fields[k].show === 'text' ? p.trimEnd() : decimal(p))),
    );
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Compiles and runs the writer; returns what it DISPLAYed and the file it wrote. */
function runCobol(fields: Field[], flags: string[], cpy = copybook(fields)): { dir: string; shown: string[][]; bytes: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'ficus-sizes-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'sizes.cpy'), cpy);
  writeFileSync(join(dir, 'w.cbl'), program(fields));
  const c = spawnSync('cobc', ['-x', ...flags, '-o', 'w', 'w.cbl'], { cwd: dir, encoding: 'utf8' });
  if (c.status !== 0) throw new Error(`cobc w.cbl failed: ${c.stderr}`);
  const shown = parseDisplay(execFileSync('./w', { cwd: dir, maxBuffer: 1 << 28 }).toString('latin1'), fields);
  return { dir, shown, bytes: readFileSync(join(dir, 'cobol.dat')) };
}

// COMP big-endian in all three (`binary-byteorder: big-endian`), COMP-5 and POINTER native.
const DIALECTS: [string, string[], Record<string, unknown>, boolean][] = [
  ['GnuCOBOL -std=default', ['-std=default'], { binarySize: '1-2-4-8', pointerSize: 8, byteOrder: 'little', binaryByteOrder: 'big' }, true],
  ['GnuCOBOL -std=mf (Micro Focus)', ['-std=mf'], { binarySize: '1--8', pointerSize: 8, byteOrder: 'little', binaryByteOrder: 'big' }, false],
  ['GnuCOBOL -std=ibm', ['-std=ibm'], { binarySize: '2-4-8', comp5Size: '1-2-4-8', pointerSize: 8, byteOrder: 'little', binaryByteOrder: 'big' }, true],
];

describe.skipIf(!hasCobc)('binary and pointer sizes, GnuCOBOL as oracle', () => {
  for (const [title, flags, options, sync] of DIALECTS) {
    for (const [what, fields] of [
      ['COMP and COMP-5 of 1 to 18 digits, signed and unsigned', binaryFields()],
      [`POINTERs between binary items${sync ? ', SYNCHRONIZED' : ''}`, pointerFields(sync)],
    ] as const) {
      it(`${title}, ${what}: Ficus decodes COBOL's records to the values it DISPLAYs and encodes them to the same bytes (${N} records)`, async () => {
        const { dir, shown, bytes } = runCobol(fields, flags);
        expect(shown).toHaveLength(N);
        const spec = recordFileSpec({ encoding: 'ascii', copybook: 'sizes.cpy', ...options }, 'sizes.yaml', dir);
        expect(bytes.length).toBe(N * spec.recordLength);
        const { rows, summary } = await decodeRecordFile([bytes], spec);
        expect(summary.problems).toEqual([]);
        const keys = fields.map((f) => f.name.toLowerCase());
        expect(rows.map((r) => keys.map((k, i) => (fields[i].show === 'text' ? r.value[k] : decimal(r.value[k]))))).toEqual(shown);
        const encoded = encodeRecordFile(
          spec,
          rows.map((r) => ({ type: 'record', value: r.value })),
        );
        expect(encoded.bytes.equals(bytes)).toBe(true);
      }, 120_000);
    }
  }

  it('with IBM sizes (the default) the same GnuCOBOL -std=default file is misread: the options are what makes it right', async () => {
    const fields = binaryFields().slice(0, 5);
    const { dir, bytes } = runCobol(fields, ['-std=default']);
    const ibm = recordFileSpec({ encoding: 'ascii', copybook: 'sizes.cpy' }, 'sizes.yaml', dir);
    const gnu = recordFileSpec({ encoding: 'ascii', copybook: 'sizes.cpy', binarySize: '1-2-4-8' }, 'sizes.yaml', dir);
    // TXT 7, C1S C1U 1 byte each (2 under IBM), C2S C2U 1 byte each (2 under IBM).
    expect(gnu.recordLength).toBe(11);
    expect(ibm.recordLength).toBe(15);
    expect(bytes.length).toBe(N * gnu.recordLength);
  });
});

describe('layout file options for sizes', () => {
  const load = (raw: Record<string, unknown>) => recordFileSpec({ encoding: 'ascii', fields: [{ name: 'n', pic: 'S9(5)', usage: 'comp' }], ...raw }, 'adapters/x/layouts/sizes.yaml', '.');

  it('an unknown binarySize names the file, the key and the fix', () => {
    let err: unknown;
    try {
      load({ binarySize: '1-2-4' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LayoutFileError);
    const e = err as LayoutFileError;
    expect(e.file).toBe('adapters/x/layouts/sizes.yaml');
    expect(e.key).toBe('binarySize');
    expect(e.fix).toMatch(/2-4-8 .*1-2-4-8 .*1--8/);
    expect(e.message).toContain('adapters/x/layouts/sizes.yaml: binarySize:');
  });

  it('an unknown comp5Size or pointerSize is refused the same way', () => {
    expect(() => load({ comp5Size: '1-2-4' })).toThrow(/comp5Size[\s\S]*fix: use 2-4-8/);
    expect(() => load({ pointerSize: 2 })).toThrow(/pointerSize[\s\S]*fix: use 4 .* or 8/);
  });

  it('PIC S9(5) COMP is 4 bytes (IBM, GnuCOBOL default), 3 bytes under 1--8; comp5Size defaults to binarySize', () => {
    expect(load({}).recordLength).toBe(4);
    expect(load({ binarySize: '1-2-4-8' }).recordLength).toBe(4);
    expect(load({ binarySize: '1--8' }).recordLength).toBe(3);
    const comp5 = (raw: Record<string, unknown>) => recordFileSpec({ encoding: 'ascii', fields: [{ name: 'n', pic: 'S9(2)', usage: 'comp-5' }], ...raw }, 'sizes.yaml', '.').recordLength;
    expect(comp5({})).toBe(2);
    expect(comp5({ binarySize: '1-2-4-8' })).toBe(1);
    expect(comp5({ binarySize: '2-4-8', comp5Size: '1-2-4-8' })).toBe(1);
  });

  it('OCCURS DEPENDING ON with a 1-byte counter: each record as long as its count says, decoded and written back', () => {
    const spec = recordFileSpec(
      {
        encoding: 'ascii',
        binarySize: '1-2-4-8',
        byteOrder: 'little',
        binaryByteOrder: 'big',
        fields: [
          { name: 'id', pic: 'X(2)' },
          { name: 'count', pic: '9(2)', usage: 'comp' },
          { name: 'amounts', pic: 'S9(3)', usage: 'comp-5', occurs: { min: 0, max: 4, dependingOn: 'count' } },
        ],
      },
      'odo.yaml',
      '.',
    );
    const codec = spec.types[0].codec;
    expect([codec.layout.length, codec.layout.minLength]).toEqual([11, 3]);
    const bytes = Buffer.from([0x41, 0x42, 0x02, 0xff, 0xff, 0x2c, 0x01]);
    expect(codec.lengthAt(bytes, 0)).toBe(7);
    expect(codec.decode(bytes)).toEqual({ id: 'AB', count: 2, amounts: [-1, 300] });
    const out = codec.encode({ id: 'AB', amounts: [-1, 300] });
    expect(out.bytes.subarray(0, out.used).equals(bytes)).toBe(true);
  });
});
