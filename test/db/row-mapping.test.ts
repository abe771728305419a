/**
 * The declarative mapping and the legacy conversions: CHAR padding, YYYYMMDD / CYYMMDD dates,
 * HHMMSS times, Y/N and 1/0 flags, implied decimals, code tables, nesting and nulls; a value that
 * cannot be converted is reported with its field and column.
 */
import { describe, expect, it } from 'vitest';
import { compileMapping, MappingConfigError, RowMappingError } from '../../src/kinds/db/row-mapping.ts';
import { fromCyymmdd, fromFlag, fromYyyymmdd, toCyymmdd, toHhmmss, toYyyymmdd } from '../../src/kinds/db/legacy-values.ts';
import { PageCursors } from '../../src/kinds/db/page-cursor.ts';
import { sampleCustomers } from '../../sample/data/customers.ts';
import { toLegacyRow } from '../../sample/legacy-crm/legacy-rows.ts';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';

describe('legacy values', () => {
  it('reads integer dates in both legacy forms', () => {
    expect(fromYyyymmdd(20240502)).toBe('2024-05-02');
    expect(fromYyyymmdd('20240229')).toBe('2024-02-29');
    expect(fromCyymmdd(980314)).toBe('1998-03-14');
    expect(fromCyymmdd('0980314')).toBe('1998-03-14');
    expect(fromCyymmdd(1240502)).toBe('2024-05-02');
    expect(() => fromYyyymmdd(20230229)).toThrow(/not a valid YYYYMMDD date/);
    expect(() => fromCyymmdd(1241399)).toThrow(/not a valid CYYMMDD date/);
  });

  it('checks every day of the calendar as Date does (leap years, month ends, years below 1000)', () => {
    // The reference: the check through Date that the conversions used to make on every row.
    const viaDate = (y: number, m: number, d: number) => {
      const date = new Date(Date.UTC(y, m - 1, d));
      const ok = m >= 1 && m <= 12 && d >= 1 && date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
      return ok ? `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}` : 'invalid';
    };
    const outcome = (f: () => string) => {
      try {
        return f();
      } catch {
        return 'invalid';
      }
    };
    for (const y of [1, 99, 100, 999, 1000, 1899, 1900, 1996, 2000, 2023, 2024, 2100, 2400, 2899, 9999]) {
      for (let m = 0; m <= 13; m++) {
        for (let d = 0; d <= 32; d++) {
          expect(outcome(() => fromYyyymmdd(y * 10000 + m * 100 + d))).toBe(viaDate(y, m, d));
          if (y >= 1900 && y <= 2899) expect(outcome(() => fromCyymmdd(Math.floor((y - 1900) / 100) * 1000000 + (y % 100) * 10000 + m * 100 + d))).toBe(viaDate(y, m, d));
        }
      }
    }
  });

  it('writes request dates and times in the legacy forms (UTC)', () => {
    expect(toYyyymmdd('2024-06-01T01:30:00+02:00')).toBe(20240531);
    expect(toHhmmss('2024-06-01T01:30:09.900+02:00')).toBe(233009);
    expect(toCyymmdd('1998-03-14')).toBe(980314);
    expect(toCyymmdd('2024-05-02')).toBe(1240502);
  });

  it('reads flags in their legacy spellings', () => {
    for (const t of ['Y', 'y ', '1', 1, 'T', true]) expect(fromFlag(t)).toBe(true);
    for (const f of ['N', ' n', '0', 0, 'F', false]) expect(fromFlag(f)).toBe(false);
    expect(() => fromFlag('X')).toThrow(/not a flag/);
  });
});

