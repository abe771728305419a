/**
 * The sample estate's customers, generated deterministically so that the legacy CRM database and the
 * modern customers service hold the same people (as they would midway through a migration).
 */
export interface SampleCustomer {
  id: number;
  name: string;
  email: string | null;
  status: 'active' | 'suspended' | 'closed';
  vip: boolean;
  creditLimit: number;
  createdOn: string;
  updatedAt: string;
  address: { lines: string[]; city: string; postalCode: string; country: string };
}

export const FIRST_CUSTOMER_ID = 1001;
export const SAMPLE_CUSTOMER_COUNT = 3000;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ['Harbour', 'Northgate', 'Elm', 'Copper', 'Riverside', 'Summit', 'Oak', 'Meridian', 'Granite', 'Willow', 'Beacon', 'Lantern', 'Falcon', 'Thistle', 'Anchor', 'Bramble'];
const SECOND = ['Street', 'Valley', 'Works', 'Mills', 'Foundry', 'Bakery', 'Motors', 'Textiles', 'Supplies', 'Garden', 'Press', 'Brewing', 'Timber', 'Electrical', 'Logistics', 'Hardware'];
const SUFFIX = ['Ltd', 'GmbH', 'SARL', 'BV', 'Inc', '& Sons', 'Co', 'plc'];
const STREETS = ['High Street', 'Station Road', 'Mill Lane', 'Church Road', 'Market Square', 'Park Avenue', 'Kingsway', 'Canal Side'];
const PLACES: { city: string; country: string; postal: (r: () => number) => string }[] = [
  { city: 'Bristol', country: 'GB', postal: (r) => `BS${1 + Math.floor(r() * 15)} ${Math.floor(r() * 9)}RB` },
  { city: 'Leeds', country: 'GB', postal: (r) => `LS${1 + Math.floor(r() * 20)} ${Math.floor(r() * 9)}AX` },
  { city: 'Hamburg', country: 'DE', postal: (r) => String(20000 + Math.floor(r() * 2000)) },
  { city: 'Lyon', country: 'FR', postal: (r) => String(69000 + Math.floor(r() * 9)) },
  { city: 'Utrecht', country: 'NL', postal: (r) => `35${10 + Math.floor(r() * 89)} AB` },
  { city: 'Boston', country: 'US', postal: (r) => `02${100 + Math.floor(r() * 800)}` },
];

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

export function sampleCustomers(count = SAMPLE_CUSTOMER_COUNT, seed = 20240501): SampleCustomer[] {
  const r = mulberry32(seed);
  const out: SampleCustomer[] = [];
  for (let i = 0; i < count; i++) {
    const id = FIRST_CUSTOMER_ID + i;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
    const name = `${pick(FIRST)} ${pick(SECOND)} ${pick(SUFFIX)}`;
    const place = pick(PLACES);
    const statusRoll = r();
    const status = statusRoll < 0.85 ? 'active' : statusRoll < 0.95 ? 'suspended' : 'closed';
    const created = new Date(Date.UTC(1990 + Math.floor(r() * 30), Math.floor(r() * 12), 1 + Math.floor(r() * 28)));
    const updated = new Date(Date.UTC(2020 + Math.floor(r() * 5), Math.floor(r() * 12), 1 + Math.floor(r() * 28), Math.floor(r() * 24), Math.floor(r() * 60), Math.floor(r() * 60)));
    const lines = [`${1 + Math.floor(r() * 200)} ${pick(STREETS)}`];
    if (r() < 0.3) lines.push(`Unit ${1 + Math.floor(r() * 40)}`);
    const slug = name
      .toLowerCase()
      .replace(/[^a-z]+/g, '-')
      .replace(/^-|-$/g, '');
    out.push({
      id,
      name,
      email: r() < 0.9 ? `accounts@${slug}.example` : null,
      status,
      vip: r() < 0.1,
      creditLimit: Math.round(r() * 400) * 50 + (r() < 0.2 ? 0.5 : 0),
      createdOn: `${created.getUTCFullYear()}-${pad(created.getUTCMonth() + 1)}-${pad(created.getUTCDate())}`,
      updatedAt: updated.toISOString().replace('.000Z', 'Z'),
      address: { lines, city: place.city, postalCode: place.postal(r), country: place.country },
    });
  }
  return out;
}
