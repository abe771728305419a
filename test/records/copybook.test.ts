import { describe, expect, it } from 'vitest';
import { CopybookError, parseCopybook } from '../../src/records/copybook.ts';
import type { GroupItem, Item } from '../../src/records/layout.ts';
import { compileRecord } from '../../src/records/record-codec.ts';

// Fixed format, as it comes off the mainframe: sequence numbers in columns 1-6, comments with * in 7.
const CUSTOMER = `
000100*  CUSTOMER MASTER RECORD - CUSTMAST                               CUST0001
000200 01  CUSTOMER-RECORD.                                              CUST0001
000300     05  CUST-ID                 PIC 9(8).                         CUST0001
000400     05  CUST-NAME.                                                CUST0001
000500         10  CUST-LAST-NAME      PIC X(20).                        CUST0001
000600         10  CUST-FIRST-NAME     PIC X(15).                        CUST0001
000700     05  CUST-TYPE               PIC X.                            CUST0001
000800         88  CUST-PERSON         VALUE 'P'.                        CUST0001
000900         88  CUST-COMPANY        VALUE 'C' 'K'.                    CUST0001
001000     05  CUST-BALANCE            PIC S9(9)V99 COMP-3.              CUST0001
001100     05  CUST-CREDIT-LIMIT       PIC S9(7)V99 USAGE IS COMP-3.     CUST0001
001200     05  CUST-BRANCH             PIC 9(4) COMP.                    CUST0001
001300     05  CUST-PHONE-COUNT        PIC 9.                            CUST0001
001400     05  CUST-ADDRESS-AREA       PIC X(30).                        CUST0001
001500     05  CUST-PO-BOX REDEFINES CUST-ADDRESS-AREA.                  CUST0001
001600         10  CUST-PO-BOX-NO      PIC 9(6).                         CUST0001
001700         10  FILLER              PIC X(24).                        CUST0001
001800     05  CUST-MONTHLY-SALES      PIC S9(7) COMP-3 OCCURS 12 TIMES. CUST0001
001900     05  FILLER                  PIC X(5).                         CUST0001
002000     05  CUST-PHONES OCCURS 0 TO 3 TIMES                           CUST0001
002100                     DEPENDING ON CUST-PHONE-COUNT.                CUST0001
002200         10  CUST-PHONE-TYPE     PIC X.                            CUST0001
002300         10  CUST-PHONE-NUMBER   PIC X(15).                        CUST0001
`;

function find(items: Item[], name: string): Item | undefined {
  for (const i of items) {
    if (i.label === name) return i;
    if (i.kind === 'group') {
      const hit = find(i.children, name);
      if (hit) return hit;
    }
  }
  return undefined;
}

