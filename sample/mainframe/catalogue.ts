/** The sample mainframe's product master: what the nightly export writes and the batch job checks orders against. */
export interface CatalogueProduct {
  sku: string;
  description: string;
  unitPrice: number;
  currency: string;
  stockQuantity: number;
  status: 'active' | 'discontinued' | 'backorder';
  lastChangedOn: string;
}

const NAMES = [
  'Hammer, claw, 16 oz',
  'Screwdriver set, 6 pc',
  'Pliers, long nose',
  'Tape measure, 5 m',
  'Spirit level, 60 cm',
  'Utility knife',
  'Hex key set, metric',
  'Socket wrench, 1/2"',
  'Wood chisel, 20 mm',
  'Hand saw, 500 mm',
  'Cordless drill 18 V',
  'Drill bits, HSS, 19 pc',
  'Sanding sheets, P120',
  'Wood glue, 750 g',
  'Wall plugs, 6 mm, 100',
  'Wood screws 4x40, 200',
  'Safety glasses',
  'Work gloves, size 9',
  'Ear defenders',
  'Step ladder, 3 steps',
  'Extension cord, 10 m',
  'Torch, LED',
  'Batteries AA, 8',
  'Cable ties, 200 mm, 100',
  'Duct tape, 50 m',
  'Paint brush, 50 mm',
  'Paint roller set',
  'Masking tape, 25 mm',
  'Filler, interior, 1 kg',
  'Caulk gun',
];

function pad(n: number): string {
  return String(n).padStart(4, '0');
}

/** A deterministic catalogue of `count` products, SKUs HW-1040 upwards (HW-1042 is the contract's example). */
export function sampleCatalogue(count = NAMES.length): CatalogueProduct[] {
  return Array.from({ length: count }, (_v, i) => ({
    sku: `HW-${pad(1040 + i)}`,
    description: NAMES[i % NAMES.length] + (i >= NAMES.length ? ` (${Math.floor(i / NAMES.length) + 1})` : ''),
    unitPrice: Math.round((3.5 + ((i * 7919) % 24_000) / 100) * 100) / 100,
    currency: 'EUR',
    stockQuantity: (i * 37) % 500,
    status: i % 11 === 5 ? 'discontinued' : i % 7 === 3 ? 'backorder' : 'active',
    lastChangedOn: new Date(Date.UTC(2025, i % 12, 1 + (i % 28))).toISOString().slice(0, 10),
  }));
}
