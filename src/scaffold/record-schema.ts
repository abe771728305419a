/**
 * A record layout (src/records/layout.ts) → the JSON Schema of the records its codec decodes: one
 * property per named item (the codec's camelCase names; FILLER left out; text and dates optional,
 * as blank ones are left out of the sftp kind's answers), strings with their
 * length, numbers with their range and decimals, level-88 conditions as an enum of their names,
 * OCCURS as arrays (DEPENDING ON: minItems to maxItems), groups as objects, dates as `format: date`,
 * and REDEFINES decoded under a `when` rule as a `oneOf` of the original and its alternatives.
 *
 * Decimals are not given as `multipleOf: 0.01`: ajv checks it by floating-point division, which
 * refuses 0.07 (0.07 / 0.01 = 7.000000000000001); the description says how many there are.
 */
import type { FieldItem, Item, RecordLayout } from '../records/layout.ts';

export type JsonSchema = { [key: string]: unknown };

export interface SchemaOptions {
  /** OpenAPI 3.1 writes a nullable type as `type: [string, 'null']`; 3.0 as `nullable: true`. */
  openapi31: boolean;
}

/** Numbers of more digits than this decode as decimal strings (src/records/numbers.ts). */
const SAFE_DIGITS = 15;

function nines(n: number): string {
  return n > 0 ? '9'.repeat(n) : '0';
}

/** `PIC S9(7)V99 COMP-3`, as the copybook said it. */
function describePic(field: FieldItem): string {
  const usage = field.usage === 'display' ? '' : ` ${field.usage.toUpperCase()}`;
  return `${field.label} PIC ${field.pic.text}${usage}`;
}

function numberSchema(field: FieldItem): JsonSchema {
  const { pic, usage } = field;
  if (usage === 'comp-1' || usage === 'comp-2') return { type: 'number' };
  if (usage === 'pointer' || usage === 'index') return { type: 'integer', minimum: 0 };
  const digits = pic.length;
  const scale = pic.scale;
  const intDigits = Math.max(digits - Math.max(scale, 0), 0);
  if (digits > SAFE_DIGITS || digits - scale > SAFE_DIGITS) {
    // Decoded exactly, as a decimal string: '-1234567890123.45'.
    const int = scale < 0 ? `[0-9]{1,${digits - scale}}` : `[0-9]{1,${Math.max(intDigits, 1)}}`;
    const frac = scale > 0 ? `(\\.[0-9]{${scale}})?` : '';
    return { type: 'string', pattern: `^${pic.signed ? '-?' : ''}${int}${frac}$` };
  }
  if (scale > 0) {
    const max = Number(`${nines(intDigits)}.${'9'.repeat(scale)}`);
    return { type: 'number', minimum: pic.signed ? -max : 0, maximum: max };
  }
  if (usage === 'comp-5') {
    // Native binary: the whole of its bytes (as the layout sized it), whatever the PICTURE says.
    const bits = field.size * 8;
    if (bits <= 48) return pic.signed ? { type: 'integer', minimum: -(2 ** (bits - 1)), maximum: 2 ** (bits - 1) - 1 } : { type: 'integer', minimum: 0, maximum: 2 ** bits - 1 };
    return { type: 'integer' };
  }
  const factor = scale < 0 ? 10 ** -scale : 1;
  const max = Number(nines(digits)) * factor;
  return { type: 'integer', minimum: pic.signed ? -max : 0, maximum: max, ...(factor > 1 ? { multipleOf: factor } : {}) };
}

function fieldSchema(field: FieldItem, opts: SchemaOptions): JsonSchema {
  const description = describePic(field);
  if (field.conditions && field.conditions.length > 0) {
    const names = field.conditions.map((c) => c.name);
    const meaning = field.conditions.map((c) => `${c.name} = ${[...c.values, ...(c.hex ?? []).map((h) => `X'${h}'`)].map((v) => JSON.stringify(v)).join(' | ')}`).join(', ');
    return { type: 'string', enum: [...new Set(names)], description: `${description}; level 88: ${meaning}` };
  }
  if (field.date) {
    const nullable = opts.openapi31 ? { type: ['string', 'null'] } : { type: 'string', nullable: true };
    return { ...nullable, format: 'date', description: `${description}, a ${field.date.format} date (zeros: null)` };
  }
  if (field.pic.kind !== 'numeric') return { type: 'string', maxLength: field.pic.length, description };
  const schema = numberSchema(field);
  const decimals = field.pic.scale > 0 ? `, ${field.pic.scale} decimal${field.pic.scale > 1 ? 's' : ''}` : '';
  return { ...schema, description: `${description}${decimals}` };
}

