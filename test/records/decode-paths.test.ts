import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codePage } from '../../src/records/code-pages.ts';
import { recordFileSpec } from '../../src/records/layout-file.ts';
import { decodeRecordFile } from '../../src/records/record-file.ts';

// The record decoder reads text fields of 4+ characters into one run per record, one-byte fields
// from a table, and streams of plain detail records the short way: these pin what they must keep.

function spec(encoding: string, fields: unknown[], extra: Record<string, unknown> = {}) {
  return recordFileSpec({ encoding, fields, ...extra }, 'inline.yaml', process.cwd());
}

/** Bytes of `text` in the page (every character must be in it). */
function enc(encoding: string, text: string): Buffer {
  const page = codePage(encoding);
  return Buffer.from(Array.from(text, (c) => page.encode[c.charCodeAt(0)]));
}

const FIELDS = [
  { name: 'code', pic: 'X' },
  { name: 'amount', pic: 'S9(3)V99', usage: 'comp-3' },
  { name: 'name', pic: 'X(8)' },
  { name: 'city', pic: 'X(6)', justify: 'right' },
  { name: 'flag', pic: 'S9' },
  { name: 'state', pic: 'X', values: { open: 'O', shut: ['S', 'X'] } },
  { name: 'note', pic: 'X(14)' },
];
// code(1) amount(3) name(8) city(6) flag(1) state(1) note(14) = 34 bytes

function record(encoding: string, parts: { code: string; amount: number[]; name: string; city: string; flag: number[]; state: string; note: string }): Buffer {
  return Buffer.concat([
    enc(encoding, parts.code),
    Buffer.from(parts.amount),
    enc(encoding, parts.name),
    enc(encoding, parts.city),
    Buffer.from(parts.flag),
    enc(encoding, parts.state),
    enc(encoding, parts.note),
  ]);
}

