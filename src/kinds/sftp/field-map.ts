/**
 * The mapping between contract fields and record fields of a binding, both ways:
 *
 * ```yaml
 * map:
 *   sku: prSku                                  # contract field: record field (dotted path for groups)
 *   status: { field: prStatus, values: { A: active } }   # raw record value → contract value
 *   lines: { field: orLine, items: { sku: orSku, quantity: orQuantity } }   # an array ↔ an OCCURS table
 * ```
 */
import { z } from 'zod';

export type FieldMap = Record<string, string | MapEntry>;
export interface MapEntry {
  field: string;
  values?: Record<string, string | number | boolean>;
  items?: FieldMap;
}

export const fieldMapSchema: z.ZodType<FieldMap> = z.lazy(() =>
  z.record(
    z.string(),
    z.union([z.string(), z.object({ field: z.string(), values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(), items: fieldMapSchema.optional() }).strict()]),
  ),
);

type Obj = Record<string, unknown>;

function get(obj: unknown, path: string): unknown {
  let v: unknown = obj;
  for (const p of path.split('.')) {
    if (!v || typeof v !== 'object') return undefined;
    v = (v as Obj)[p];
  }
  return v;
}

function set(obj: Obj, path: string, value: unknown): void {
  const parts = path.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) {
    if (!o[p] || typeof o[p] !== 'object') o[p] = {};
    o = o[p] as Obj;
  }
  o[parts[parts.length - 1]] = value;
}

/** Record → contract object. Null and empty record values leave the contract field out. */
export function toContract(record: unknown, map: FieldMap): Obj {
  const out: Obj = {};
  for (const [key, spec] of Object.entries(map)) {
    const entry: MapEntry = typeof spec === 'string' ? { field: spec } : spec;
    let v = get(record, entry.field);
    if (entry.items) {
      v = Array.isArray(v) ? v.map((item) => toContract(item, entry.items!)) : [];
    } else if (entry.values && (typeof v === 'string' || typeof v === 'number')) {
      v = entry.values[String(v)] ?? v;
    }
    if (v === null || v === undefined || v === '') continue;
    out[key] = v;
  }
  return out;
}

/** Contract object → record value (for encoding). */
export function toRecord(obj: unknown, map: FieldMap): Obj {
  const out: Obj = {};
  for (const [key, spec] of Object.entries(map)) {
    const entry: MapEntry = typeof spec === 'string' ? { field: spec } : spec;
    let v = get(obj, key);
    if (v === undefined) continue;
    if (entry.items) {
      v = Array.isArray(v) ? v.map((item) => toRecord(item, entry.items!)) : v;
    } else if (entry.values) {
      const back = Object.entries(entry.values).find(([, c]) => c === v);
      if (back) v = back[0];
    }
    set(out, entry.field, v);
  }
  return out;
}

/** Every record field a map names (top-level part of each path), for checking a binding against its layout. */
export function mappedFields(map: FieldMap): string[] {
  return Object.values(map).map((s) => (typeof s === 'string' ? s : s.field).split('.')[0]);
}
