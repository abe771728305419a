/**
 * How a binding maps what a flow returns onto the contract's response. The `output` template has
 * the response's shape; each leaf says where its value comes from in the flow's result:
 *
 *   name: holder                                   # a field of the flow's result (dots for nesting)
 *   balance: { from: balance, as: number }         # converted: number, integer, boolean, date, string
 *   lastPaymentOn: { from: lastPayment, as: date, format: DD.MM.YYYY, nullWhen: ['(none)'] }
 *   status: { from: status, values: { OPEN: open, OVERDUE: overdue } }   # the screen's words → the contract's
 *   line2: { from: line2, omitWhen: [''] }        # left out of the response when the screen shows that
 *   items: { each: invoices, map: { ... } }        # one element per row
 *   source: { const: billing }                     # a fixed value
 *
 * Paths are checked against the flow's declared output at start-up.
 */
import { z } from 'zod';

const conversion = z.enum(['string', 'number', 'integer', 'boolean', 'date']);

export interface FieldRule {
  from: string;
  as?: z.infer<typeof conversion>;
  /** For dates: the screen's format, with DD, MM and YYYY (default YYYY-MM-DD). */
  format?: string;
  values?: Record<string, unknown>;
  nullWhen?: string[];
  omitWhen?: string[];
}
export type Template = string | FieldRule | { each: string; map: Template } | { const: unknown } | { [key: string]: Template };

const fieldRule = z
  .object({
    from: z.string().min(1),
    as: conversion.optional(),
    format: z
      .string()
      .regex(/^(?=.*DD)(?=.*MM)(?=.*YYYY)/, 'a date format with DD, MM and YYYY, e.g. DD.MM.YYYY')
      .optional(),
    values: z.record(z.string(), z.unknown()).optional(),
    nullWhen: z.array(z.string()).optional(),
    omitWhen: z.array(z.string()).optional(),
  })
  .strict();

export const templateSchema: z.ZodType<Template> = z.lazy(() =>
  z.union([z.string().min(1), fieldRule, z.object({ each: z.string().min(1), map: templateSchema }).strict(), z.object({ const: z.unknown() }).strict(), z.record(z.string(), templateSchema)]),
) as z.ZodType<Template>;

/** A value on the screen that cannot become what the contract wants. */
export class MappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingError';
  }
}

const OMIT = Symbol('omit');

function isRule(t: object): t is FieldRule {
  return 'from' in t && typeof (t as { from: unknown }).from === 'string';
}

function get(data: unknown, path: string): unknown {
  let v: unknown = data;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function toDate(text: string, format: string, where: string): string {
  const pattern = format
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace('DD', '(?<d>\\d{1,2})')
    .replace('MM', '(?<m>\\d{1,2})')
    .replace('YYYY', '(?<y>\\d{4})');
  const m = new RegExp(`^${pattern}$`).exec(text.trim());
  const g = m?.groups;
  if (!g) throw new MappingError(`${where}: "${text}" is not a date in the form ${format}`);
  const iso = `${g.y}-${g.m.padStart(2, '0')}-${g.d.padStart(2, '0')}`;
  const d = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== iso) throw new MappingError(`${where}: "${text}" is not a real date`);
  return iso;
}

function convert(value: unknown, rule: FieldRule, where: string): unknown {
  if (value === undefined || value === null || rule.as === undefined) return value;
  const text = String(value).trim();
  switch (rule.as) {
    case 'string':
      return text;
    case 'number':
    case 'integer': {
      const cleaned = text.replace(/[,\s]/g, '').replace(/^(.*)-$/, '-$1');
      const n = Number(cleaned);
      if (cleaned === '' || !Number.isFinite(n)) throw new MappingError(`${where}: "${text}" is not a number`);
      if (rule.as === 'integer' && !Number.isInteger(n)) throw new MappingError(`${where}: "${text}" is not a whole number`);
      return n;
    }
    case 'boolean': {
      const t = text.toLowerCase();
      if (['y', 'yes', 'true', '1', 'x', 'on'].includes(t)) return true;
      if (['n', 'no', 'false', '0', '', 'off'].includes(t)) return false;
      throw new MappingError(`${where}: "${text}" is not yes or no`);
    }
    case 'date':
      return toDate(text, rule.format ?? 'YYYY-MM-DD', where);
  }
}

