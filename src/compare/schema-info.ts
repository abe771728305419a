/**
 * What the comparator needs to know about one node of a (dereferenced) response schema: how to
 * normalise a value there, whether it is ignored, whether an array is a set, and the schemas of its
 * children. Worked out once per schema object and cached.
 */
import type { JsonSchema } from '../contract/contract.ts';

export interface SchemaInfo {
  /** `date-time`: compared as an instant; `date`: compared as YYYY-MM-DD. */
  format: 'date-time' | 'date' | undefined;
  /** The schema allows a number (and not a string): numeric strings are read as numbers. */
  numeric: boolean;
  /** `x-ficus-ignore: true`: never compared. */
  ignore: boolean;
  /** `x-ficus-unordered: true` on an array: compared as a multiset. */
  unordered: boolean;
  /** `x-ficus-sensitive: true`: redacted (keyed hash) in recordings. */
  sensitive: boolean;
  property(key: string): SchemaInfo | undefined;
  items(): SchemaInfo | undefined;
}

const cache = new WeakMap<object, SchemaInfo>();

function variants(schema: JsonSchema): JsonSchema[] {
  const out: JsonSchema[] = [schema];
  for (const k of ['allOf', 'oneOf', 'anyOf'] as const) {
    const v = schema[k];
    if (Array.isArray(v)) for (const s of v) if (s && typeof s === 'object') out.push(...variants(s as JsonSchema));
  }
  return out;
}

function typesOf(schemas: JsonSchema[]): Set<string> {
  const out = new Set<string>();
  for (const s of schemas) {
    const t = s.type;
    if (typeof t === 'string') out.add(t);
    else if (Array.isArray(t)) for (const x of t) if (typeof x === 'string') out.add(x);
  }
  return out;
}

export function schemaInfo(schema: JsonSchema | undefined): SchemaInfo | undefined {
  if (!schema || typeof schema !== 'object') return undefined;
  const hit = cache.get(schema);
  if (hit) return hit;
  const all = variants(schema);
  const types = typesOf(all);
  const formats = all.map((s) => s.format).filter((f): f is string => typeof f === 'string');
  const format = formats.includes('date-time') ? 'date-time' : formats.includes('date') ? 'date' : undefined;
  const props = new Map<string, JsonSchema>();
  let additional: JsonSchema | undefined;
  let items: JsonSchema | undefined;
  for (const s of all) {
    const p = s.properties;
    if (p && typeof p === 'object') for (const [k, v] of Object.entries(p as Record<string, unknown>)) if (!props.has(k) && v && typeof v === 'object') props.set(k, v as JsonSchema);
    if (!additional && s.additionalProperties && typeof s.additionalProperties === 'object') additional = s.additionalProperties as JsonSchema;
    if (!items && s.items && typeof s.items === 'object' && !Array.isArray(s.items)) items = s.items as JsonSchema;
  }
  const info: SchemaInfo = {
    format,
    numeric: (types.has('number') || types.has('integer')) && !types.has('string'),
    ignore: all.some((s) => s['x-ficus-ignore'] === true),
    unordered: all.some((s) => s['x-ficus-unordered'] === true),
    sensitive: all.some((s) => s['x-ficus-sensitive'] === true),
    property: (key) => schemaInfo(props.get(key) ?? additional),
    items: () => schemaInfo(items),
  };
  cache.set(schema, info);
  return info;
}