function itemSchema(item: Item, opts: SchemaOptions): JsonSchema {
  const one = item.kind === 'field' ? fieldSchema(item, opts) : objectSchema(item.children, opts, `${item.label}`);
  if (!item.occurs) return one;
  const { min, max, dependingOn } = item.occurs;
  const { description, ...items } = one;
  const table = dependingOn ? `OCCURS ${min} TO ${max} TIMES DEPENDING ON ${dependingOn}` : `OCCURS ${max} TIMES`;
  return { description: `${typeof description === 'string' ? description : item.label}; ${table}`, type: 'array', minItems: dependingOn ? min : max, maxItems: max, items };
}

/** The `oneOf` of an item and its REDEFINES alternatives that have a `when` rule: exactly one of them is decoded. */
function alternativesOf(original: Item, alternatives: Item[]): JsonSchema {
  const branches: JsonSchema[] = alternatives.map((alt) => ({ required: [alt.name], properties: { [alt.when!.field]: { enum: [...alt.when!.equals] } } }));
  const byField = new Map<string, (string | number)[]>();
  for (const alt of alternatives) byField.set(alt.when!.field, [...(byField.get(alt.when!.field) ?? []), ...alt.when!.equals]);
  const none = [...byField].map(([field, values]) => ({ properties: { [field]: { not: { enum: values } } } }));
  const first: JsonSchema = original.name ? { required: [original.name] } : {};
  branches.unshift(none.length === 1 ? { ...first, ...none[0] } : { ...first, allOf: none });
  return { oneOf: branches };
}

/**
 * Text decodes blank as '' and a date of zeros as null, and the sftp kind's map leaves both out of
 * its answers (src/kinds/sftp/field-map.ts): such fields are optional; numbers, tables and groups
 * always have a value.
 */
function mayBeBlank(item: Item): boolean {
  return item.kind === 'field' && !item.occurs && (item.pic.kind !== 'numeric' || item.date !== undefined);
}

function objectSchema(items: readonly Item[], opts: SchemaOptions, label?: string): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  const choices: JsonSchema[] = [];
  for (const item of items) {
    if (item.redefines) {
      // Decoded only under a when rule (else the codec leaves it out): optional, and in its original's oneOf.
      if (item.when && item.name) properties[item.name] = itemSchema(item, opts);
      continue;
    }
    const alternatives = items.filter((a) => a.redefines && a.when && a.name && a.redefines.toUpperCase() === item.label.toUpperCase());
    if (item.name) {
      properties[item.name] = itemSchema(item, opts);
      if (alternatives.length === 0 && !mayBeBlank(item)) required.push(item.name);
    }
    if (alternatives.length > 0) choices.push(alternativesOf(item, alternatives));
  }
  const schema: JsonSchema = { ...(label ? { description: label } : {}), type: 'object', additionalProperties: false, required, properties };
  if (choices.length === 1) Object.assign(schema, choices[0]);
  else if (choices.length > 1) schema.allOf = choices;
  return schema;
}

/** The schema of one record type: `description` names its 01 level, copybook and length. */
export function recordSchema(layout: RecordLayout, opts: SchemaOptions, source: string): JsonSchema {
  const schema = objectSchema(layout.items, opts);
  const length = layout.minLength === layout.length ? `${layout.length} bytes` : `${layout.minLength} to ${layout.length} bytes`;
  return { description: `${source} (${length}); scaffolded by ficus scaffold copybook`, ...schema };
}

/** `PRODUCT-RECORD`, `productRecord` → `ProductRecord` (a schema name). */
export function schemaName(name: string): string {
  return name
    .split(/[-_\s]+/)
    .filter(Boolean)
    .map((p) => (/^[A-Z0-9]+$/.test(p) ? p[0] + p.slice(1).toLowerCase() : p[0].toUpperCase() + p.slice(1)))
    .join('');
}