describe('row mapping', () => {
  const customerMap = parse(readFileSync(new URL('../../adapters/crm-db/mapping/customer.yaml', import.meta.url), 'utf8'));
  const mapper = compileMapping(customerMap);
  const STATUS_DESC: Record<string, string> = { 'A ': 'ACTIVE              ', 'S ': 'SUSPENDED           ', 'C ': 'CLOSED              ' };

  it("turns every sample customer's legacy row back into exactly the modern JSON", () => {
    for (const c of sampleCustomers(500)) {
      const row = toLegacyRow(c) as Record<string, unknown>;
      const { STAT_CD, ...rest } = row;
      expect(mapper.map({ ...rest, STAT_DESC: STATUS_DESC[String(STAT_CD)] })).toEqual(c);
    }
  });

  it('matches columns without regard to case (PostgreSQL folds names to lower case)', () => {
    const c = sampleCustomers(1)[0];
    const row = toLegacyRow(c) as Record<string, unknown>;
    const lower = Object.fromEntries(Object.entries({ ...row, STAT_DESC: STATUS_DESC[String(row.STAT_CD)] }).map(([k, v]) => [k.toLowerCase(), v]));
    expect(compileMapping(customerMap).map(lower)).toEqual(c);
  });

  it('handles nulls, defaults, 1/0 flags, zero dates and constants', () => {
    const m = compileMapping({
      a: { column: 'A', as: 'flag' },
      b: { column: 'B', as: 'yyyymmdd', zeroAsNull: true },
      c: { column: 'C', default: 'none' },
      d: { const: 'fixed' },
      nested: { deeper: { e: { column: 'E', as: 'number' } } },
    });
    expect(m.map({ A: 1, B: 0, C: null, E: ' 12.5 ' })).toEqual({ a: true, b: null, c: 'none', d: 'fixed', nested: { deeper: { e: 12.5 } } });
    expect(m.map({ A: 0, B: 20200131, C: ' x ', E: 3 })).toEqual({ a: false, b: '2020-01-31', c: 'x', d: 'fixed', nested: { deeper: { e: 3 } } });
  });

  it('reports a value it cannot convert with the field and the column', () => {
    const m = compileMapping({ status: { column: 'STAT', as: 'enum', values: { A: 'active' } }, on: { column: 'DT', as: 'cyymmdd' } });
    expect(() => m.map({ STAT: 'Z ', DT: 1240101 })).toThrow(RowMappingError);
    expect(() => m.map({ STAT: 'Z ', DT: 1240101 })).toThrow(/column STAT: code "Z" is not one of A/);
    expect(() => m.map({ STAT: 'A', DT: 1241301 })).toThrow(/column DT: .*not a valid CYYMMDD date/);
    // The columns are resolved on a statement's first row (every row of a statement has the same ones).
    const fresh = compileMapping({ status: { column: 'STAT', as: 'enum', values: { A: 'active' } }, on: { column: 'DT', as: 'cyymmdd' } });
    expect(() => fresh.map({ STAT: 'A' })).toThrow(/the query's rows have no column DT \(they have: STAT\)/);
  });

  it('gives a contract field named __proto__ as an own property, as JSON.parse does, not as the prototype', () => {
    // The mapping as the YAML/JSON loaders give it: `__proto__` an ordinary key.
    const m = compileMapping(JSON.parse('{"id": {"column": "ID", "as": "integer"}, "__proto__": {"city": "CITY"}}'));
    const out = m.map({ ID: '7', CITY: 'Lyon  ' });
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['id', '__proto__']);
    expect(JSON.stringify(out)).toBe('{"id":7,"__proto__":{"city":"Lyon"}}');
  });

  it('refuses a mapping that cannot work, naming the key', () => {
    const attempt = (spec: unknown) => {
      try {
        compileMapping(spec);
      } catch (err) {
        return err instanceof MappingConfigError ? err.key : 'other';
      }
      return 'none';
    };
    expect(attempt({ a: { column: 'A', as: 'decimal' } })).toBe('a.scale');
    expect(attempt({ a: { b: { column: 'A', as: 'nope' } } })).toBe('a.b.as');
    expect(attempt({ a: { column: 'A', colour: 'red' } })).toBe('a');
    expect(attempt({ a: { as: 'integer' } })).toBe('a');
  });
});

describe('page cursors', () => {
  const cursors = new PageCursors('a-key-for-the-tests-0123', 'crm-db/listCustomers');

  it('round-trips a keyset position and an offset', () => {
    expect(cursors.decode(cursors.encode({ after: [20240101, 91500, 1001] }), 3)).toEqual({ after: [20240101, 91500, 1001] });
    expect(cursors.decode(cursors.encode({ offset: 40 }), 3)).toEqual({ offset: 40 });
  });

  it('refuses a cursor altered, signed with another key or issued for another operation', () => {
    const c = cursors.encode({ after: [20240101, 91500, 1001] });
    const [payload, mac] = c.split('.');
    const altered = Buffer.from(JSON.stringify({ a: [20240101, 91500, 1] })).toString('base64url');
    expect(() => cursors.decode(`${altered}.${mac}`, 3)).toThrow(/altered/);
    expect(() => new PageCursors('another-key-for-the-tests', 'crm-db/listCustomers').decode(c, 3)).toThrow(/altered/);
    expect(() => new PageCursors('a-key-for-the-tests-0123', 'crm-db/other').decode(c, 3)).toThrow(/another operation/);
    expect(() => cursors.decode(payload, 3)).toThrow(/not one this gateway issued/);
    expect(() => cursors.decode(c, 2)).toThrow(/does not fit/);
  });
});
