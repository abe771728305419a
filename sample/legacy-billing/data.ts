/**
 * The legacy billing system's seeded data: accounts A000001… with their invoices. Deterministic
 * (a fixed seed), so that tests and benchmarks can name an account and know what its screens show.
 */
export type AccountStatus = 'Open' | 'Overdue' | 'Closed';
export type InvoiceStatus = 'Paid' | 'Open' | 'Overdue';

export interface LegacyAddress {
  line1: string;
  line2: string;
  city: string;
  postalCode: string;
}

export interface LegacyInvoice {
  invoiceNo: string;
  /** ISO dates; the screens show them as DD.MM.YYYY. */
  issuedOn: string;
  dueOn: string;
  /** In cents. */
  amountCents: number;
  status: InvoiceStatus;
}

export interface LegacyAccount {
  accountNo: string;
  holder: string;
  status: AccountStatus;
  /** In cents. */
  balanceCents: number;
  currency: string;
  address: LegacyAddress;
  lastPaymentOn: string | null;
  invoices: LegacyInvoice[];
}

export const ACCOUNT_COUNT = 240;

/** mulberry32: a small, good-enough seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ['Hansen', 'Berger', 'Okafor', 'Lindqvist', 'Moreau', 'Novak', 'Keller', 'Rossi', 'Tanaka', 'Haddad', 'Schmidt', 'Dubois', 'Ivanova', 'Costa', 'Brennan', 'Hansson'];
const SUFFIXES = ['Trading', 'Bakery', 'Logistics', 'Dental', 'Print', 'Garden Supply', 'Motors', 'Textiles', 'Consulting', 'Foods'];
const STREETS = ['Mill Lane', 'Station Road', 'Harbour Street', 'Church Walk', 'Kingsway', 'Elm Grove', 'Market Square', 'Bridge End'];
const CITIES: [string, string][] = [
  ['Aarhus', '8000'],
  ['Bergen', '5003'],
  ['Leeds', 'LS1 4AP'],
  ['Lyon', '69002'],
  ['Graz', '8010'],
  ['Porto', '4000-123'],
  ['Gdansk', '80-001'],
  ['Utrecht', '3511 AB'],
];
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'GBP', 'CHF', 'DKK'];

function isoDay(base: Date, days: number): string {
  const d = new Date(base.getTime() + days * 86_400_000);
  return d.toISOString().slice(0, 10);
}

export function accountNo(n: number): string {
  return `A${String(n).padStart(6, '0')}`;
}

/** A fresh copy of the seeded accounts (the app changes addresses in its own copy). */
export function seedAccounts(): LegacyAccount[] {
  const rnd = prng(20261125);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const start = new Date(Date.UTC(2025, 0, 1));
  const out: LegacyAccount[] = [];
  for (let n = 1; n <= ACCOUNT_COUNT; n++) {
    const no = accountNo(n);
    const [city, postalCode] = pick(CITIES);
    const invoiceCount = n === 1 ? 12 : Math.floor(rnd() * 18);
    const invoices: LegacyInvoice[] = [];
    for (let i = 0; i < invoiceCount; i++) {
      const issuedOn = isoDay(start, i * 30 + Math.floor(rnd() * 5));
      const age = invoiceCount - i;
      const status: InvoiceStatus = age > 3 ? 'Paid' : rnd() < 0.5 ? 'Open' : rnd() < 0.5 ? 'Overdue' : 'Paid';
      invoices.push({
        invoiceNo: `INV-${no.slice(1)}-${String(i + 1).padStart(3, '0')}`,
        issuedOn,
        dueOn: isoDay(new Date(`${issuedOn}T00:00:00Z`), 30),
        amountCents: 1_000 + Math.floor(rnd() * 250_000),
        status,
      });
    }
    const status: AccountStatus = n % 17 === 0 ? 'Closed' : invoices.some((i) => i.status === 'Overdue') ? 'Overdue' : 'Open';
    const balanceCents = invoices.filter((i) => i.status !== 'Paid').reduce((s, i) => s + i.amountCents, 0);
    const paid = invoices.filter((i) => i.status === 'Paid');
    out.push({
      accountNo: no,
      holder: `${pick(NAMES)} ${pick(SUFFIXES)}`,
      status,
      balanceCents,
      currency: pick(CURRENCIES),
      address: { line1: `${1 + Math.floor(rnd() * 180)} ${pick(STREETS)}`, line2: rnd() < 0.3 ? `Unit ${1 + Math.floor(rnd() * 40)}` : '', city, postalCode },
      lastPaymentOn: paid.length > 0 ? isoDay(new Date(`${paid[paid.length - 1].dueOn}T00:00:00Z`), -Math.floor(rnd() * 10)) : null,
      invoices,
    });
  }
  return out;
}

/** DD.MM.YYYY, as the legacy screens show dates. */
export function legacyDate(iso: string): string {
  const [y, m, d] = iso.split('-');
  return `${d}.${m}.${y}`;
}

/** 1,234.56, as the legacy screens show money. */
export function legacyMoney(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const whole = Math.floor(abs / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}${whole}.${String(abs % 100).padStart(2, '0')}`;
}
