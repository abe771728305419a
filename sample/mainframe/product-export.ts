/**
 * The sample mainframe's nightly product export (PRDEXP01): the catalogue as an EBCDIC (cp037)
 * record file with COMP-3 prices, written under a temporary name and renamed when complete, as
 * `exports/PRODUCTS.D<yyyymmdd>.T<hhmmss>.N<seq>.DAT`. Older exports beyond `keep` are deleted.
 */
import { mkdirSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRecordFileSpec, type RecordFileSpec } from '../../src/records/layout-file.ts';
import { encodeRecordFile } from '../../src/records/record-file.ts';
import type { CatalogueProduct } from './catalogue.ts';

export const MAINFRAME_LAYOUTS = new URL('../../adapters/mainframe-files/layouts/', import.meta.url).pathname;

const STATUS_CODES = { active: 'active', discontinued: 'discontinued', backorder: 'backorder' } as const;

let seq = 0;

export function productExportSpec(): RecordFileSpec {
  return loadRecordFileSpec(join(MAINFRAME_LAYOUTS, 'products.yaml'));
}

/** The export file's bytes for these products at `at`. */
export function encodeProductExport(products: readonly CatalogueProduct[], at: Date, sequence: number, spec = productExportSpec()): Buffer {
  const date = at.toISOString().slice(0, 10);
  const time = Number(at.toISOString().slice(11, 19).replace(/:/g, ''));
  return encodeRecordFile(spec, [
    { type: 'header', value: { phExtractDate: date, phExtractTime: time, phExtractSeq: sequence, phSystemId: 'PRDEXP01' } },
    ...products.map((p) => ({
      type: 'detail',
      value: {
        prSku: p.sku,
        prDescription: p.description,
        prUnitPrice: p.unitPrice,
        prCurrency: p.currency,
        prStockQty: p.stockQuantity,
        prStatus: STATUS_CODES[p.status],
        prLastChanged: p.lastChangedOn,
      },
    })),
    { type: 'trailer', value: {} },
  ]).bytes;
}

export function exportFileName(at: Date, sequence: number): string {
  const iso = at.toISOString();
  return `PRODUCTS.D${iso.slice(0, 10).replace(/-/g, '')}.T${iso.slice(11, 19).replace(/:/g, '')}.N${String(sequence).padStart(5, '0')}.DAT`;
}

/** Writes one export into `<root>/exports` (temporary name, then renamed); returns its file name. */
export function writeProductExport(root: string, products: readonly CatalogueProduct[], opts: { at?: Date; keep?: number } = {}): string {
  const dir = join(root, 'exports');
  mkdirSync(dir, { recursive: true });
  const at = opts.at ?? new Date();
  seq++;
  const name = exportFileName(at, seq);
  writeFileSync(join(dir, `${name}.part`), encodeProductExport(products, at, seq));
  renameSync(join(dir, `${name}.part`), join(dir, name));
  const keep = opts.keep ?? 3;
  const all = readdirSync(dir)
    .filter((f) => /^PRODUCTS\..*\.DAT$/.test(f))
    .sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) unlinkSync(join(dir, old));
  return name;
}