describe('COBOL copybooks', () => {
  const [layout] = parseCopybook(CUSTOMER, 'custmast.cpy');

  it('lay out levels, groups, usages, REDEFINES, OCCURS and FILLER at the right offsets', () => {
    expect(layout.name).toBe('customerRecord');
    const at = (n: string) => [find(layout.items, n)!.offset, find(layout.items, n)!.size];
    expect(at('CUST-ID')).toEqual([0, 8]);
    expect(at('CUST-NAME')).toEqual([8, 35]);
    expect(at('CUST-FIRST-NAME')).toEqual([20, 15]); // within the group
    expect(at('CUST-TYPE')).toEqual([43, 1]);
    expect(at('CUST-BALANCE')).toEqual([44, 6]); // 11 digits packed: 6 bytes
    expect(at('CUST-CREDIT-LIMIT')).toEqual([50, 5]);
    expect(at('CUST-BRANCH')).toEqual([55, 2]); // 4 digits binary: a halfword
    expect(at('CUST-ADDRESS-AREA')).toEqual([58, 30]);
    expect(at('CUST-PO-BOX')).toEqual([58, 30]); // redefines share the bytes
    expect(at('CUST-MONTHLY-SALES')).toEqual([88, 4]);
    expect(at('CUST-PHONES')).toEqual([141, 16]);
    expect(layout.length).toBe(141 + 3 * 16);
    expect(layout.minLength).toBe(141);
    expect((find(layout.items, 'CUST-TYPE') as { conditions?: unknown }).conditions).toEqual([
      { name: 'cust-person', values: ['P'] },
      { name: 'cust-company', values: ['C', 'K'] },
    ]);
  });

  it('decode to named JSON fields (88 levels as enum names, OCCURS as arrays) and encode back to the same bytes', () => {
    const codec = compileRecord(layout, 'cp037');
    const value = {
      custId: 12345678,
      custName: { custLastName: 'MÜLLER', custFirstName: 'ANNA' },
      custType: 'cust-company',
      custBalance: -1234567.89,
      custCreditLimit: 50000,
      custBranch: 42,
      custAddressArea: 'HAUPTSTRASSE 1',
      custMonthlySales: [1, -2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1234567],
      custPhones: [{ custPhoneType: 'M', custPhoneNumber: '+49 170 1234567' }],
    };
    const { bytes, used } = codec.encode(value);
    expect(used).toBe(141 + 16);
    const decoded = codec.decode(bytes);
    expect(decoded).toEqual({ ...value, custPhoneCount: 1 });
    expect(codec.encode(decoded).bytes.equals(bytes)).toBe(true);
    expect(codec.lengthAt(bytes, 0)).toBe(157);
  });

  it('read a raw value that matches no level-88 condition as it is', () => {
    const codec = compileRecord(layout, 'cp037');
    const bytes = codec.encode({ custType: 'X', custPhones: [] }).bytes;
    expect(codec.decode(bytes).custType).toBe('X');
  });

  it('decode a REDEFINES view when its condition holds', () => {
    const [l] = parseCopybook(
      `       01  PAYMENT.
           05  PAY-KIND          PIC X.
           05  PAY-CARD          PIC X(16).
           05  PAY-IBAN REDEFINES PAY-CARD.
               10  PAY-COUNTRY   PIC XX.
               10  PAY-CHECK     PIC 99.
               10  PAY-BBAN      PIC X(12).`,
      'pay.cpy',
    );
    (l.items.find((i) => i.label === 'PAY-IBAN') as GroupItem).when = { field: 'payKind', equals: ['I'] };
    const codec = compileRecord(l, 'cp500');
    const iban = codec.encode({ payKind: 'I', payIban: { payCountry: 'DE', payCheck: 89, payBban: '370400440532' } });
    expect(codec.decode(iban.bytes)).toEqual({ payKind: 'I', payIban: { payCountry: 'DE', payCheck: 89, payBban: '370400440532' } });
    const card = codec.encode({ payKind: 'C', payCard: '4111111111111111' });
    expect(codec.decode(card.bytes)).toEqual({ payKind: 'C', payCard: '4111111111111111' });
  });

  it('report mistakes with the file and line', () => {
    expect(() => parseCopybook('       01 R.\n           05 A PIC X(3) OCCURS 2 TO 5.\n', 'bad.cpy')).toThrow(new CopybookError('bad.cpy', 2, 'A: OCCURS 2 TO 5 needs DEPENDING ON'));
    expect(() => parseCopybook('       01 R.\n           05 A PIC Q(3).\n', 'bad.cpy')).toThrow(/bad\.cpy:2: A: PICTURE Q\(3\) has characters COBOL does not allow/);
    expect(() => parseCopybook('       01 R.\n           05 A PIC X.\n           05 B REDEFINES NOPE PIC X.\n', 'bad.cpy')).toThrow(/B REDEFINES NOPE, which is not an earlier item/);
    expect(() => parseCopybook('       01 R.\n           05 T OCCURS 1 TO 3 DEPENDING ON NOPE PIC X.\n', 'bad.cpy')).toThrow(/bad\.cpy:1: T OCCURS DEPENDING ON NOPE: no such field/);
    expect(() => parseCopybook('       01 R.\n           05 A PIC X.\n           COPY MISSING.\n', 'bad.cpy', 'record', { copyDirs: ['/nonexistent'] })).toThrow(
      /bad\.cpy:3: COPY MISSING: no such copybook in \/nonexistent/,
    );
  });

  it('read free-format copybooks and several 01 records', () => {
    const layouts = parseCopybook('01 HDR.\n  05 H-TYPE PIC X. *> the record type\n  05 H-DATE PIC 9(8).\n01 DTL.\n  05 D-TYPE PIC X.\n  05 D-AMT PIC S9(5)V99 PACKED-DECIMAL.\n', 'free.cpy');
    expect(layouts.map((l) => [l.name, l.length])).toEqual([
      ['hdr', 9],
      ['dtl', 5],
    ]);
  });
});
