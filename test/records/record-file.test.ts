import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordFileError } from '../../src/records/errors.ts';
import { loadRecordFileSpec, LayoutFileError, recordFileSpec } from '../../src/records/layout-file.ts';
import { decodeRecordFile, decodeRecordStream, encodeRecordFile } from '../../src/records/record-file.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

const LAYOUTS = join(PROJECT_ROOT, 'adapters/mainframe-files/layouts');
const products = loadRecordFileSpec(join(LAYOUTS, 'products.yaml'));

const rows = (n: number) => [
  { type: 'header', value: { phExtractDate: '2026-11-25', phExtractTime: 10203, phExtractSeq: 7, phSystemId: 'PRDEXP01' } },
  ...Array.from({ length: n }, (_v, i) => ({
    type: 'detail',
    value: {
      prSku: `HW-${1000 + i}`,
      prDescription: `Product ${i}`,
      prUnitPrice: 10 + i / 100,
      prCurrency: 'EUR',
      prStockQty: i - 2,
      prStatus: i % 3 === 0 ? 'backorder' : 'active',
      prLastChanged: '2025-06-30',
    },
  })),
  { type: 'trailer', value: {} },
];

describe('record files with header, details and trailer', () => {
  it('are written with the trailer count and control totals filled in, and read back the same', async () => {
    const { bytes } = encodeRecordFile(products, rows(3));
    expect(bytes.length).toBe(5 * 80);
    const { rows: back, summary } = await decodeRecordFile([bytes], products);
    expect(summary).toMatchObject({ records: 5, good: 5, bad: 0, complete: true, problems: [] });
    expect(back.map((r) => r.type)).toEqual(['header', 'detail', 'detail', 'detail', 'trailer']);
    expect(back[4].value).toMatchObject({ ptRecordCount: 3, ptTotalStock: -3, ptPriceHash: 30.03 });
    expect(back[2].value).toMatchObject({ prSku: 'HW-1001', prUnitPrice: 10.01, prStockQty: -1, prStatus: 'active', prLastChanged: '2025-06-30' });
    expect(
      encodeRecordFile(
        products,
        back.map((r) => ({ type: r.type, value: r.value })),
      ).bytes.equals(bytes),
    ).toBe(true);
  });

  it('are decoded the same whatever the chunk boundaries of the stream', async () => {
    const { bytes } = encodeRecordFile(products, rows(6));
    const whole = await decodeRecordFile([bytes], products);
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }), async (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        const chunks = points.slice(1).map((end, i) => bytes.subarray(points[i], end));
        const split = await decodeRecordFile(chunks, products);
        expect(split.rows).toEqual(whole.rows);
      }),
      { numRuns: 200 },
    );
  });

  it('report a trailer whose count or totals do not match, keeping every good record', async () => {
    const { bytes } = encodeRecordFile(products, rows(3));
    const tampered = Buffer.from(bytes);
    products.types
      .find((t) => t.name === 'trailer')!
      .codec.encode({ ptRecordCount: 4, ptTotalStock: -3, ptPriceHash: 30.03 })
      .bytes.copy(tampered, 4 * 80);
    tampered[4 * 80] = 0xe3; // keep the record-type code 'T'
    const { rows: back, summary } = await decodeRecordFile([tampered], products);
    expect(back).toHaveLength(5);
    expect(summary.complete).toBe(false);
    expect(summary.problems).toEqual([{ recordNo: 5, offset: 320, recordType: 'trailer', field: 'ptRecordCount', reason: 'trailer says 4 detail records; the file has 3' }]);
  });

  it('report a bad record with its number, byte offset, field and reason, and keep the others', async () => {
    const { bytes } = encodeRecordFile(products, rows(3));
    const bad = Buffer.from(bytes);
    bad[2 * 80 + 48] = 0x1a; // a packed price digit A in the second detail
    const { rows: back, summary } = await decodeRecordFile([bad], products);
    expect(back.map((r) => r.recordNo)).toEqual([1, 2, 4, 5]);
    expect(summary.problems[0]).toEqual({ recordNo: 3, offset: 208, recordType: 'detail', field: 'prUnitPrice', reason: 'invalid packed-decimal digit in byte 0x1A' });
    expect(summary.problems[1].reason).toMatch(/control total not checked: 1 counted records could not be decoded/);
  });

  it('report an unknown record type, a partial last record and a missing trailer', async () => {
    const { bytes } = encodeRecordFile(products, rows(2));
    const odd = Buffer.concat([bytes.subarray(0, 160), Buffer.alloc(80, 0xe7), bytes.subarray(160, 230)]);
    const { summary } = await decodeRecordFile([odd], products);
    expect(summary.problems.map((p) => p.reason)).toEqual([
      'unknown record type code "X" (known: H, D, T)',
      'the file ends with a partial record of 70 bytes (records are 80 bytes)',
      'the file ends without a trailer record after 4 records (incomplete file?)',
    ]);
    expect(summary.complete).toBe(false);
  });

  it('say where reading stopped when the source fails midway (a file that disappears, a dropped connection)', async () => {
    const { bytes } = encodeRecordFile(products, rows(5));
    const source = new Readable({
      read() {
        this.push(bytes.subarray(0, 200));
        this.destroy(new Error('connection lost'));
      },
    });
    const seen: number[] = [];
    const run = async () => {
      for await (const batch of decodeRecordStream(source, products)) for (const r of batch.rows) seen.push(r.recordNo);
    };
    await expect(run()).rejects.toThrow(new RecordFileError('reading stopped at byte 200 after 2 records: connection lost', 200, 2));
    expect(seen).toEqual([1, 2]);
  });
});

