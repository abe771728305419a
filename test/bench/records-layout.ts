/**
 * The record the records benchmarks decode: 200 bytes of EBCDIC (cp037), 20 fields, with packed
 * (COMP-3), zoned and binary numbers, dates and text, and a generator of realistic values.
 */
import { recordFileSpec, type RecordFileSpec } from '../../src/records/layout-file.ts';

export const BENCH_LAYOUT = {
  name: 'customer-extract',
  encoding: 'cp037',
  delimiter: 'none',
  fields: [
    { name: 'recType', pic: 'X' },
    { name: 'custId', pic: '9(10)' },
    { name: 'name', pic: 'X(30)' },
    { name: 'street', pic: 'X(30)' },
    { name: 'city', pic: 'X(20)' },
    { name: 'postcode', pic: 'X(10)' },
    { name: 'country', pic: 'XX' },
    { name: 'balance', pic: 'S9(11)V99', usage: 'comp-3' },
    { name: 'creditLimit', pic: 'S9(9)V99', usage: 'comp-3' },
    { name: 'ytdSales', pic: 'S9(11)V99', usage: 'comp-3' },
    { name: 'orderCount', pic: '9(7)', usage: 'comp-3' },
    { name: 'lastOrderOn', pic: '9(8)', date: 'YYYYMMDD' },
    { name: 'discountPct', pic: 'S9(3)V99' },
    { name: 'status', pic: 'X', values: { active: 'A', dormant: 'D', closed: 'C' } },
    { name: 'region', pic: '9(4)', usage: 'comp' },
    { name: 'openedOn', pic: '9(7)', usage: 'comp-3', date: 'CYYMMDD' },
    { name: 'riskScore', pic: 'S9(5)' },
    { name: 'currency', pic: 'XXX' },
    { name: 'phone', pic: 'X(16)' },
    { name: 'notes', pic: 'X(29)' },
  ],
};

export function benchSpec(): RecordFileSpec {
  return recordFileSpec(BENCH_LAYOUT, 'bench layout', process.cwd());
}

const CITIES = ['LEIPZIG', 'LYON', 'PORTO', 'GENOVA', 'BRNO', 'TURKU', 'CORK', 'GENT'];

export function benchRecord(i: number): Record<string, unknown> {
  return {
    recType: 'C',
    custId: 1_000_000 + i,
    name: `CUSTOMER NUMBER ${i}`,
    street: `${(i % 200) + 1} MAIN STREET`,
    city: CITIES[i % CITIES.length],
    postcode: String(10000 + (i % 89999)),
    country: 'DE',
    balance: ((i * 7919) % 10_000_000) / 100 - 20_000,
    creditLimit: 5000 + (i % 100) * 100,
    ytdSales: ((i * 104729) % 100_000_000) / 100,
    orderCount: i % 9999,
    lastOrderOn: `2026-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`,
    discountPct: (i % 2000) / 100 - 5,
    status: ['active', 'dormant', 'closed'][i % 3],
    region: i % 9000,
    openedOn: `19${String(70 + (i % 30))}-01-15`,
    riskScore: (i % 20000) - 10000,
    currency: 'EUR',
    phone: `+49 341 ${String(i % 10_000_000).padStart(7, '0')}`,
    notes: i % 5 === 0 ? 'PREFERRED' : '',
  };
}
