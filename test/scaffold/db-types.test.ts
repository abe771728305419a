/**
 * The db scaffold's guesses from declared types and sampled values, one evidence at a time: what a
 * column becomes in the schema and the row mapping, and that the reason given says why.
 */
import { describe, expect, it } from 'vitest';
import type { ColumnInfo } from '../../src/scaffold/db-introspect.ts';
import { parseDeclaredType } from '../../src/scaffold/db-introspect.ts';
import { guessColumn, guessEnum, maybeCode } from '../../src/scaffold/db-types.ts';

const col = (name: string, type: string, extra: Partial<ColumnInfo> = {}): ColumnInfo => ({ name, type, nullable: false, ...extra });
const guess = (c: ColumnInfo, values: unknown[], isKey = false) => guessColumn({ column: c, values, isKey });

describe('db scaffold guesses', () => {
  it('reads declared types of every engine', () => {
    expect(parseDeclaredType('CHAR(40)')).toEqual({ type: 'char', size: 40, scale: undefined });
    expect(parseDeclaredType('NUMERIC(9, 2)')).toEqual({ type: 'numeric', size: 9, scale: 2 });
    expect(parseDeclaredType('character varying')).toEqual({ type: 'character varying', size: undefined, scale: undefined });
  });

  it('recognises YYYYMMDD integers from the data alone, 0 as no date', () => {
    const g = guess(col('SHIP_X', 'integer'), [20240131, 0, 19991231]);
    expect(g).toMatchObject({ conversion: 'yyyymmdd', zeroAsNull: true, nullable: true, schema: { type: ['string', 'null'], format: 'date' } });
    expect(g.why).toContain('YYYYMMDD');
    // One value that is no date, and it is a number.
    expect(guess(col('SHIP_X', 'integer'), [20240131, 20241331]).conversion).toBe('integer');
  });

  it('takes CYYMMDD and HHMMSS only where the name says date or time', () => {
    expect(guess(col('OPN_DT', 'integer'), [980314, 1240502]).conversion).toBe('cyymmdd');
    expect(guess(col('OPN_NO', 'integer'), [980314, 1240502]).conversion).toBe('integer');
    expect(guess(col('OPN_TM', 'integer'), [91500, 235959]).conversion).toBe('hhmmss');
  });

  it('reads Y/N as a flag, blanks as null, countries as a pattern, and marks personal columns sensitive', () => {
    expect(guess(col('ACTIVE_IND', 'char', { length: 1 }), ['Y', 'N ', 'y']).schema).toEqual({ type: 'boolean' });
    expect(guess(col('NOTE', 'char', { length: 1 }), ['Y', 'X']).conversion).toBe('text');
    const phone = guess(col('TEL_NO', 'varchar', { length: 20 }), ['0123', '   ']);
    expect(phone).toMatchObject({ conversion: 'text', blankAsNull: true, schema: { type: ['string', 'null'], 'x-ficus-sensitive': true } });
    expect(guess(col('CTRY_CD', 'char', { length: 2 }), ['GB', 'DE']).schema).toEqual({ type: 'string', pattern: '^[A-Z]{2}$' });
  });

  it('makes an enum of a code column: named by the code table family that holds its values, else the codes themselves', () => {
    const c = col('ORD_STAT', 'char', { length: 1 });
    const base = guess(c, ['O', 'X', 'O']);
    expect(maybeCode(base, c, ['O', 'X'], false)).toBe(true);
    const distinct = {
      values: [
        { value: 'O', count: 40 },
        { value: 'X', count: 3 },
      ],
      more: false,
    };
    const families = [
      { table: 'CODES', family: 'PAYTERM', familyColumn: 'TYP', codes: new Map([['O', 'OPEN ACCOUNT']]) },
      {
        table: 'CODES',
        family: 'ORDSTAT',
        familyColumn: 'TYP',
        codes: new Map([
          ['O', 'OPEN'],
          ['X', 'CANCELLED'],
          ['S', 'SHIPPED'],
        ]),
      },
    ];
    const named = guessEnum(base, distinct, families)!;
    expect(named.values).toEqual({ O: 'open', X: 'cancelled', S: 'shipped' });
    expect(named.schema).toEqual({ type: 'string', enum: ['open', 'cancelled', 'shipped'] });
    expect(named.why).toContain("CODES TYP = 'ORDSTAT'");
    const bare = guessEnum(base, distinct, [])!;
    expect(bare.values).toEqual({ O: 'O', X: 'X' });
    expect(bare.why).toContain('no code table explains them');
    // Too many distinct values: not a code.
    expect(guessEnum(base, { ...distinct, more: true }, families)).toBeUndefined();
  });
});
