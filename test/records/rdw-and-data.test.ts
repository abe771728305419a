import { describe, expect, it } from 'vitest';
import { FieldError } from '../../src/records/errors.ts';
import { recordFileSpec } from '../../src/records/layout-file.ts';
import { readIbmFloat, writeIbmFloat } from '../../src/records/numbers.ts';
import { decodeRecordFile, decodeRecordStream, encodeRecordFile, RecordFileWriter } from '../../src/records/record-file.ts';

const hex = (h: string) => Buffer.from(h.replace(/ /g, ''), 'hex');

/** An order with a table of lines: the record's length follows its count, as RECFM=V files carry it. */
const ORDER = [
  { name: 'id', pic: 'X(4)' },
  { name: 'count', pic: '9(2)' },
  { name: 'lines', occurs: { min: 0, max: 5, dependingOn: 'count' }, fields: [{ name: 'qty', pic: 'S9(3)', usage: 'comp-3' }] },
];

const orders = (n: number) =>
  Array.from({ length: n }, (_v, i) => ({ type: 'record', value: { id: `O${String(i % 1000).padStart(3, '0')}`, count: i % 6, lines: Array.from({ length: i % 6 }, (_w, k) => ({ qty: k - 2 })) } }));

function* chunks(buf: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

describe('variable-length records (RECFM=V and VB)', () => {
  const v = recordFileSpec({ encoding: 'cp037', delimiter: 'rdw', fields: ORDER }, 'v.yaml', process.cwd());
  const vb = recordFileSpec({ encoding: 'cp037', delimiter: 'rdw', blocked: true, fields: ORDER }, 'vb.yaml', process.cwd());

  it('write each record after a big-endian record descriptor word of its own length', () => {
    const { bytes } = encodeRecordFile(v, orders(2));
    // O000, count 0: 6 bytes + RDW; O001, count 1: 8 bytes + RDW
    expect(bytes.subarray(0, 4)).toEqual(hex('000a 0000'));
    expect(bytes.subarray(10, 14)).toEqual(hex('000c 0000'));
    expect(bytes.length).toBe(10 + 12);
  });

  it('read back what they wrote, in blocks or not, whatever the chunks', async () => {
    for (const spec of [v, vb]) {
      const { bytes } = encodeRecordFile(spec, orders(300));
      for (const size of [1, 7, 4096]) {
        const { rows, summary } = await decodeRecordFile(chunks(bytes, size), spec);
        expect(summary.problems).toEqual([]);
        expect(rows.map((r) => r.value)).toEqual(orders(300).map((o) => o.value));
      }
    }
  });

  it('put records in blocks no longer than the block size, each after its block descriptor word', () => {
    const w = new RecordFileWriter(vb, 100);
    const parts = orders(40).map((o) => w.record('record', o.value));
    parts.push(w.end());
    const bytes = Buffer.concat(parts);
    let pos = 0;
    let blocks = 0;
    while (pos < bytes.length) {
      const len = bytes.readUInt16BE(pos);
      expect(len).toBeLessThanOrEqual(100);
      expect(bytes.readUInt16BE(pos + 2)).toBe(0);
      pos += len;
      blocks++;
    }
    expect(pos).toBe(bytes.length);
    expect(blocks).toBeGreaterThan(5);
  });

  it('report a bad record with its number, byte offset and field, and a broken descriptor word where it is', async () => {
    const { bytes } = encodeRecordFile(v, orders(3));
    const bad = Buffer.from(bytes);
    // record 3 (O002, two lines): its first line's packed sign nibble made invalid
    const third = 10 + 12 + 4; // its first data byte
    bad[third + 6 + 1] = 0x27;
    const { rows, summary } = await decodeRecordFile([bad], v);
    expect(rows.map((r) => r.recordNo)).toEqual([1, 2]);
    expect(summary.problems).toEqual([{ recordNo: 3, offset: third + 7, recordType: 'record', field: 'lines[0].qty', reason: 'invalid packed-decimal sign nibble 7 in byte 0x27' }]);
    const broken = Buffer.concat([bytes.subarray(0, 10), hex('0002 0000'), bytes.subarray(10)]);
    const r2 = await decodeRecordFile([broken], v);
    expect(r2.rows).toHaveLength(1);
    expect(r2.summary.problems[0]).toMatchObject({ recordNo: 2, offset: 10, reason: expect.stringMatching(/^bad record descriptor word 00020000 \(record length 2\)/) });
    const cut = await decodeRecordFile([bytes.subarray(0, bytes.length - 3)], v);
    expect(cut.summary.problems.at(-1)).toMatchObject({ recordNo: 3, reason: expect.stringMatching(/the file ends inside a record/) });
  });

  it('refuse a record whose descriptor word disagrees with its table count', async () => {
    const body = Buffer.concat([Buffer.from([0xd6, 0xf0, 0xf0, 0xf1, 0xf0, 0xf2]), hex('001c 002c')]); // count 2, two lines
    const rdw = (n: number) => hex(`${n.toString(16).padStart(4, '0')}0000`);
    const file = Buffer.concat([rdw(body.length + 4 - 2), body.subarray(0, body.length - 2)]);
    const { summary } = await decodeRecordFile([file], v);
    expect(summary.problems[0].reason).toMatch(/record of the wrong length: 8 bytes; record is 10 bytes/);
  });

  it('stream a large file in batches without holding it', async () => {
    const { bytes } = encodeRecordFile(vb, orders(2000));
    let n = 0;
    for await (const batch of decodeRecordStream(chunks(bytes, 65536), vb)) {
      expect(batch.rows.length).toBeLessThanOrEqual(512);
      n += batch.rows.length;
    }
    expect(n).toBe(2000);
  });
});

describe('what a COBOL program really writes', () => {
  it('converts IBM hexadecimal floating point exactly', () => {
    // 1.0 in IBM hex float: 0x41 100000; -118.625: 0xC2 76A000 (the classic example)
    const buf = Buffer.alloc(12);
    writeIbmFloat(buf, 0, -118.625, 4);
    expect(buf.subarray(0, 4)).toEqual(hex('c276a000'));
    writeIbmFloat(buf, 4, 1, 8);
    expect(buf.subarray(4, 12)).toEqual(hex('4110000000000000'));
    expect(readIbmFloat(hex('c276a000'), 0, 4)).toBe(-118.625);
    expect(readIbmFloat(hex('4110000000000000'), 0, 8)).toBe(1);
  });

  it('reads COMP-1/COMP-2 from a copybook, in IBM or IEEE form, little-endian binary, and ASCII zoned signs', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'ficus-data-'));
    writeFileSync(join(dir, 'm.cpy'), '       01  M.\n           05  RATE  COMP-1.\n           05  BIG   COMP-2.\n           05  QTY   PIC S9(4) COMP-5.\n           05  AMT   PIC S9(3).\n');
    const value = { rate: 0.1, big: -1234.5678, qty: -2, amt: -123 };
    const ibm = recordFileSpec({ encoding: 'cp037', copybook: 'm.cpy' }, 'm.yaml', dir);
    const ibmBytes = ibm.types[0].codec.encode(value).bytes;
    expect(ibmBytes.subarray(12, 14)).toEqual(hex('fffe'));
    expect(ibmBytes.subarray(14)).toEqual(hex('f1f2d3'));
    expect(ibm.types[0].codec.decode(ibmBytes)).toEqual(value);
    const gnu = recordFileSpec({ encoding: 'ascii', copybook: 'm.cpy', float: 'ieee', byteOrder: 'little', zonedSign: 'ascii' }, 'm.yaml', dir);
    const gnuBytes = gnu.types[0].codec.encode(value).bytes;
    expect(gnuBytes.subarray(0, 4)).toEqual(hex('cdcccc3d')); // IEEE single 0.1, little-endian
    expect(gnuBytes.subarray(12, 14)).toEqual(hex('feff'));
    expect(gnuBytes.subarray(14)).toEqual(Buffer.from('12s', 'latin1')); // 0x73: a negative 3
    expect(gnu.types[0].codec.decode(gnuBytes)).toEqual(value);
    // IBM overpunch letters are read on an ASCII page as well
    expect(gnu.types[0].codec.decode(Buffer.concat([gnuBytes.subarray(0, 14), Buffer.from('12L')])).amt).toBe(-123);
  });

  it('writes and reads PIC N as UTF-16', () => {
    const spec = recordFileSpec({ encoding: 'cp037', fields: [{ name: 'n', pic: 'N(4)' }] }, 'n.yaml', process.cwd());
    const { bytes } = spec.types[0].codec.encode({ n: 'Zoë' });
    expect(bytes).toEqual(hex('005a 006f 00eb 0020'));
    expect(spec.types[0].codec.decode(bytes)).toEqual({ n: 'Zoë' });
  });

  it('refuses a newline inside a field of a delimited file, naming the field', () => {
    const spec = recordFileSpec(
      {
        encoding: 'latin1',
        delimiter: 'lf',
        fields: [
          { name: 'id', pic: '9(2)' },
          { name: 'note', pic: 'X(10)' },
          { name: 'qty', pic: '9(4)', usage: 'comp' },
        ],
      },
      'lf.yaml',
      process.cwd(),
    );
    const w = new RecordFileWriter(spec);
    expect(w.record('record', { id: 1, note: 'ok', qty: 1 }).toString('latin1')).toBe('01ok        \u0000\u0001\n');
    expect(() => w.record('record', { id: 2, note: 'two\nlines', qty: 1 })).toThrow(FieldError);
    expect(() => w.record('record', { id: 2, note: 'two\nlines', qty: 1 })).toThrow(/field note at byte 5: record 3 \(record\): byte 5 is a newline/);
    expect(() => w.record('record', { id: 3, note: 'x', qty: 10 })).toThrow(/field qty at byte 13: .* byte 13 is a newline/);
  });
});

describe('Micro Focus COMP-6 and floating point in YAML layouts', () => {
  it('reads and writes unsigned packed decimal without a sign nibble, and COMP-1 without a picture', () => {
    const spec = recordFileSpec(
      {
        encoding: 'cp037',
        fields: [
          { name: 'odd', pic: '9(5)', usage: 'comp-6' },
          { name: 'even', pic: '9(4)V99', usage: 'comp-6' },
          { name: 'rate', usage: 'comp-1' },
        ],
      },
      'c6.yaml',
      process.cwd(),
    );
    const codec = spec.types[0].codec;
    const { bytes } = codec.encode({ odd: 12345, even: 1234.56, rate: 0.5 });
    expect(bytes).toEqual(hex('012345 123456 40800000'));
    expect(codec.decode(bytes)).toEqual({ odd: 12345, even: 1234.56, rate: 0.5 });
    expect(() => codec.encode({ odd: -1, even: 0, rate: 0 })).toThrow(/field odd at byte 0: negative value in an unsigned field/);
    expect(() => codec.decode(hex('01234f 000000 00000000'))).toThrow(/field odd at byte 2: invalid COMP-6 digit in byte 0x4F/);
  });
});