function apply(t: Template, data: unknown, where: string): unknown {
  if (typeof t === 'string') {
    const v = get(data, t);
    return v === undefined ? OMIT : v;
  }
  if (isRule(t)) {
    const raw = get(data, t.from);
    if (raw === undefined) return OMIT;
    const text = typeof raw === 'string' ? raw.trim() : undefined;
    if (text !== undefined && t.omitWhen?.includes(text)) return OMIT;
    if (text !== undefined && t.nullWhen?.includes(text)) return null;
    let v: unknown = raw;
    if (t.values) {
      const key = String(text ?? raw);
      if (!Object.hasOwn(t.values, key)) throw new MappingError(`${where}: the screen showed "${key}", which is none of ${Object.keys(t.values).join(', ')}`);
      v = t.values[key];
    }
    return convert(v, t, where);
  }
  if ('each' in t && 'map' in t) {
    const list = get(data, t.each as string);
    if (!Array.isArray(list)) throw new MappingError(`${where}: ${String(t.each)} is not a list`);
    return list.map((item, i) => apply(t.map as Template, item, `${where}[${i}]`));
  }
  if ('const' in t && Object.keys(t).length === 1) return (t as { const: unknown }).const;
  const out: Record<string, unknown> = {};
  for (const [k, sub] of Object.entries(t as Record<string, Template>)) {
    const v = apply(sub, data, where === '' ? k : `${where}.${k}`);
    if (v !== OMIT) out[k] = v;
  }
  return out;
}

/** Maps a flow's result onto the response body. */
export function applyTemplate(t: Template, data: unknown): unknown {
  const v = apply(t, data, '');
  return v === OMIT ? undefined : v;
}

function unwrap(s: z.ZodType): z.ZodType {
  let n = s;
  for (let i = 0; i < 10; i++) {
    if (n instanceof z.ZodOptional || n instanceof z.ZodNullable || n instanceof z.ZodDefault) n = n.unwrap() as z.ZodType;
    else if (n instanceof z.ZodPipe) n = n.in as z.ZodType;
    else break;
  }
  return n;
}

/** The schema of `path` inside a flow's output schema, or undefined when the flow returns no such field. */
function schemaAt(schema: z.ZodType, path: string): z.ZodType | undefined {
  let node: z.ZodType | undefined = schema;
  for (const part of path.split('.')) {
    const n = unwrap(node);
    if (!(n instanceof z.ZodObject)) return undefined;
    node = (n.shape as Record<string, z.ZodType>)[part];
    if (!node) return undefined;
  }
  return node;
}

function fieldsOf(schema: z.ZodType): string {
  const n = unwrap(schema);
  return n instanceof z.ZodObject ? Object.keys(n.shape as Record<string, unknown>).join(', ') : '(not an object)';
}

/** Checks every path of a template against the flow's output schema; returns [key, problem, fix] for each mistake. */
export function checkTemplate(t: Template, schema: z.ZodType, key = 'output'): [string, string, string][] {
  const issues: [string, string, string][] = [];
  const need = (path: string, at: string) => {
    if (!schemaAt(schema, path)) issues.push([at, `the flow returns no field "${path}"`, `use one of the flow's fields: ${fieldsOf(schema)}`]);
  };
  if (typeof t === 'string') need(t, key);
  else if (isRule(t)) need(t.from, `${key}.from`);
  else if ('each' in t && 'map' in t) {
    const list = schemaAt(schema, t.each as string);
    const n = list ? unwrap(list) : undefined;
    if (!n) need(t.each as string, `${key}.each`);
    else if (!(n instanceof z.ZodArray)) issues.push([`${key}.each`, `the flow's field "${String(t.each)}" is not a list`, 'name a list the flow returns']);
    else issues.push(...checkTemplate(t.map as Template, n.element as z.ZodType, `${key}.map`));
  } else if (!('const' in t && Object.keys(t).length === 1)) {
    for (const [k, sub] of Object.entries(t as Record<string, Template>)) issues.push(...checkTemplate(sub, schema, `${key}.${k}`));
  }
  return issues;
}
