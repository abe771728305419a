/**
 * The sample customers (sample/data/customers.ts, the same people the modern customers service
 * holds) in the legacy CRM's forms: blank-padded CHAR values, CYYMMDD and YYYYMMDD integer dates,
 * HHMMSS times, Y/N flags, credit limits in cents, status codes from the code table.
 */
import { sampleCustomers, type SampleCustomer } from '../data/customers.ts';

export const CUSTMAST_COLUMNS = [
  'CUST_NO',
  'CUST_NM',
  'EMAIL_ADDR',
  'STAT_CD',
  'VIP_FLG',
  'CR_LMT',
  'CRT_DT',
  'ADDR_LINE1',
  'ADDR_LINE2',
  'ADDR_LINE3',
  'CITY_NM',
  'POST_CD',
  'CNTRY_CD',
  'LAST_UPD_DT',
  'LAST_UPD_TM',
] as const;
export type LegacyCustomerRow = Record<(typeof CUSTMAST_COLUMNS)[number], string | number>;

/** The code table: customer statuses (CUSTSTAT) plus a few other families, as legacy tables have. */
export const CODE_ROWS: { CD_TYP: string; CD_VAL: string; CD_DESC: string }[] = [
  { CD_TYP: 'CUSTSTAT', CD_VAL: 'A ', CD_DESC: 'ACTIVE' },
  { CD_TYP: 'CUSTSTAT', CD_VAL: 'S ', CD_DESC: 'SUSPENDED' },
  { CD_TYP: 'CUSTSTAT', CD_VAL: 'C ', CD_DESC: 'CLOSED' },
  { CD_TYP: 'PAYTERM ', CD_VAL: '30', CD_DESC: 'NET 30 DAYS' },
  { CD_TYP: 'PAYTERM ', CD_VAL: '60', CD_DESC: 'NET 60 DAYS' },
].map((r) => ({ ...r, CD_DESC: r.CD_DESC.padEnd(20) }));

const STATUS_CODE: Record<SampleCustomer['status'], string> = { active: 'A ', suspended: 'S ', closed: 'C ' };

function char(value: string, width: number, column: string, id: number): string {
  if (value.length > width) throw new Error(`customer ${id}: ${column} "${value}" is longer than CHAR(${width})`);
  return value.padEnd(width, ' ');
}

export function toLegacyRow(c: SampleCustomer): LegacyCustomerRow {
  const [y, m, d] = c.createdOn.split('-').map(Number);
  const updated = new Date(c.updatedAt);
  const lines = [...c.address.lines, '', '', ''];
  return {
    CUST_NO: c.id,
    CUST_NM: char(c.name, 40, 'CUST_NM', c.id),
    EMAIL_ADDR: char(c.email ?? '', 60, 'EMAIL_ADDR', c.id),
    STAT_CD: STATUS_CODE[c.status],
    VIP_FLG: c.vip ? 'Y' : 'N',
    CR_LMT: Math.round(c.creditLimit * 100),
    CRT_DT: Math.floor((y - 1900) / 100) * 1000000 + (y % 100) * 10000 + m * 100 + d,
    ADDR_LINE1: char(lines[0], 35, 'ADDR_LINE1', c.id),
    ADDR_LINE2: char(lines[1], 35, 'ADDR_LINE2', c.id),
    ADDR_LINE3: char(lines[2], 35, 'ADDR_LINE3', c.id),
    CITY_NM: char(c.address.city, 25, 'CITY_NM', c.id),
    POST_CD: char(c.address.postalCode, 10, 'POST_CD', c.id),
    CNTRY_CD: char(c.address.country, 2, 'CNTRY_CD', c.id),
    LAST_UPD_DT: updated.getUTCFullYear() * 10000 + (updated.getUTCMonth() + 1) * 100 + updated.getUTCDate(),
    LAST_UPD_TM: updated.getUTCHours() * 10000 + updated.getUTCMinutes() * 100 + updated.getUTCSeconds(),
  };
}

export function legacyCustomerRows(count?: number): LegacyCustomerRow[] {
  return sampleCustomers(count).map(toLegacyRow);
}