describe('delimited records and YAML layouts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ficus-layout-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const yaml = (delimiter: string) => ({
    encoding: 'cp1252',
    delimiter,
    fields: [
      { name: 'id', pic: '9(4)' },
      { name: 'name', pic: 'X(10)' },
      { name: 'amount', pic: 'S9(5)V99', sign: 'trailing-separate' },
      { name: 'born', pic: '9(6)', date: 'YYMMDD', pivot: 30 },
      { name: 'kind', pic: 'X', values: { retail: 'R', wholesale: ['W', 'V'] } },
    ],
  });

  for (const [delimiter, sep] of [
    ['lf', '\n'],
    ['crlf', '\r\n'],
  ] as const) {
    it(`reads ${delimiter}-delimited records and writes them back byte for byte`, async () => {
      const spec = recordFileSpec(yaml(delimiter), 'inline.yaml', dir);
      const text = ['0001Ann       0001250+850101R', '0002Bert      0000099-291231V', ''].join(sep);
      const { rows: back, summary } = await decodeRecordFile([Buffer.from(text, 'latin1')], spec);
      expect(summary.problems).toEqual([]);
      expect(back.map((r) => r.value)).toEqual([
        { id: 1, name: 'Ann', amount: 12.5, born: '1985-01-01', kind: 'retail' },
        { id: 2, name: 'Bert', amount: -0.99, born: '2029-12-31', kind: 'wholesale' },
      ]);
      const again = encodeRecordFile(
        spec,
        back.map((r) => ({ type: 'record', value: r.value })),
      );
      expect(again.bytes.toString('latin1')).toBe(text.replace('V', 'W')); // an enum writes its first value
    });
  }

  it('reports a record of the wrong length', async () => {
    const spec = recordFileSpec(yaml('lf'), 'inline.yaml', dir);
    const { summary } = await decodeRecordFile([Buffer.from('0001Ann       0001250+850101R\n0002Bert      0000099-291231VX\n', 'latin1')], spec);
    expect(summary.problems).toEqual([{ recordNo: 2, offset: 30, recordType: 'record', reason: 'record of the wrong length: 30 bytes; record is 29 bytes' }]);
  });

  it('explains layout mistakes with the file, the key and the fix', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'encoding: cp9999\nfields: [{ name: a, pic: X }]\n');
    expect(() => loadRecordFileSpec(join(dir, 'bad.yaml'), {}, 'bad.yaml')).toThrow(
      new LayoutFileError('bad.yaml', 'encoding', 'unknown code page "cp9999"', 'use one of: cp037, cp500, cp1047, cp1140, cp273, cp1252, cp437, cp850, latin1, ascii'),
    );
    expect(() => recordFileSpec({ fields: [{ name: 'a', pic: 'X(3)', usage: 'comp-3' }] }, 'x.yaml', dir)).toThrow(/x\.yaml: fields\[0\]\.usage: PIC X\(3\) cannot be comp-3/);
    expect(() => recordFileSpec({ records: { a: { fields: [{ name: 'a', pic: 'X' }] }, b: { fields: [{ name: 'b', pic: 'X' }] } } }, 'x.yaml', dir)).toThrow(
      /recordType: 2 record types but no recordType/,
    );
  });
});