describe('record decoding paths', () => {
  for (const encoding of ['cp037', 'cp1140', 'cp1252', 'latin1']) {
    it(`decodes text runs, right-justified text, one-byte fields and blanks (${encoding})`, () => {
      const codec = spec(encoding, FIELDS).types[0].codec;
      const zoned = encoding.startsWith('cp0') || encoding === 'cp1140' ? 0xd7 : enc(encoding, 'P')[0]; // -7 overpunched
      const bytes = record(encoding, { code: 'A', amount: [0x01, 0x23, 0x4d], name: 'ANN B   ', city: '  LYON', flag: [zoned], state: 'X', note: 'NOTE (14)  ok ' });
      const at = 3;
      const buf = Buffer.concat([Buffer.alloc(at), bytes]);
      expect(codec.decode(buf, at)).toEqual({ code: 'A', amount: -12.34, name: 'ANN B', city: 'LYON', flag: -7, state: 'shut', note: 'NOTE (14)  ok' });
      const plusZero = zoned === 0xd7 ? 0xc0 : enc(encoding, '{')[0]; // +0 overpunched, the preferred sign
      const blank = record(encoding, { code: ' ', amount: [0x00, 0x00, 0x0c], name: ' '.repeat(8), city: ' '.repeat(6), flag: [plusZero], state: 'O', note: ' '.repeat(14) });
      expect(codec.decode(blank)).toEqual({ code: '', amount: 0, name: '', city: '', flag: 0, state: 'open', note: '' });
      expect(codec.encode(codec.decode(blank)).bytes.equals(blank)).toBe(true);
    });
  }

  it('decodes the characters of a page outside latin1 (cp1140: €)', () => {
    const codec = spec('cp1140', [
      { name: 'price', pic: 'X(6)' },
      { name: 'note', pic: 'X(5)', justify: 'right' },
    ]).types[0].codec;
    const bytes = Buffer.concat([enc('cp1140', '12 €  '), enc('cp1140', '  €[]')]);
    expect(codec.decode(bytes)).toEqual({ price: '12 €', note: '€[]' });
  });

  it('reports the first bad field in field order, with its byte offset', () => {
    const codec = spec('cp1252', FIELDS).types[0].codec;
    const good = record('cp1252', { code: 'A', amount: [0x01, 0x23, 0x4c], name: 'ANN     ', city: '  LYON', flag: [0x35], state: 'O', note: 'x'.repeat(14) });
    const badText = Buffer.from(good);
    badText[6] = 0x81; // in name: not a character of cp1252
    expect(() => codec.decode(badText)).toThrow('field name at byte 6: byte 0x81 is not a character of code page cp1252');
    const both = Buffer.from(badText);
    both[2] = 0x2a; // amount's second byte: invalid packed digit, before name
    expect(() => codec.decode(both)).toThrow('field amount at byte 2: invalid packed-decimal digit in byte 0x2A');
    const badFlag = Buffer.from(good);
    badFlag[18] = 0x21; // flag: not a zoned digit
    badFlag[25] = 0x81; // and a bad byte in note, after it
    expect(() => codec.decode(badFlag)).toThrow('field flag at byte 18: invalid zoned digit or sign in byte 0x21');
    const badState = Buffer.from(good);
    badState[19] = 0x81;
    expect(() => codec.decode(badState)).toThrow('field state at byte 19: byte 0x81 is not a character of code page cp1252');
  });

  it('reports a byte above 0x7F in ascii text', () => {
    const codec = spec('ascii', [
      { name: 'id', pic: '9(2)' },
      { name: 'name', pic: 'X(5)' },
    ]).types[0].codec;
    expect(codec.decode(Buffer.from('07Bob  ', 'latin1'))).toEqual({ id: 7, name: 'Bob' });
    expect(() => codec.decode(Buffer.from('07B\xe9b  ', 'latin1'))).toThrow('field name at byte 3: byte 0xE9 is not a character of code page ascii');
  });

  it('decodes binary values wider than their PICTURE by default, and cuts or refuses them when the layout says so', () => {
    const fields = [
      { name: 'small', pic: 'S9(4)', usage: 'comp' },
      { name: 'big', pic: '9(9)', usage: 'comp' },
    ];
    const buf = Buffer.alloc(6);
    buf.writeInt16BE(32767, 0); // TRUNC(BIN) and COMP-5 data: the whole halfword is used
    buf.writeUInt32BE(4_000_000_000, 2);
    expect(spec('cp037', fields).types[0].codec.decode(buf)).toEqual({ small: 32767, big: 4_000_000_000 });
    expect(spec('cp037', fields, { binary: 'truncate' }).types[0].codec.decode(buf)).toEqual({ small: 2767, big: 0 });
    expect(() => spec('cp037', fields, { binary: 'refuse' }).types[0].codec.decode(buf)).toThrow('field small at byte 0: binary value 32767 has more digits than PIC S9(4)');
    // and written back as they were read
    expect(spec('cp037', fields).types[0].codec.encode({ small: 32767, big: 4_000_000_000 }).bytes).toEqual(buf);
  });

  it('checks binary fields against their digits when asked to', () => {
    const codec = spec(
      'cp037',
      [
        { name: 'small', pic: 'S9(3)', usage: 'comp' },
        { name: 'mid', pic: '9(6)', usage: 'comp' },
        { name: 'free', pic: '9(4)', usage: 'comp-5' },
      ],
      { binary: 'refuse' },
    ).types[0].codec;
    const buf = Buffer.alloc(8);
    buf.writeInt16BE(-999, 0);
    buf.writeUInt32BE(999_999, 2);
    buf.writeUInt16BE(65_535, 6);
    expect(codec.decode(buf)).toEqual({ small: -999, mid: 999_999, free: 65_535 });
    buf.writeInt16BE(-1000, 0);
    expect(() => codec.decode(buf)).toThrow('field small at byte 0: binary value -1000 has more digits than PIC S9(3)');
    buf.writeInt16BE(5, 0);
    buf.writeUInt32BE(1_000_000, 2);
    expect(() => codec.decode(buf)).toThrow('field mid at byte 2: binary value 1000000 has more digits than PIC 9(6)');
  });

  it('streams fixed-length records with a bad one in the middle, whatever the chunks', async () => {
    const s = spec('cp037', [
      { name: 'id', pic: '9(3)' },
      { name: 'name', pic: 'X(6)' },
      { name: 'qty', pic: 'S9(3)', usage: 'comp-3' },
    ]);
    const rec = (id: string, name: string, qty: number[]) => Buffer.concat([enc('cp037', id), enc('cp037', name.padEnd(6)), Buffer.from(qty)]);
    const bytes = Buffer.concat([rec('001', 'ANN', [0x01, 0x2c]), rec('002', 'BOB', [0x01, 0x29]), rec('003', 'CY', [0x00, 0x3d]), rec('004', 'DI', [0x00, 0x0c]).subarray(0, 5)]);
    const whole = await decodeRecordFile([bytes], s);
    expect(whole.rows.map((r) => [r.recordNo, r.offset, r.value])).toEqual([
      [1, 0, { id: 1, name: 'ANN', qty: 12 }],
      [3, 22, { id: 3, name: 'CY', qty: -3 }],
    ]);
    expect(whole.summary).toMatchObject({ records: 4, good: 2, bad: 2, bytes: 38 });
    expect(whole.summary.problems).toEqual([
      { recordNo: 2, offset: 21, recordType: 'record', field: 'qty', reason: 'invalid packed-decimal sign nibble 9 in byte 0x29' },
      { recordNo: 4, offset: 33, reason: 'the file ends with a partial record of 5 bytes (records are 11 bytes)' },
    ]);
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 8 }), async (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        const split = await decodeRecordFile(
          points.slice(1).map((end, i) => bytes.subarray(points[i], end)),
          s,
        );
        expect(split.rows).toEqual(whole.rows);
        expect(split.summary).toEqual(whole.summary);
      }),
      { numRuns: 100 },
    );
  });

  it('streams CRLF records split anywhere, even between CR and LF', async () => {
    const s = spec(
      'cp1252',
      [
        { name: 'id', pic: '9(2)' },
        { name: 'name', pic: 'X(4)' },
      ],
      { delimiter: 'crlf' },
    );
    const bytes = Buffer.from('01Ann \r\n02Bo  \r\n0x    \r\n04Di  \r\n05', 'latin1');
    const whole = await decodeRecordFile([bytes], s);
    expect(whole.rows.map((r) => [r.recordNo, r.offset, r.value])).toEqual([
      [1, 0, { id: 1, name: 'Ann' }],
      [2, 8, { id: 2, name: 'Bo' }],
      [4, 24, { id: 4, name: 'Di' }],
    ]);
    expect(whole.summary.problems).toEqual([
      { recordNo: 3, offset: 17, recordType: 'record', field: 'id', reason: 'invalid zoned digit in byte 0x78' },
      { recordNo: 5, offset: 32, recordType: 'record', reason: 'record of the wrong length: 2 bytes; record is 6 bytes' },
    ]);
    for (let cut = 1; cut < bytes.length; cut++) {
      for (const second of [cut + 1, cut + 3, bytes.length]) {
        const chunks = [bytes.subarray(0, cut), bytes.subarray(cut, Math.min(second, bytes.length)), bytes.subarray(Math.min(second, bytes.length))];
        const split = await decodeRecordFile(chunks, s);
        expect(split.rows, `cut at ${cut}, ${second}`).toEqual(whole.rows);
        expect(split.summary, `cut at ${cut}, ${second}`).toEqual(whole.summary);
      }
    }
  });
});
